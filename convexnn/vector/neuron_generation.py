r"""Exact vector-output ReLU training by neuron generation (THEORY A.10 last bullet, C).

Over a finite set of unit directions :math:`u_k` (:math:`\|u_{k\pi}\| = 1`) the master

.. math::
    \min_{G, A}\ \ell\Big(\sum_k(\tilde Xu_k)_+g_k^\top + FA\Big) + \beta\sum_k\|g_k\|_2

is a group lasso (neuron k: :math:`W_1 = u_k\sqrt{\|g_k\|}`, :math:`W_2 = g_k/\sqrt{\|g_k\|}`,
penalty :math:`\beta\|g_k\|`).  Its optimum over *all* directions is :math:`p^\star`
(the infinite-dimensional group lasso of Bach 2017; it equals the cone-constrained
nuclear-norm program of THEORY C).  With :math:`\Lambda = -\nabla\ell(\hat Z)` at the
master's solution, pricing :math:`s = \max_{\|u_\pi\|\le1}\|\Lambda^\top(\tilde Xu)_+\|`
(:mod:`convexnn.vector.pricing`) adds directions with value :math:`> \beta`; when the
exhaustive pricing proves :math:`s \le \beta(1+\epsilon)`, weak duality gives the lower
bound :math:`-\ell^*(-\Lambda\min(1, \beta/s)) \le p^\star`.
"""

from __future__ import annotations

import time

import numpy as np

from ..core.solution import ITERATION_LIMIT, OPTIMAL
from ..solvers.cvxpy_backend import solve_problem
from ..solvers.group_fista import fista, free_projector, newton_polish, row_group_operator
from .pricing import Pricing, dual_norm
from .program import VectorProgram, VectorSolution

#: FISTA iterations before the first Newton polish of the master.
POLISH_AFTER = 300


def solve_master(program: VectorProgram, U: np.ndarray, *, solver: str = "fista", tol: float = 1e-9,
                 G0=None, A0=None, max_iter: int = 100_000, verbose: bool = False) -> VectorSolution:
    """The group-lasso master over directions U (K, d') by FISTA or cvxpy (reference)."""
    t0 = time.perf_counter()
    H = np.maximum(program.Xt @ U.T, 0.0)
    F, Y, c = program.free_basis, program.y, program.n_outputs
    if solver == "fista":
        op = row_group_operator(H, c)
        r = fista(op, F, Y, program.loss, program.beta, B0=G0, A0=A0, tol=tol,
                  max_iter=POLISH_AFTER)
        total, budget = r.iterations, POLISH_AFTER
        while r.status != OPTIMAL and U.shape[0] and total < max_iter:
            # Newton on the support found so far, then a certified re-check and FISTA
            # steps that correct the support
            Gp, Ap = newton_polish(H, F, Y, program.loss, program.beta, r.B, r.A)
            r = fista(op, F, Y, program.loss, program.beta, B0=Gp, A0=Ap, tol=tol,
                      max_iter=budget)
            total += r.iterations
            budget = min(2 * budget, 5000)
        return VectorSolution(A=r.A, U=U, G=r.B, status=r.status, solver="fista",
                              solver_status=f"gap {r.relative_gap:.2e} after {r.iterations} it",
                              objective_reported=r.objective, dual_bound=r.lower_bound,
                              iterations=r.iterations, solve_time=time.perf_counter() - t0)
    import cvxpy as cp

    G = cp.Variable((U.shape[0], c))
    pred = H @ G
    A = None
    if F is not None:
        A = cp.Variable((F.shape[1], c))
        pred = pred + F @ A
    prob = cp.Problem(cp.Minimize(program.loss.cvxpy(pred, Y)
                                  + program.beta * cp.sum(cp.norm(G, 2, axis=1))))
    out = solve_problem(prob, solver=solver, verbose=verbose, what="the neuron master")
    ok = out.status == OPTIMAL
    Gv = np.zeros((U.shape[0], c)) if G.value is None else np.asarray(G.value)
    Av = (np.zeros((0, c)) if A is None else
          (np.zeros((F.shape[1], c)) if A.value is None else np.asarray(A.value)))
    return VectorSolution(A=Av, U=U, G=Gv, status=OPTIMAL if ok else "inaccurate", solver=solver,
                          solver_status=out.solver_status, objective_reported=out.value,
                          solve_time=time.perf_counter() - t0)


#: Directions closer than this (Euclidean, unit rows) count as duplicates: near-copies make
#: the master degenerate (collinear features) without improving it.
DUPLICATE_TOL = 1e-6


