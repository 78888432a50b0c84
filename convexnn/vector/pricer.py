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

from ..core.protocol import Descended, Master, Priced, Proof
from ..core.solution import OPTIMAL
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


class NeuronPricer:
    r"""Neuron directions as the engine's columns (:mod:`convexnn.generation`; see the module
    docstring): the master is the group lasso over unit directions, pricing is
    :func:`convexnn.vector.pricing.dual_norm` (exact by face enumeration when the
    arrangement is small, ``exact``), descent moves the active directions by L-BFGS
    (:func:`refine_directions`).

    Parameters
    ----------
    program : VectorProgram
    solver : str
        "fista" or a CVXPY solver for the masters.
    tol : float
        The pricing threshold: a direction enters when its value exceeds beta (1 + tol).
    exact : bool or None
        Exact pricing: None when the arrangement is small, True to force, False never.
    add : int
        New directions per round, at most.
    rng : numpy Generator
    """

    columns_name = "neurons"

    def __init__(self, program: VectorProgram, *, solver: str, tol: float, exact: bool | None,
                 add: int, rng: np.random.Generator, refine: bool = True,
                 verbose: bool = False) -> None:
        self.program, self.solver, self.tol, self.exact = program, solver, tol, exact
        self.add, self.rng, self.refine, self.verbose = add, rng, refine, verbose
        k, c = program.Xt.shape[1], program.n_outputs
        self.U, self.G, self.A = np.zeros((0, k)), np.zeros((0, c)), None
        self.Q = free_projector(program.free_basis)
        self._exhaustive = False

    @property
    def n_columns(self) -> int:
        return int(self.U.shape[0])

    def start(self, report) -> None:
        """No seed: the first master is the free terms alone."""

    def master(self) -> Master:
        p = self.program
        sol = solve_master(p, self.U, solver=self.solver, tol=min(1e-8, 0.01 * self.tol),
                           G0=self.G, A0=self.A, verbose=self.verbose)
        self.G, self.A = sol.G, sol.A
        lam = -p.loss.gradient(p.predict(sol), p.y)
        if self.Q is not None:
            lam = lam - self.Q @ (self.Q.T @ lam)
        return Master(p, sol, p.objective(sol), state={"lam": lam})

    def price(self, m: Master) -> Priced:
        p, beta = self.program, self.program.beta
        active = self.U[np.linalg.norm(self.G, axis=1) > 0] if self.U.shape[0] else self.U
        pr = dual_norm(p.Xt, m.state["lam"], p.penalized, exact=self.exact, starts=active,
                       seed=self.rng, keep=max(self.add, 1))
        self._exhaustive = bool(pr.exhaustive)
        p.exhaustive = self._exhaustive
        m.state["pricing"] = pr
        keep = np.linalg.norm(self.G, axis=1) > 0
        base = self.U[keep]
        new = _new_directions(pr, base, beta * (1 + self.tol), self.add)
        m.state.update(base=base, G_base=self.G[keep], new=new)
        return Priced(float(pr.found / beta), int(new.shape[0]), {"pricing": pr.method})

    def descend(self, m: Master, priced: Priced) -> Descended:
        base = m.state["base"]
        if not (self.refine and priced.added and base.shape[0]):
            return Descended()
        # local descent moves the active directions; the moved ones replace those they
        # came from (the master over them is never worse)
        m.state["base"] = refine_directions(self.program, base, m.state["G_base"], self.A)
        m.state["G_base"] = np.zeros((m.state["base"].shape[0], self.program.n_outputs))
        return Descended(added=int(m.state["base"].shape[0]))

    def prove(self, m: Master) -> Proof | None:
        """The last pricing was exhaustive (face enumeration over every cell): a proof."""
        if self._exhaustive:
            return Proof("proven", evidence=m.state["lam"])
        return None

    def advance(self, m: Master) -> None:
        c = self.program.n_outputs
        base = m.state["base"]
        # the new directions are deduplicated against the moved ones: a near copy of a
        # column makes the master degenerate (collinear features)
        new = _new_directions(m.state["pricing"], base,
                              self.program.beta * (1 + self.tol), self.add)
        self.U = np.vstack([base, new])
        self.G = np.vstack([m.state["G_base"], np.zeros((new.shape[0], c))])


def finish_solution(sol: VectorSolution) -> VectorSolution:
    """The master's solution restricted to its active neurons."""
    keep = np.linalg.norm(sol.G, axis=1) > 0
    sol.U, sol.G = sol.U[keep], sol.G[keep]
    return sol


__all__ = ["NeuronPricer", "finish_solution", "refine_directions", "solve_master"]
