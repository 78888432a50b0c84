"""The working-set solver against independent truth: CVXPY + Clarabel on the same program,
cone supports by scipy's NNLS (convexnn.duality.cones), and weak duality.

Small problems only; speed is asserted in ``benchmarks/``, never here.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from problems import (
    CASES,
    check_objective,
    check_primal_feasibility,
    check_weak_duality,
    references,
)
from problems import data as _data
from problems import program as _program

import convexnn
from convexnn.core.patterns import add_bias_column, sample_patterns
from convexnn.exceptions import ConvergenceWarning, PatternBudgetError
from convexnn.solvers import SOLVERS, MemoryBudgetError, WorkingSetSolver, choose_solver
from convexnn.two_layer.program import TwoLayerProgram

RTOL = 1e-6  # agreement with Clarabel's optimum (its own accuracy is ~1e-8 here)
REFERENCES = references()


@pytest.mark.parametrize("solver", ["working_set", "clarabel"])
@pytest.mark.parametrize("ref", REFERENCES, ids=[r.name for r in REFERENCES])
def test_reaches_the_known_optimum(ref, solver):
    """Reference problems with independently known optima (tests/problems.py)."""
    sol = SOLVERS[solver](ref.program, tol=1e-8)
    assert sol.status == "optimal", sol.solver_status
    check_objective(ref.program, sol, ref.p_star, ref.rtol)
    # Clarabel's iterates are interior to its own accuracy (~1e-8), ours exactly feasible
    check_primal_feasibility(ref.program, sol, 1e-9 if solver == "working_set" else 1e-7)
    check_weak_duality(sol, ref.p_star)


@pytest.mark.parametrize("model,loss,bias,skip,output_bias", CASES)
def test_reaches_the_clarabel_optimum(model, loss, bias, skip, output_bias):
    prog = _program(model, loss, bias, skip, output_bias)
    ref = SOLVERS["clarabel"](prog, tol=1e-9)
    p_ref = prog.objective(ref)
    sol = SOLVERS["working_set"](prog, tol=1e-7)
    p = prog.objective(sol)
    scale = max(1.0, abs(p_ref))
    assert sol.status == "optimal", sol.solver_status
    assert abs(p - p_ref) <= RTOL * scale
    # weak duality: the certified bound is below Clarabel's optimum, which is below ours
    assert sol.dual_bound <= p_ref + 1e-8 * scale
    assert p_ref <= p + 1e-8 * scale
    assert sol.info["gap"] == pytest.approx(p - sol.dual_bound, abs=1e-12 * scale)
    assert sol.info["rel_gap"] <= 1e-7
    assert prog.constraint_violation(sol) <= 1e-9


@pytest.mark.parametrize("bias", ["none", "free"])
def test_recomputed_certificate(bias):
    """The dual bound recomputed by hand (THEORY A.7): lambda = y - yhat, projected on
    the free terms, s from scipy's NNLS cone supports, LB = -l*(-lambda min(1, beta/s))."""
    from convexnn.duality.cones import cone_support

    prog = _program("relu", "squared", bias, False, True)
    sol = SOLVERS["working_set"](prog, tol=1e-8)
    lam = prog.y - prog.predict(sol)
    F = prog.free_basis
    lam = lam - F @ np.linalg.lstsq(F, lam, rcond=None)[0]
    free = None
    if bias == "free":
        free = np.zeros(prog.Xt.shape[1], bool)
        free[-1] = True
    s = 0.0
    for i in range(prog.n_patterns):
        A = (2.0 * prog.D[:, i] - 1.0)[:, None] * prog.Xt
        c = prog.Xt.T @ (prog.D[:, i] * lam)
        for sign in (1.0, -1.0):
            upper, lower, _ = cone_support(A, sign * c, free=free)
            if np.isfinite(upper):
                s = max(s, upper)
    lb = -prog.loss.conjugate(-lam * min(1.0, prog.beta / s), prog.y)
    assert s == pytest.approx(prog.beta, rel=1e-5)
    assert sol.dual_bound == pytest.approx(lb, rel=1e-7, abs=1e-9)