def _new_directions(pr: Pricing, U: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """Priced directions above ``threshold`` not already (to DUPLICATE_TOL) in U."""
    out = []
    for u, v in zip(pr.U, pr.values):
        if v <= threshold or len(out) >= limit:
            break
        pool = U if not out else np.vstack([U, np.array(out)])
        if pool.shape[0] and np.min(np.linalg.norm(pool - u, axis=1)) < DUPLICATE_TOL:
            continue
        out.append(u)
    return np.array(out).reshape(len(out), U.shape[1])


def refine_directions(program: VectorProgram, U: np.ndarray, G: np.ndarray, A: np.ndarray,
                      *, max_iter: int = 200) -> np.ndarray:
    r"""Local descent (L-BFGS) on the non-convex objective from the master's network
    :math:`u_k\sqrt{\|g_k\|}`, :math:`g_k/\sqrt{\|g_k\|}`; returns the moved unit
    directions.  A heuristic that speeds up the column generation (the master over
    the moved directions is never worse than the moved network, THEORY A.10); optimality
    is still decided by pricing."""
    from scipy.optimize import minimize

    Xt, pen, beta, Y, loss = program.Xt, program.penalized, program.beta, program.y, program.loss
    F = program.free_basis
    K, k = U.shape
    c = Y.shape[1]
    q = 0 if F is None else F.shape[1]
    r = np.sqrt(np.linalg.norm(G, axis=1))
    x0 = np.concatenate([(U * r[:, None]).ravel(), (G / r[:, None]).ravel(), A.ravel()])
    pm = pen.astype(np.float64)

    def fg(x):
        W = x[: K * k].reshape(K, k)
        Gm = x[K * k: K * k + K * c].reshape(K, c)
        Am = x[K * k + K * c:].reshape(q, c)
        P = Xt @ W.T
        Hh = np.maximum(P, 0.0)
        Z = Hh @ Gm + (F @ Am if q else 0.0)
        f = loss.value(Z, Y) + 0.5 * beta * (np.sum(W * W * pm) + np.sum(Gm * Gm))
        dZ = loss.gradient(Z, Y)
        dG = Hh.T @ dZ + beta * Gm
        dW = ((P > 0) * (dZ @ Gm.T)).T @ Xt + beta * W * pm
        dA = F.T @ dZ if q else np.zeros((0, c))
        return f, np.concatenate([dW.ravel(), dG.ravel(), dA.ravel()])

    res = minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    W = res.x[: K * k].reshape(K, k)
    nrm = np.linalg.norm(W[:, pen], axis=1)
    keep = nrm > 1e-12 * max(float(nrm.max(initial=0.0)), 1e-300)
    return W[keep] / nrm[keep, None]


def neuron_generation(program: VectorProgram, *, solver: str = "fista", tol: float = 1e-6,
                      exact: bool | None = None, max_rounds: int = 200, add: int = 10,
                      seed=None, time_limit: float | None = None, verbose: bool = False,
                      refine: bool = True) -> tuple[VectorSolution, Pricing, np.ndarray]:
    r"""Alternate master solves and pricing until :math:`s \le \beta(1+` ``tol``:math:`)`.

    Returns (master solution, final pricing, final :math:`\Lambda`).  The solution's status
    is "optimal" only if the final pricing was exhaustive and the master converged;
    "iteration_limit" when rounds or time ran out.
    """
    t0 = time.perf_counter()
    Xt, pen, beta = program.Xt, program.penalized, program.beta
    c = program.n_outputs
    Q = free_projector(program.free_basis)
    rng = np.random.default_rng(seed)
    U = np.zeros((0, Xt.shape[1]))
    G = np.zeros((0, c))
    A = None
    sol = None
    master_tol = min(1e-8, 0.01 * tol)
    rounds, converged, pr, lam = 0, False, None, None
    for rounds in range(1, max_rounds + 1):
        sol = solve_master(program, U, solver=solver, tol=master_tol, G0=G, A0=A, verbose=verbose)
        G, A = sol.G, sol.A
        Z = program.predict(sol)
        lam = -program.loss.gradient(Z, program.y)
        if Q is not None:
            lam = lam - Q @ (Q.T @ lam)
        active = U[np.linalg.norm(G, axis=1) > 0] if U.shape[0] else U
        pr = dual_norm(Xt, lam, pen, exact=exact, starts=active, seed=rng, keep=max(add, 1))
        if verbose:
            print(f"round {rounds}: K={U.shape[0]} obj={sol.objective_reported:.10g} "
                  f"s/beta={pr.found / beta:.8f} ({pr.method})")
        if pr.found <= beta * (1 + tol):
            converged = True
            break
        keep = np.linalg.norm(G, axis=1) > 0
        base, Gb = U[keep], G[keep]
        if refine and base.shape[0]:
            # local descent moves the active directions; the moved ones replace those
            # they came from (the master over them is never worse)
            base = refine_directions(program, base, Gb, A)
            Gb = np.zeros((base.shape[0], c))
        new = _new_directions(pr, base, beta * (1 + tol), add)
        if new.shape[0] == 0 and not refine:
            break
        U, G = np.vstack([base, new]), np.vstack([Gb, np.zeros((new.shape[0], c))])
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
    keep = np.linalg.norm(sol.G, axis=1) > 0
    sol.U, sol.G = sol.U[keep], sol.G[keep]
    sol.iterations = rounds
    sol.info.update(rounds=rounds, pricing=pr.method, s=pr.s, found=pr.found,
                    exhaustive=pr.exhaustive, converged=converged)
    if not converged or sol.status != OPTIMAL:
        sol.status = ITERATION_LIMIT if not converged else sol.status
    sol.solve_time = time.perf_counter() - t0
    return sol, pr, lam


__all__ = ["neuron_generation", "solve_master"]
