"""convexnn.fit at the public boundary: bad input gets a clear error naming the problem."""

import warnings

import numpy as np
import pytest

import convexnn as cn
from convexnn.exceptions import (
    InaccurateSolutionWarning,
    PatternBudgetError,
    SolverNotAvailableError,
)
from convexnn.solvers.cvxpy_backend import mosek_license


@pytest.fixture
def Xy(rng):
    return rng.standard_normal((10, 2)), rng.standard_normal(10)


@pytest.mark.parametrize("bad,match", [
    (np.nan, "NaN"), (np.inf, "NaN or infinite"),
])
def test_nonfinite_X_and_y(Xy, bad, match):
    X, y = Xy
    X2 = X.copy()
    X2[3, 1] = bad
    with pytest.raises(ValueError, match=f"X contains 1 {match}"):
        cn.fit(X2, y, beta=0.1, bias="none")
    y2 = y.copy()
    y2[0] = bad
    with pytest.raises(ValueError, match="y contains"):
        cn.fit(X, y2, beta=0.1, bias="none")


def test_shapes_and_empty(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="different numbers of samples: 10 != 9"):
        cn.fit(X, y[:-1], beta=0.1, bias="none")
    with pytest.raises(ValueError, match="X must be 2-D"):
        cn.fit(X[:, 0], y, beta=0.1, bias="none")
    with pytest.raises(ValueError, match="more than n"):  # 2-D y is vector output (issue 14)
        cn.fit(X[:2], np.ones((2, 3)), beta=0.1, bias="none")
    with pytest.raises(ValueError, match="X is empty"):
        cn.fit(np.ones((0, 2)), np.ones(0), beta=0.1, bias="none")
    with pytest.raises(TypeError, match=r"X column 0 holds non-numeric values such as .a. \(str\)"):
        cn.fit([["a", "b"]], [1.0], beta=0.1, bias="none")


@pytest.mark.parametrize("beta", [0, -1.0, np.nan, np.inf])
def test_beta_must_be_positive_finite(Xy, beta):
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        cn.fit(*Xy, beta=beta, bias="none")


def test_beta_type(Xy):
    with pytest.raises(TypeError, match="beta must be a real number"):
        cn.fit(*Xy, beta="0.1", bias="none")


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_labels_of_wrong_kind(Xy, loss):
    X, y = Xy
    with pytest.raises(ValueError, match=r"labels in \{-1, \+1\}"):
        cn.fit(X, y, beta=0.1, loss=loss, bias="none")
    with pytest.raises(ValueError, match=r"2\*y - 1"):
        cn.fit(X, (y > 0).astype(float), beta=0.1, loss=loss, bias="none")


def test_unknown_options(Xy):
    for kwargs, match in [({"solver": "gurobi"}, "solver must be"), ({"model": "tanh"}, "model must be"),
                          ({"bias": "yes"}, "bias must be"), ({"loss": "l1"}, "loss must be"),
                          ({"patterns": "all"}, "patterns must be")]:
        with pytest.raises(ValueError, match=match):
            cn.fit(*Xy, beta=0.1, **kwargs)


def test_patterns_of_wrong_shape(Xy):
    with pytest.raises(ValueError, match=r"shape \(n=10, P\)"):
        cn.fit(*Xy, beta=0.1, patterns=np.ones((9, 4), bool), bias="none")
    with pytest.raises(ValueError, match="only 0/1"):
        cn.fit(*Xy, beta=0.1, patterns=np.full((10, 2), 2), bias="none")


def test_exact_over_budget_names_count_and_suggests_sampling(rng):
    X, y = rng.standard_normal((300, 12)), rng.standard_normal(300)
    with pytest.raises(PatternBudgetError, match=r"(?s)up to [\d,.e+]+ patterns.*patterns=<int>"):
        cn.fit(X, y, beta=0.1, patterns="exact", bias="none")


def test_gated_free_bias_is_refused(Xy):
    with pytest.raises(ValueError, match="degenerate"):
        cn.fit(*Xy, beta=0.1, model="gated", bias="free")


