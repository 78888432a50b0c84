r"""Vector-output ReLU training by neuron generation (THEORY A.10 last bullet, C, D).

Over a finite set of unit directions :math:`u_k` (:math:`\|u_{k\pi}\| = 1`) the master
(:mod:`convexnn.neurons.master`)

.. math::
    \min_{G, A}\ \ell\Big(\sum_kP(\tilde Xu_k)_+g_k^\top + FA\Big) + \beta\sum_k\|g_k\|_2

is a group lasso (neuron k: :math:`W_1 = u_k\sqrt{\|g_k\|}`, :math:`W_2 = g_k/\sqrt{\|g_k\|}`,
penalty :math:`\beta\|g_k\|`).  Its optimum over *all* directions is :math:`p^\star`, and
over any subset it is an upper bound.  With :math:`\Lambda = -\nabla\ell(\hat Z)` at the
master's solution, pricing :math:`s = \max_{\|u_\pi\|\le1}\|\Lambda^\top P(\tilde Xu)_+\|`
(:mod:`convexnn.neurons.pricing` on :math:`(\tilde X, P^\top\Lambda)`) adds directions with value :math:`> \beta`; when the
exhaustive pricing proves :math:`s \le \beta(1+\epsilon)`, weak duality gives the lower
bound :math:`-\ell^*(-\Lambda\min(1, \beta/s)) \le p^\star`.  For the engine's steps
(:mod:`convexnn.generation`):

* **start**: the neurons of the ``init`` networks and of an L-BFGS run from a random
  network of width :data:`SEED_WIDTH` (:mod:`convexnn.neurons.descent`): each is a
  feasible point of the master over its directions, so the first master is below them;
* **master**: FISTA from the last network's weights for at most
  :data:`MASTER_ITERATIONS` iterations (the seed's near-parallel columns merged first,
  :func:`~convexnn.neurons.master.merge_columns`); once pricing is exact, finished by
  Clarabel when FISTA did not converge and refined by Newton's method on the active
  columns (:func:`~convexnn.neurons.master.refine`), so the dual point is exact;
* **price**: exact face enumeration where the arrangement is small, else the power-like
  ascent from random starts and from the active directions, as they are and perturbed;
* **descend**: L-BFGS from the master's network plus the violators as small neurons; its
  directions replace the master's when it is lower;
* **prove**: the last pricing was exhaustive and found no violation;
* **finish**: the best master (with the last descent's columns) re-solved over its
  active columns by an interior-point method (Clarabel) where that is cheap, unless FISTA
  certified it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..core.protocol import Budget, Descended, Master, Plan, Priced, Proof
from ..core.solution import OPTIMAL, VectorSolution
from ..solvers.group_fista import free_projector
from .descent import VectorNetwork, balanced, descend, evaluate, random_start
from .master import (
    DUPLICATE_COS,
    MERGE_COS,
    columns_of,
    merge_columns,
    polish,
    refine,
    solve_master,
    solve_master_cvxpy,
)
from .pricing import dual_norm
from .program import NeuronProgram

#: Solvers of the masters ("auto" = "fista"; a CVXPY solver solves every master).
NEURON_SOLVERS = ("auto", "fista", "clarabel", "scs", "mosek")
#: The engine's budget: rounds at most, new directions per round, and the stall rule (the
#: objective fell by less than STALL_RTOL, relative, over STALL_ROUNDS rounds).
MAX_ROUNDS = 30
ADD = 10
STALL_ROUNDS = 3
STALL_RTOL = 1e-4
#: Width and L-BFGS iterations of the seeding run (width at most n c, the most neurons an
#: optimum needs).
SEED_WIDTH = 300
SEED_ITERATIONS = 500
#: FISTA iterations of a master (the masters are steps of the search; the last is finished
#: by an interior-point method).
MASTER_ITERATIONS = 3000
#: L-BFGS iterations of a descent round; violators it starts from, at most.
DESCENT_ITERATIONS = 300
DESCENT_ADD = 10
#: A descent's network replaces the master's columns when it is lower by this relative margin.
DESCENT_RTOL = 1e-9
#: Random starts of the pricing ascent (besides the active directions and their perturbations)
#: and the perturbation scales.
PRICING_STARTS = 200
PERTURB = (0.05, 0.2)
#: Scale of a violator's neuron in the descent's start, relative to the largest neuron.
NEW_SCALE = 1e-3
#: The last master is finished by Clarabel when n c K (samples, outputs, active columns) is
#: at most POLISH_SIZE (wine, 178 x 3 with 16 columns: 0.7 s; digits, 600 x 10 with 104
#: columns: 37 s, more than the rounds before it).
POLISH_SIZE = 200_000


def _new_directions(program: NeuronProgram, pr, base: np.ndarray, threshold: float,
                    limit: int) -> np.ndarray:
    """Priced directions above ``threshold`` whose columns are not duplicates (cosine above
    1 - DUPLICATE_COS) of a column of ``base`` or of one taken before them."""
    out: list[np.ndarray] = []
    Hb = columns_of(program, base)
    Hb = Hb / np.maximum(np.linalg.norm(Hb, axis=0), 1e-300)
    for u, v in zip(pr.U, pr.values):
        if v <= threshold or len(out) >= limit:
            break
        h = columns_of(program, u[None, :])[:, 0]
        hn = float(np.linalg.norm(h))
        if hn == 0 or (Hb.shape[1] and np.max(Hb.T @ h) >= (1.0 - DUPLICATE_COS) * hn):
            continue
        out.append(u)
        Hb = np.hstack([Hb, (h / hn)[:, None]])
    return np.array(out).reshape(len(out), base.shape[1])


class NeuronPricer:
    r"""Neuron directions as the engine's columns (see the module docstring).

    Parameters
    ----------
    program : NeuronProgram
    solver : str
        "fista" (rounds by FISTA, the last master finished by Clarabel) or a CVXPY solver
        for every master.
    tol : float
        The pricing threshold: a direction enters when its value exceeds beta (1 + tol).
    exact : bool or None
        Exact pricing: None when the arrangement is small, True to force, False never.
    add : int
        New directions per round, at most.
    rng : numpy Generator
    init : tuple of (W, G) or None
        Neurons of seed networks on the lifted data (rows of W, output weights G).
    seed_width : int or None
        Width of the seeding L-BFGS run (default min(SEED_WIDTH, n c); 0 for none).
    """

    columns_name = "neurons"

    def __init__(self, program: NeuronProgram, *, solver: str, tol: float, exact: bool | None,
                 add: int, rng: np.random.Generator, init: tuple = (),
                 seed_width: int | None = None, verbose: bool = False) -> None:
        self.program, self.solver, self.tol, self.exact = program, solver, tol, exact
        self.add, self.rng, self.init, self.verbose = add, rng, tuple(init), verbose
        n, c = program.y.shape
        self.seed_width = min(SEED_WIDTH, n * c) if seed_width is None else seed_width
        k = program.Xt.shape[1]
        self.U, self.G, self.A = np.zeros((0, k)), np.zeros((0, c)), None
        self.Q = free_projector(program.free_basis)
        self._last: VectorNetwork | None = None

    @property
    def n_columns(self) -> int:
        return int(self.U.shape[0])

    # ---- 1. seed ------------------------------------------------------------------------
    def start(self, report) -> None:
        """The columns of the init networks and of an L-BFGS run from a random network."""
        p = self.program
        nets = [evaluate(p.Xt, p.y, beta=p.beta, loss=p.loss, pen=p.penalized, F=p.free_basis,
                         W=W, G=G, pool=p.pool) for W, G in self.init]
        if self.seed_width:
            W0, G0 = random_start(p.Xt.shape[1], self.seed_width, p.n_outputs, self.rng)
            nets.append(self._descend(W0, G0, None, SEED_ITERATIONS))
        if nets:
            report.seed_objective = min(net.objective for net in nets)
        parts = [net.columns(p.penalized) for net in nets]
        if parts:
            self.U, self.G = merge_columns(p, np.vstack([u for u, _ in parts]),
                                           np.vstack([g for _, g in parts]), cos=MERGE_COS)

    def _descend(self, W0, G0, A0, maxiter: int) -> VectorNetwork:
        p = self.program
        return descend(p.Xt, p.y, beta=p.beta, loss=p.loss, pen=p.penalized, F=p.free_basis,
                       W0=W0, G0=G0, A0=A0, maxiter=maxiter, pool=p.pool)

    # ---- 2. master ----------------------------------------------------------------------
    def master(self) -> Master:
        p = self.program
        self.U, self.G = merge_columns(p, self.U, self.G, cos=DUPLICATE_COS)
        if self.solver == "fista":
            sol = solve_master(p, self.U, G0=self.G, A0=self.A, tol=min(1e-8, 0.01 * self.tol),
                               max_iter=MASTER_ITERATIONS)
            if self._exact_mode():  # an exact proof needs an exact master and dual point
                sol = refine(p, polish(p, sol) if sol.status != OPTIMAL else sol)
        else:
            sol = solve_master_cvxpy(p, self.U, solver=self.solver, verbose=self.verbose)
        self.U, self.G, self.A = sol.U, sol.G, sol.A
        return Master(p, sol, p.objective(sol), state={"lam": self._dual(sol)})

    def _dual(self, sol: VectorSolution) -> np.ndarray:
        r""":math:`\Lambda = -\nabla\ell(\hat Z)`, projected onto :math:`F^\top\Lambda = 0`."""
        p = self.program
        lam = -p.loss.gradient(p.predict(sol), p.y)
        return lam if self.Q is None else lam - self.Q @ (self.Q.T @ lam)

    def _exact_mode(self) -> bool:
        return bool(getattr(self, "_exhaustive", False)) or self.exact is True

    # ---- 3. pricing ---------------------------------------------------------------------
    def price(self, m: Master) -> Priced:
        p, beta = self.program, self.program.beta
        active = np.linalg.norm(self.G, axis=1) > 0
        base = self.U[active]
        starts = [base] + [base + s * self.rng.standard_normal(base.shape) for s in PERTURB]
        pr = dual_norm(p.Xt, p.stacked_dual(m.state["lam"]), p.penalized, exact=self.exact,
                       starts=np.vstack(starts), seed=self.rng,
                       keep=max(4 * self.add, 20) + 3 * base.shape[0], n_random=PRICING_STARTS)
        self._exhaustive = bool(pr.exhaustive)
        p.exhaustive = self._exhaustive
        new = _new_directions(p, pr, base, beta * (1 + self.tol), self.add)
        m.state.update(pricing=pr, base=base, G_base=self.G[active], new=new)
        return Priced(float(pr.found / beta), int(new.shape[0]), {"pricing": pr.method},
                      exact=self._exhaustive)

    # ---- 4. descent ---------------------------------------------------------------------
    def descend(self, m: Master, priced: Priced) -> Descended:
        """L-BFGS from the master's network plus the violators as small neurons."""
        p = self.program
        base, Gb, new = m.state["base"], m.state["G_base"], m.state["new"]
        if not base.shape[0] and not new.shape[0]:
            return Descended()
        W0, G0 = balanced(base, Gb, p.penalized)
        if new.shape[0]:
            scale = NEW_SCALE * max(1.0, float(np.max(np.linalg.norm(G0, axis=1), initial=1.0)))
            W0 = np.vstack([W0, scale * new[:DESCENT_ADD]])
            G0 = np.vstack([G0, np.zeros((min(DESCENT_ADD, new.shape[0]), p.n_outputs))])
        net = self._descend(W0, G0, self.A, DESCENT_ITERATIONS)
        self._last = net
        if net.objective >= m.objective * (1 - DESCENT_RTOL) - 1e-300:
            return Descended(net.objective, 0)
        U, G = net.columns(p.penalized)
        m.state.update(base=U, G_base=G, A=net.A)
        return Descended(net.objective, int(U.shape[0]))

    # ---- 5. proof -----------------------------------------------------------------------
    def prove(self, m: Master) -> Proof | None:
        """Exhaustive pricing below beta (1 + tol) at an optimal master: a proof."""
        pr = m.state.get("pricing")
        if (pr is not None and pr.exhaustive and pr.s <= self.program.beta * (1 + self.tol)
                and m.solution.status == OPTIMAL):
            return Proof("proven", evidence=m.state["lam"])
        return None

    def advance(self, m: Master) -> None:
        c = self.program.n_outputs
        base = m.state["base"]
        # the new directions are deduplicated against the moved ones: a near copy of a
        # column makes the master degenerate (collinear features)
        new = _new_directions(self.program, m.state["pricing"], base,
                              self.program.beta * (1 + self.tol), self.add)
        self.U = np.vstack([base, new])
        self.G = np.vstack([m.state["G_base"], np.zeros((new.shape[0], c))])
        if "A" in m.state:
            self.A = m.state["A"]

    # ---- 6. finish ----------------------------------------------------------------------
    def finish(self, best: Master) -> Master:
        """The best master, extended by the last descent's columns when that network is
        lower, and re-solved by Clarabel unless FISTA certified it."""
        p, sol = self.program, best.solution
        last = self._last
        if last is not None and last.objective < best.objective * (1 - DESCENT_RTOL):
            U, G = last.columns(p.penalized)
            U, G = merge_columns(p, np.vstack([U, sol.U]), np.vstack([G, 0.0 * sol.G]),
                                 cos=DUPLICATE_COS)
            better = solve_master(p, U, G0=G, A0=last.A, tol=min(1e-8, 0.01 * self.tol),
                                  max_iter=MASTER_ITERATIONS)
            if p.objective(better) < best.objective:
                sol = better
        if self.solver == "fista" and sol.status != OPTIMAL:
            K = int(np.count_nonzero(np.linalg.norm(sol.G, axis=1)))
            if p.y.size * K <= POLISH_SIZE:
                sol = polish(p, sol)
            if sol.status != OPTIMAL:
                sol.info["limit_message"] = (
                    f"the last master ({K} neurons) was solved by FISTA to a certified relative "
                    f"gap of {sol.info.get('relative_gap', float('nan')):.1e} only, and is too "
                    "large for the interior-point finish: the objective is an upper bound of "
                    "the master's optimum; pass solver='clarabel' to solve every master exactly")
        if self._exact_mode():
            sol = refine(p, sol)
        if sol is best.solution:
            return best
        return Master(p, sol, p.objective(sol), state={"lam": self._dual(sol)})


