r"""The master program of neuron generation: a group lasso over unit directions (THEORY C, D).

Over directions :math:`u_k` (:math:`\|u_{k\pi}\| = 1`) with columns
:math:`h_k = P(\tilde Xu_k)_+` (:mod:`convexnn.neurons.program`; P the pooling of a CNN,
the identity for a dense layer),

.. math::
    p_U = \min_{G, A}\ \ell\Big(\sum_k h_kg_k^\top + FA\Big) + \beta\sum_k\|g_k\|_2 ,

an upper bound of the vector-output optimum :math:`p^\star` for any U (THEORY A.10 last
bullet).  :func:`solve_master` runs FISTA (:mod:`convexnn.solvers.group_fista`) from a warm
start for a counted number of iterations and never returns a point worse than the warm
start; :func:`solve_master_cvxpy` is the interior-point reference (CVXPY, Clarabel) used to
finish.  :func:`merge_columns` merges near-parallel columns first: a descent from hundreds of
random neurons leaves clusters of nearly equal :math:`h_k`, and the group lasso over
near-duplicate columns is so ill-conditioned that FISTA stalls on it (wine, 300 columns from
a 500-step L-BFGS run: relative gap 2e-4 after 2000 iterations; merged to the 42 columns
with pairwise cosines below 0.999: gap 3e-7 after 1,900 iterations and a lower objective).
"""

from __future__ import annotations

import time

import numpy as np

from ..core.solution import ITERATION_LIMIT, OPTIMAL, VectorSolution
from ..exceptions import SolverError
from ..solvers.cvxpy_backend import solve_problem
from ..solvers.group_fista import fista, row_group_operator
from .program import NeuronProgram

#: The seed's columns whose :math:`h_k` have cosine above 1 - MERGE_COS are merged; later
#: columns only when they are duplicates (cosine above 1 - DUPLICATE_COS): the priced
#: directions that improve a converged master are often that close to its columns.
MERGE_COS = 1e-3
DUPLICATE_COS = 1e-9
#: :func:`refine`: trust-region Newton iterations per pass and passes, at most, and the
#: relative weight below which a column counts as inactive.
REFINE_ITERATIONS = 200
REFINE_PASSES = 4
REFINE_DROP = 1e-6


def columns_of(program: NeuronProgram, U: np.ndarray) -> np.ndarray:
    r"""The master's columns :math:`H = P(\tilde XU^\top)_+`, shape (n, K)."""
    return program.columns(U)


def merge_columns(program: NeuronProgram, U: np.ndarray, G: np.ndarray, *,
                  cos: float = MERGE_COS) -> tuple[np.ndarray, np.ndarray]:
    r"""Merge columns whose :math:`h_k` are nearly parallel (cosine :math:`\ge 1 -` ``cos``)
    into the heaviest of each cluster, and drop columns with :math:`h_k = 0`.

    The weight of a merged column moves to its representative i as
    :math:`g_i \mathrel{+}= g_j\|h_j\|/\|h_i\|` (the same prediction when the columns are
    exactly parallel).  Returns the kept (U, G); the master over them is a restriction of
    the master over U, so still an upper bound of :math:`p^\star`.
    """
    H = columns_of(program, U)
    hn = np.linalg.norm(H, axis=0)
    live = hn > 1e-12 * max(float(hn.max(initial=0.0)), 1e-300)
    U, G, H, hn = U[live], G[live], H[:, live], hn[live]
    if U.shape[0] <= 1:
        return U, G
    Hn = H / hn
    order = np.argsort(-(np.linalg.norm(G, axis=1) * hn), kind="stable")
    owner = np.full(U.shape[0], -1)
    reps: list[int] = []
    for i in order:
        if owner[i] >= 0:
            continue
        near = (Hn.T @ Hn[:, i] >= 1.0 - cos) & (owner < 0)
        owner[near] = len(reps)
        reps.append(int(i))
    reps_a = np.array(reps)
    Gm = np.zeros((len(reps), G.shape[1]))
    np.add.at(Gm, owner, G * (hn / hn[reps_a[owner]])[:, None])
    return U[reps_a], Gm