def test_gated_with_unrealisable_patterns_is_refused():
    X = np.arange(6.0)[:, None]
    y = np.sin(X[:, 0])
    D = np.array([[1, 0, 1, 0, 1, 0]], bool).T  # no threshold on a line gives this
    with pytest.raises(cn.exceptions.UnrealizablePatternsError, match="patterns.*gate"):
        cn.fit(X, y, beta=0.01, model="gated", patterns=D, certify=False, bias="none")


@pytest.mark.skipif(mosek_license()[0], reason="MOSEK is licensed here: the refusal path cannot run")
def test_mosek_without_license_is_a_clear_error(Xy):
    with pytest.raises(SolverNotAvailableError, match="mosek.*(not installed|license)"):
        cn.fit(*Xy, beta=0.1, solver="mosek", bias="none")


@pytest.mark.skipif(not mosek_license()[0], reason="MOSEK is not installed or not licensed")
def test_mosek_agrees_with_clarabel(Xy):
    a = cn.fit(*Xy, beta=0.1, solver="mosek", certify=False, bias="none")
    b = cn.fit(*Xy, beta=0.1, solver="clarabel", certify=False, bias="none")
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_auto_patterns_is_exact_for_small_problems(Xy):
    r = cn.fit(*Xy, beta=0.1, certify=False, bias="none")
    assert r.exhaustive and r.patterns.shape[1] == cn.pattern_count(10, 2)


def test_result_reports_everything(Xy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = cn.fit(*Xy, beta=0.1, patterns=20, seed=7, solver="clarabel", certify=False, bias="none")
    assert r.status == "optimal" and r.seed == 7 and not r.exhaustive
    assert set(r.timings) >= {"patterns", "setup", "solve", "recover", "total"}
    assert r.problem is not None and r.problem.value == pytest.approx(r.objective, rel=1e-6)
    text = r.summary()
    assert "convex objective" in text and "active neurons" in text


def test_inaccurate_answer_is_flagged_not_returned_as_optimal(Xy, monkeypatch):
    """A solver answer that violates the cone constraints is reported as inaccurate."""
    from convexnn import solvers

    real = solvers.SOLVERS["clarabel"]

    def corrupted(program, **kw):
        sol = real(program, **kw)
        sol.V = sol.V + 1e-2 * np.random.default_rng(0).standard_normal(sol.V.shape)
        return sol

    monkeypatch.setitem(solvers.SOLVERS, "clarabel", corrupted)
    with pytest.warns(InaccurateSolutionWarning):
        r = cn.fit(*Xy, beta=0.1, solver="clarabel", certify=False, bias="none")
    assert r.status == "inaccurate"
    assert any("violated" in m or "!=" in m for m in r.messages)


def test_auto_solver_choice_by_program():
    """auto: the working-set solver for every two-layer program (free biases included),
    Clarabel (or MOSEK when licensed) only as its fallback."""
    from convexnn.solvers import choose_solver

    X, y = np.random.default_rng(0).standard_normal((8, 2)), np.arange(8.0)
    free = cn.fit(X, y, beta=0.5, bias="free", certify=False)
    reg = cn.fit(X, y, beta=0.5, bias="regularized", certify=False)
    assert choose_solver("auto", free.program) == "working_set"
    assert choose_solver("auto", reg.program) == "working_set"
    assert free.solution.solver == "working_set" and "fallback" not in free.solution.info


def test_clarabel_fit_result_pickles():
    """A FitResult solved by Clarabel pickles (the compiled problem, whose cache holds the
    native solver, is dropped) and its program solves again after unpickling."""
    import pickle

    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 2))
    y = X[:, 0] - np.abs(X[:, 1])
    r = cn.fit(X, y, beta=0.1, solver="clarabel", bias="none")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.problem is None and r2.objective == r.objective
    assert np.allclose(r2.network.predict(X), r.network.predict(X))
    again = cn.fit(X, y, beta=0.1, solver="clarabel", patterns=r2.patterns, certify=False, bias="none")
    assert again.objective == pytest.approx(r.objective, rel=1e-6)