def test_block_working_set_grows_to_the_optimum():
    """Starting from 4 blocks, rounds add the blocks whose dual constraint fails."""
    prog = _program("relu", "squared", "regularized", False, False, n=40, d=3, gates=30, beta=0.05)
    ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    sol = WorkingSetSolver(tol=1e-7, initial_blocks=4).solve(prog)
    assert sol.status == "optimal"
    assert sol.info["rounds"] > 1
    assert prog.objective(sol) == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_warm_started_rounds_reach_the_optimum(loss):
    """Grown working sets start from the last iterate (kept blocks keep theirs, new ones
    start at zero); cold and warm starts reach Clarabel's optimum, certified."""
    prog = _program("relu", loss, "regularized", False, True, n=40, d=3, gates=30, beta=0.05)
    ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    for warm in (True, False):
        sol = WorkingSetSolver(tol=1e-7, initial_blocks=4, warm_start=warm).solve(prog)
        assert sol.status == "optimal", (warm, sol.solver_status)
        assert sol.info["rounds"] > 1
        assert abs(prog.objective(sol) - ref) <= RTOL * max(1.0, abs(ref))
        assert sol.dual_bound <= ref + 1e-8 * max(1.0, abs(ref))


@pytest.mark.parametrize("model", ["relu", "gated"])
def test_unpolished_solve_stops_at_the_certified_gap(model):
    """polish=False stops at the first point certified within tol: its certified gap is
    at most tol, and Clarabel's optimum lies between the bound and the objective."""
    prog = _program(model, "squared", "regularized", False, False, n=40, d=3, gates=20, beta=0.05)
    ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    tol = 1e-5
    fast = WorkingSetSolver(tol=tol, polish=False).solve(prog)
    slow = WorkingSetSolver(tol=tol).solve(prog)
    assert fast.status == slow.status == "optimal"
    p = prog.objective(fast)
    assert fast.info["rel_gap"] <= tol
    assert fast.dual_bound - 1e-9 <= ref <= p + 1e-9
    assert (p - ref) / max(1.0, abs(ref)) <= tol
    assert fast.iterations <= slow.iterations
    assert slow.info["rel_gap"] <= tol


def test_idle_blocks_leave_before_the_final_solve():
    """A set that stops growing with many zero, dual-slack blocks drops them and solves
    the support alone; the answer is still the optimum, certified over every block."""
    prog = _program("relu", "squared", "regularized", False, False, n=40, d=3, gates=30, beta=2.0)
    ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    sol = WorkingSetSolver(tol=1e-7, initial_blocks=40).solve(prog)
    assert sol.status == "optimal"
    assert any(h["dropped_blocks"] for h in sol.info["history"])
    assert sol.info["blocks"] < 40
    assert prog.objective(sol) == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("separate_add", [0, 2])
def test_rows_added_when_the_initial_rows_miss_facets(separate_add):
    """With one initial row per block the iterates violate cone rows; they are added
    (between rounds, or during the interior-point method) and the final point is
    feasible for every row."""
    prog = _program("relu", "squared", "regularized", False, False, n=40, d=3, gates=20, beta=0.05)
    ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    sol = WorkingSetSolver(tol=1e-7, initial_rows=1, separate_add=separate_add).solve(prog)
    assert sol.status == "optimal"
    key = "ipm_added_rows" if separate_add else "added_rows"
    assert any(h[key] for h in sol.info["history"])
    if not separate_add:
        assert not any(h["ipm_added_rows"] for h in sol.info["history"])
    assert prog.constraint_violation(sol) <= 1e-9
    assert prog.objective(sol) == pytest.approx(ref, rel=RTOL)


def test_iteration_limit_is_reported():
    prog = _program("relu", "squared", "regularized", False, False)
    sol = SOLVERS["working_set"](prog, max_iter=2)
    assert sol.status == "iteration_limit"
    assert sol.iterations <= 2
    assert sol.dual_bound <= prog.objective(sol)  # still a valid (loose) certificate