def solve_master(program: NeuronProgram, U: np.ndarray, *, G0: np.ndarray | None = None,
                 A0: np.ndarray | None = None, tol: float = 1e-8,
                 max_iter: int = 3000) -> VectorSolution:
    r"""The master over U by FISTA from (G0, A0), at most ``max_iter`` iterations.

    Status "optimal" when the certified relative gap is at most ``tol`` (FISTA's dual bound,
    valid for the master), else "iteration_limit"; the returned point is never worse than
    the warm start.
    """
    t0 = time.perf_counter()
    F, Y, c = program.free_basis, program.y, program.n_outputs
    q = 0 if F is None else F.shape[1]
    G0 = np.zeros((U.shape[0], c)) if G0 is None else G0
    A0 = np.zeros((q, c)) if A0 is None else A0
    warm = VectorSolution(A=A0, U=U, G=G0)
    r = fista(row_group_operator(columns_of(program, U), c), F, Y, program.loss, program.beta,
              B0=G0, A0=A0, tol=tol, max_iter=max_iter)
    sol = VectorSolution(A=r.A, U=U, G=r.B)
    if program.objective(warm) < program.objective(sol):  # FISTA is not monotone
        sol = warm
    sol.status = OPTIMAL if r.status == OPTIMAL else ITERATION_LIMIT
    sol.solver = "fista"
    sol.solver_status = f"gap {r.relative_gap:.2e} after {r.iterations} it"
    sol.objective_reported = program.objective(sol)
    sol.dual_bound, sol.iterations = r.lower_bound, r.iterations
    sol.solve_time = time.perf_counter() - t0
    sol.info["relative_gap"] = r.relative_gap
    return sol


def solve_master_cvxpy(program: NeuronProgram, U: np.ndarray, *, solver: str = "clarabel",
                       verbose: bool = False) -> VectorSolution:
    """The master over U by CVXPY (an interior-point method: Clarabel by default)."""
    import cvxpy as cp

    t0 = time.perf_counter()
    F, Y, c = program.free_basis, program.y, program.n_outputs
    G = cp.Variable((U.shape[0], c))
    pred = columns_of(program, U) @ G
    A = None
    if F is not None:
        A = cp.Variable((F.shape[1], c))
        pred = pred + F @ A
    prob = cp.Problem(cp.Minimize(program.loss.cvxpy(pred, Y)
                                  + program.beta * cp.sum(cp.norm(G, 2, axis=1))))
    out = solve_problem(prob, solver=solver, verbose=verbose, what="the neuron master")
    ok = out.status == OPTIMAL and G.value is not None
    Gv = np.asarray(G.value) if G.value is not None else np.zeros((U.shape[0], c))
    Av = (np.zeros((0, c)) if A is None else
          (np.asarray(A.value) if A.value is not None else np.zeros((F.shape[1], c))))
    return VectorSolution(A=Av, U=U, G=Gv, status=OPTIMAL if ok else "inaccurate",
                          solver=solver, solver_status=out.solver_status,
                          objective_reported=out.value, solve_time=time.perf_counter() - t0)


def _newton(program: NeuronProgram, U: np.ndarray, G0: np.ndarray, A0: np.ndarray,
            max_iter: int):
    """Trust-region Newton (scipy ``trust-krylov``) on the smooth restriction of the master
    to the columns U, from (G0, A0); returns (G, A, iterations, largest gradient entry)."""
    from scipy.optimize import minimize

    H, F, Y = columns_of(program, U), program.free_basis, program.y
    K, c = G0.shape
    q = 0 if F is None else F.shape[1]
    loss, beta = program.loss, program.beta

    def split(x):
        return x[:K * c].reshape(K, c), x[K * c:].reshape(q, c)

    def pred(G, A):
        return H @ G + (F @ A if q else 0.0)

    def fg(x):
        G, A = split(x)
        Z = pred(G, A)
        R = loss.gradient(Z, Y)
        r = np.maximum(np.linalg.norm(G, axis=1), 1e-300)
        grad = [(H.T @ R + beta * G / r[:, None]).ravel()] + ([(F.T @ R).ravel()] if q else [])
        return loss.value(Z, Y) + beta * float(r.sum()), np.concatenate(grad)

    def hessp(x, v):
        G, A = split(x)
        dG, dA = split(v)
        W = loss.hessian_vector(pred(G, A), Y, pred(dG, dA))
        r = np.maximum(np.linalg.norm(G, axis=1), 1e-300)[:, None]
        pen = beta * (dG / r - G * (np.sum(G * dG, axis=1, keepdims=True) / r**3))
        return np.concatenate([(H.T @ W + pen).ravel()] + ([(F.T @ W).ravel()] if q else []))

    with np.errstate(all="ignore"):
        res = minimize(fg, np.concatenate([G0.ravel(), A0.ravel()]), jac=True, hessp=hessp,
                       method="trust-krylov", options={"gtol": 1e-12, "maxiter": int(max_iter)})
    G, A = split(res.x)
    return G.copy(), A.copy(), int(res.nit), float(np.max(np.abs(res.jac), initial=0.0))