def finish_solution(sol: VectorSolution) -> VectorSolution:
    """The master's solution restricted to its active neurons."""
    keep = np.linalg.norm(sol.G, axis=1) > 0
    sol.U, sol.G = sol.U[keep], sol.G[keep]
    return sol


def neuron_solver(spec: Any) -> str:
    """The masters' solver named by ``spec.solver`` (one of :data:`NEURON_SOLVERS`)."""
    from ..core.validation import check_choice

    solver = check_choice("solver", spec.solver, NEURON_SOLVERS)
    return "fista" if solver == "auto" else solver


def exact_pricing(patterns: Any) -> bool | None:
    """The pricing a ``patterns=`` argument asks for: None (exact where the arrangement is
    small) for "auto", True for "exact", False (ascent only) otherwise."""
    if isinstance(patterns, str) and patterns == "auto":
        return None
    return True if isinstance(patterns, str) and patterns == "exact" else False


def neuron_plan(program: NeuronProgram, spec: Any, init: tuple, t0: float) -> Plan:
    """The engine's plan for neuron generation on ``program`` (its ``exact`` set), with the
    budget of this module's constants (``max_rounds`` and ``time_limit`` from the spec)."""
    pricer = NeuronPricer(program, solver=neuron_solver(spec),
                          tol=1e-6 if spec.tol is None else spec.tol, exact=program.exact,
                          add=ADD, rng=np.random.default_rng(spec.seed), init=init,
                          verbose=spec.verbose)
    budget = Budget(max_rounds=spec.max_rounds or MAX_ROUNDS, stall_rounds=STALL_ROUNDS,
                    stall_rtol=STALL_RTOL, time_limit=spec.time_limit)
    return Plan(pricer=pricer, budget=budget, time=time.perf_counter() - t0)


__all__ = ["NEURON_SOLVERS", "NeuronPricer", "exact_pricing", "finish_solution", "neuron_plan",
           "neuron_solver"]