def test_fit_warns_at_the_iteration_limit():
    X, y, _ = _data()
    with pytest.warns(ConvergenceWarning):
        res = convexnn.fit(X, y, beta=0.3, patterns=10, seed=1, solver="working_set", max_iter=2, bias="none")
    assert res.status == "iteration_limit"


def test_auto_falls_back_to_clarabel():
    prog = _program("relu", "logistic", "regularized", True, False)
    ref = prog.objective(SOLVERS["clarabel"](prog))
    sol = SOLVERS["auto"](prog, max_iter=1)  # too few iterations to certify
    assert sol.solver == "clarabel"
    assert sol.info["fallback"]["from"] == "working_set"
    assert sol.info["fallback"]["status"] == "iteration_limit"
    assert sol.status == "optimal"
    assert prog.objective(sol) == pytest.approx(ref, rel=1e-7)


def test_auto_uses_the_working_set_solver():
    prog = _program("gated", "squared", "none", False, False)
    assert choose_solver("auto", prog) == "working_set"
    assert choose_solver("auto") == "auto"
    sol = SOLVERS["auto"](prog)
    assert sol.solver == "working_set" and "fallback" not in sol.info
    X, y, _ = _data()
    res = convexnn.fit(X, y, beta=0.3, patterns=10, seed=1, bias="none")
    ref = convexnn.fit(X, y, beta=0.3, patterns=10, seed=1, solver="clarabel", bias="none")
    assert res.solution.solver == "working_set"
    assert res.objective == pytest.approx(ref.objective, rel=RTOL)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-6)


@pytest.mark.parametrize("n,jitter", [(100, 0.0), (120, 1e-3)])
def test_free_bias_certificate_closes_with_tied_data(n, jitter):
    """Free hidden biases on 1-D data with ties or near-ties (the diabetes BMI: the first 100
    patients, 71 distinct values; 120 with 1e-3 jitter), targets of scale 100: the
    weighted projection's bound under the free coordinate was loose there (relative gaps
    of 0.87 and 0.93 were left); now such blocks get the exact NNLS bound.  The
    certificate must close at Clarabel's optimum, and fit's independent numpy certificate
    over every pattern must agree."""
    from sklearn.datasets import load_diabetes

    from convexnn.core.patterns import enumerate_1d_bias

    X, y = load_diabetes(return_X_y=True)
    x = X[:n, 2] + jitter * X[:n, 2].std() * np.random.default_rng(0).standard_normal(n)
    x = (x - x.mean()) / x.std()
    prog = TwoLayerProgram(x[:, None], y[:n], beta=1.0, loss="squared", model="relu", bias="free",
                           skip=False, output_bias=False, patterns=enumerate_1d_bias(x))
    sol = SOLVERS["working_set"](prog, tol=1e-6)
    assert sol.status == "optimal" and sol.info["rel_gap"] <= 1e-6, sol.solver_status
    p = prog.objective(sol)
    # fit's certificate recomputes s in numpy (scipy NNLS per pattern) at the convex
    # solution's predictions: the same s as the solver's, by independent code
    res = convexnn.fit(x[:, None], y[:n], beta=1.0, bias="free", patterns="exact",
                       solver="working_set")
    cert = res.certificate
    assert cert.certified and cert.exhaustive and cert.relative_gap <= 1e-6
    assert cert.s == pytest.approx(sol.info["s_over_beta"] * prog.beta, rel=1e-6)
    assert cert.lower_bound <= p * (1 + 1e-9)
    p_ref = prog.objective(SOLVERS["clarabel"](prog, tol=1e-9))
    assert abs(p - p_ref) <= RTOL * max(1.0, abs(p_ref))
    assert sol.dual_bound <= p_ref * (1 + 1e-9)  # weak duality