def refine(program: NeuronProgram, sol: VectorSolution, *, max_iter: int = REFINE_ITERATIONS
           ) -> VectorSolution:
    r"""``sol``'s master on its active columns to high accuracy by Newton's method.

    On the active set (every :math:`g_k \ne 0`) the objective
    :math:`\ell(HG + FA) + \beta\sum_k\|g_k\|` is smooth, with Hessian-vector product
    :math:`J^\top\nabla^2\ell\,J\,\delta + \beta(\delta_k/\|g_k\| - g_k g_k^\top\delta_k/\|g_k\|^3)`.
    A first-order master is accurate in objective to :math:`\epsilon` but its dual point
    :math:`-\nabla\ell` only to about :math:`\sqrt\epsilon`; at the refined point the active
    columns satisfy :math:`\|\Lambda^\top h_k\| = \beta` to rounding, which exact pricing and
    the certificate need.  A column whose weight is below :data:`REFINE_DROP` of the
    largest, or collapses during Newton (shrinks tenfold), counts as inactive: it is
    dropped (its curvature :math:`\beta/\|g_k\|` would stall the trust region) and Newton
    restarts, at most :data:`REFINE_PASSES` times; pricing brings it back if it is needed.  Returns the refined solution when it is no worse,
    else ``sol``."""
    w = np.linalg.norm(sol.G, axis=1)
    active = np.flatnonzero(w > REFINE_DROP * float(w.max(initial=0.0)))
    if not active.size:
        return sol
    G, A = sol.G[active], sol.A
    nit, grad = 0, float("nan")
    for _ in range(REFINE_PASSES):
        r0 = np.linalg.norm(G, axis=1)
        G, A, it, grad = _newton(program, sol.U[active], G, A, max_iter)
        nit += it
        r = np.linalg.norm(G, axis=1)
        drop = (r < 0.1 * r0) | (r <= REFINE_DROP * float(r.max(initial=0.0)))
        if not drop.any() or drop.all():
            break
        active, G = active[~drop], G[~drop]
    Gfull = np.zeros_like(sol.G)
    Gfull[active] = G
    out = VectorSolution(A=A, U=sol.U, G=Gfull, status=sol.status, solver=sol.solver,
                         solver_status=sol.solver_status, iterations=sol.iterations,
                         solve_time=sol.solve_time, info=dict(sol.info))
    if not np.all(np.isfinite(Gfull)) or program.objective(out) > program.objective(sol):
        return sol
    out.objective_reported = program.objective(out)
    out.info["refined"] = f"Newton on {active.size} columns, {nit} it, |grad| {grad:.1e}"
    return out


def polish(program: NeuronProgram, sol: VectorSolution, *, solver: str = "clarabel",
           tol: float = 1e-8) -> VectorSolution:
    """``sol``'s master over its active columns re-solved by ``solver`` (CVXPY); the better
    of the two (the interior-point answer only when it re-checks as optimal)."""
    keep = np.linalg.norm(sol.G, axis=1) > 0
    if not keep.any():
        return sol
    try:
        ref = solve_master_cvxpy(program, sol.U[keep], solver=solver)
    except SolverError:
        return sol
    if ref.status != OPTIMAL or program.objective(ref) > program.objective(sol) + tol * max(
            1.0, abs(program.objective(sol))):
        return sol
    ref.info["polished_from"] = sol.solver_status
    return ref


__all__ = ["DUPLICATE_COS", "MERGE_COS", "columns_of", "merge_columns", "polish", "refine",
           "solve_master",
           "solve_master_cvxpy"]