def test_memory_refusal_before_allocating():
    prog = _program("relu", "squared", "regularized", False, False)
    with pytest.raises(MemoryBudgetError, match="memory limit") as info:
        SOLVERS["working_set"](prog, memory_limit=1024)
    assert isinstance(info.value, PatternBudgetError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, MemoryError)
    with pytest.raises(MemoryBudgetError):  # auto does not fall back to the bigger program
        SOLVERS["auto"](prog, memory_limit=1024)


def test_cone_projection_matches_nnls():
    """Batched Goldfarb-Idnani projections: ||Pi_K(c)|| equals scipy's NNLS support, from a
    cold start and warm-started from a guessed active set; stopped early, the norm is
    still an upper bound."""
    from convexnn.duality.cones import cone_support
    from convexnn.solvers.cone_projection import project_cones

    rng = np.random.default_rng(3)
    n, d = 30, 4
    Xt = add_bias_column(rng.standard_normal((n, d - 1)))
    D = sample_patterns(Xt, 12, seed=4).D  # cells of the arrangement: full-dimensional cones
    P = D.shape[1]
    C = rng.standard_normal((P, d)) * 3
    truth = np.array([cone_support((2.0 * D[:, b] - 1.0)[:, None] * Xt, C[b])[0] for b in range(P)])
    args = (torch.tensor(Xt), torch.tensor(D), torch.arange(P), torch.tensor(C))
    cold = project_cones(*args)
    assert bool(cold.exact.all())
    np.testing.assert_allclose(np.linalg.norm(cold.u.numpy(), axis=1), truth, rtol=1e-8, atol=1e-9)
    guess = torch.tensor(rng.integers(0, n, (P, 3)))
    warm = project_cones(*args, active0=guess)
    np.testing.assert_allclose(np.linalg.norm(warm.u.numpy(), axis=1), truth, rtol=1e-8, atol=1e-9)
    early = project_cones(*args, max_steps=2)
    assert np.all(np.linalg.norm(early.u.numpy(), axis=1) >= truth - 1e-9)


def test_import_does_not_import_torch():
    code = "import sys, convexnn, convexnn.solvers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_results_are_deterministic_and_threads_restored():
    prog = _program("relu", "logistic", "none", False, True)
    threads = torch.get_num_threads()
    a = SOLVERS["working_set"](prog)
    b = SOLVERS["working_set"](prog)
    assert torch.get_num_threads() == threads
    np.testing.assert_array_equal(a.V, b.V)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings from our own code
        SOLVERS["working_set"](prog)


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_one_feature_without_bias(loss):
    """d = 1: the cone projections have no candidate rows to warm-start from (regression:
    an empty reduction raised IndexError); the answer matches Clarabel."""
    import convexnn as cn

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 1)), rng.standard_normal(5)
    y = y if loss == "squared" else np.where(y >= 0, 1.0, -1.0)
    fast = cn.fit(X, y, beta=0.3, loss=loss, patterns="exact", solver="working_set", certify=False, bias="none")
    ref = cn.fit(X, y, beta=0.3, loss=loss, patterns="exact", solver="clarabel", certify=False, bias="none")
    assert fast.status == "optimal"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


def test_a_solver_object_is_reusable():
    """Per-solve state lives in the solve, not on the solver: one WorkingSetSolver solving
    several programs in turn gives what fresh solvers give (the free-bias ReLU case uses
    the projections' warm-start cache)."""
    progs = [_program("relu", "squared", "free", False, False, seed=s) for s in (0, 1)]
    progs.append(_program("relu", "logistic", "regularized", True, False, seed=2))
    shared = WorkingSetSolver(tol=1e-8)
    for prog in progs + progs[:1]:
        a, b = shared.solve(prog), WorkingSetSolver(tol=1e-8).solve(prog)
        assert a.status == b.status == "optimal"
        assert prog.objective(a) == pytest.approx(prog.objective(b), rel=1e-12)
        assert a.dual_bound == pytest.approx(b.dual_bound, rel=1e-12)
        assert a.info["rounds"] == b.info["rounds"]
    assert not [k for k in vars(shared) if k.startswith("_")]  # nothing left on the solver
