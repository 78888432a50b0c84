r"""The two-layer program's column oracle for the generation engine: activation patterns.

A column is a pattern :math:`D = 1[\tilde Xu \ge 0]`, kept with a direction u of its cell
(the gate from which the working-set solver picks the block's first cone rows).  For the
engine's steps (:mod:`convexnn.generation`):

* **start**: the init networks' directions and those of a short L-BFGS run of the
  non-convex network (:mod:`convexnn.two_layer.descent`); sampled gates only when these
  give none;
* **master**: :class:`~convexnn.two_layer.program.TwoLayerProgram` over the patterns,
  solved by the working-set solver (or the solver asked for);
* **price**: with :math:`\lambda = -\nabla\ell(\hat y)` projected onto the free-term
  constraints, the pricing search (:mod:`convexnn.two_layer.search_rule`: annealed ascent
  from random starts, the master's neurons and the last round's violators, exact cell
  maxima and climbs, :func:`convexnn.duality.pricing_search.search`); when it finds nothing
  above :math:`\beta(1 + \varepsilon)` a confirming search of 20,480 starts looks again;
  the best violators' cells join the program;
* **descend** (off by default, :data:`DESCENT`): L-BFGS from the recovered network plus
  the violators as small neurons;
* **prove**: branch and bound over directions (every coordinate penalized, low rank:
  :func:`convexnn.duality.branch_bound.dual_norm_bb`) proves that no violated constraint
  exists, or finds one;
* **advance**: the recovered neurons' directions plus the new ones.

The loop therefore stops for a reason (:mod:`convexnn.generation`): proven, nothing
found by the search of N starts (recorded as a
:class:`~convexnn.duality.certificate.SearchRecord`; not a proof), or a work budget
(rounds, :data:`~convexnn.two_layer.search_rule.MAX_SEARCH_STARTS` search starts) --
never a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.patterns import (
    PatternSet,
    _rank_reduce,
    dedup,
    new_directions,
    sample_patterns,
)
from ..core.protocol import Descended, Master, Priced, Proof
from ..duality.dual_norm import BB_MAX_RANK, branch_bound_pricing
from ..duality.dual_points import dual_box, project_dual
from .descent import descend, from_blocks, random_start
from .search_rule import MAX_SEARCH_STARTS, WARM_KEEP, Searched, rule_for, search_round

#: Sampled gates in the starting set when the seed networks give no pattern.
SEED_SAMPLES = 20
#: Seed neurons whose weight |alpha_k| ||u_k|| is below this fraction of the largest stay
#: out of the first master (weight decay is shrinking them; breast cancer: 221 -> 172
#: patterns, the master 25% faster, its objective +4e-6 relative).
SEED_RTOL = 1e-2
#: Width and iterations of the seeding L-BFGS run (width min(n, SEED_WIDTH)).
SEED_WIDTH = 300
SEED_ITERATIONS = 500
#: Whether the rounds run the L-BFGS descent (until one brings nothing).  Off: with the
#: annealed pricing the masters alone converged in fewer rounds (diabetes: 40.26 after 10
#: rounds against 40.38 after 11 with descent, whose 160-360 patterns a round made each
#: master 2-3 times larger).
DESCENT = False
#: L-BFGS iterations of a descent round.
DESCENT_ITERATIONS = 500
#: A descent's network adds its patterns when it is below the master by this relative
#: margin: the masters are solved to a relative gap of 1e-5, and their values scatter by
#: ~1e-7 from round to round, so smaller "improvements" are solver noise.
DESCENT_RTOL = 1e-6
#: Seed of the generation's random steps when ``fit(seed=None)``: the same input gives
#: the same answer.
DEFAULT_SEED = 0


def exact_pricing_available(Xt: np.ndarray, free: np.ndarray) -> bool:
    """Whether branch and bound can price exactly: every coordinate penalized and rank of
    the lifted data at most :data:`~convexnn.duality.dual_norm.BB_MAX_RANK`."""
    return not free.any() and _rank_reduce(Xt)[0].shape[1] <= BB_MAX_RANK


class PatternPricer:
    r"""Activation patterns as the engine's columns (see the module docstring).

    Parameters
    ----------
    make : callable
        ``make(PatternSet) -> TwoLayerProgram`` over the same data and variant.
    solve_master : callable
        ``solve_master(program) -> ConvexSolution``.
    X, y : ndarray
        The validated data.
    Xt, free, F : ndarray
        The lifted data, its free-coordinate mask, and the free-term basis (or None).
    beta : float
    loss : Loss
    init : ndarray of shape (m, k) or None
        Directions of the init networks.
    rng : numpy Generator
    descent : bool
        Whether the rounds run the L-BFGS descent (:data:`DESCENT`).
    """

    columns_name = "patterns"

    def __init__(self, make: Callable, solve_master: Callable, X: np.ndarray, y: np.ndarray,
                 Xt: np.ndarray, free: np.ndarray, F: np.ndarray | None, *, beta: float,
                 loss: Any, init: np.ndarray | None, rng: np.random.Generator,
                 descent: bool = DESCENT) -> None:
        self.make, self.solve_master = make, solve_master
        self.X, self.y, self.Xt, self.free, self.F = X, y, Xt, free, F
        self.beta, self.loss, self.init, self.rng = beta, loss, init, rng
        self.pen = (~free).astype(float)
        self.exact = exact_pricing_available(Xt, free)
        self.rule = rule_for(Xt.shape[0], provable=self.exact)
        self.descent = descent
        self.G = np.zeros((0, Xt.shape[1]))
        self.warm = (np.zeros((0, Xt.shape[1])), np.zeros(0))
        self.search_starts = 0
        self._new: list[np.ndarray] = []

    @property
    def n_columns(self) -> int:
        return int(self.G.shape[0])

    # ---- 1. seed ------------------------------------------------------------------------
    def start(self, report) -> None:
        n, _ = self.Xt.shape
        parts = [] if self.init is None or not self.init.size else [self.init]
        U0, a0 = random_start(self.Xt, self.y, int(min(n, SEED_WIDTH)), self.rng)
        seed_net = descend(self.Xt, self.y, beta=self.beta, loss=self.loss, pen=self.pen,
                           F=self.F, U0=U0, alpha0=a0, maxiter=SEED_ITERATIONS)
        report.seed_objective = seed_net.objective
        parts.append(seed_net.directions(SEED_RTOL))
        self.G = dedup(self.Xt, np.vstack(parts))
        if not self.G.shape[0]:  # a dead seed (e.g. y = 0): start from sampled gates
            self.G = dedup(self.Xt, sample_patterns(self.Xt, SEED_SAMPLES, seed=self.rng).gates)

    # ---- 2. master ----------------------------------------------------------------------
    def master(self) -> Master:
        S = (self.Xt @ self.G.T) >= 0
        program = self.make(PatternSet(S, self.G, exhaustive=False, method="generated"))
        sol = self.solve_master(program)
        lam = self._lambda(program, program.predict(sol))
        return Master(program, sol, program.objective(sol),
                      state={"lam": lam, "S": S, "net": program.recover(sol)})

    def _lambda(self, program, pred: np.ndarray) -> np.ndarray:
        lo, hi = dual_box(self.loss, self.y)
        return project_dual(-self.loss.gradient(pred, self.y), program.free_basis, lo, hi)

    # ---- 3. pricing ---------------------------------------------------------------------
    def price(self, m: Master) -> Priced:
        lam, S = m.state["lam"], m.state["S"]
        blocks, _ = m.program._active_blocks(m.solution, 1e-6)
        Un, alpha_n = from_blocks(blocks, self.pen)
        m.state.update(Un=Un, alpha=alpha_n)
        fm = self.free if self.free.any() else None
        found = search_round(self.Xt, lam, beta=self.beta, rule=self.rule, rng=self.rng,
                             free=fm, warm=np.vstack([Un, self.warm[0]]),
                             warm_signs=np.concatenate([np.sign(alpha_n), self.warm[1]]))
        self.search_starts += found.starts
        cand, viol = found.candidates, found.violators(self.beta, self.rule)
        self.warm = cand.U[viol][:WARM_KEEP], cand.signs[viol][:WARM_KEEP]
        new = new_directions(self.Xt, cand.U[viol], S)[: self.rule.max_add]
        m.state.update(violators=cand.U[viol], violator_signs=cand.signs[viol])
        self._new = [new]
        return Priced(found.record.found, int(new.shape[0]),
                      detail={"search_starts": found.starts}, note=_note(found),
                      search=found.record, stale=bool(viol.any()) and not new.shape[0],
                      exhausted=(f"{MAX_SEARCH_STARTS:,} search starts"
                                 if self.search_starts >= MAX_SEARCH_STARTS else ""))

    # ---- 4. descent ---------------------------------------------------------------------
    def descend(self, m: Master, priced: Priced) -> Descended:
        if not self.descent:
            return Descended()
        Un, alpha_n = m.state["Un"], m.state["alpha"]
        Uv, sv = m.state["violators"], m.state["violator_signs"]
        Ud, ad = Un, alpha_n
        if Uv.shape[0]:
            k = min(self.rule.max_add // 4, Uv.shape[0])
            scale = 1e-3 * max(1.0, float(np.max(np.abs(alpha_n), initial=1.0)))
            Ud = np.vstack([Un, scale * Uv[:k]])
            ad = np.concatenate([alpha_n, scale * sv[:k]])
        if not Ud.shape[0]:
            return Descended()
        pred = m.program.predict(m.solution)
        a_free = None
        if self.F is not None:
            a_free = np.linalg.lstsq(self.F, pred - np.maximum(self.Xt @ Ud.T, 0.0) @ ad,
                                     rcond=None)[0]
        net = descend(self.Xt, self.y, beta=self.beta, loss=self.loss, pen=self.pen, F=self.F,
                      U0=Ud, alpha0=ad, a0=a_free, maxiter=DESCENT_ITERATIONS)
        new = np.zeros((0, self.Xt.shape[1]))
        if net.objective < m.objective - DESCENT_RTOL * max(1.0, abs(m.objective)):
            new = new_directions(self.Xt, net.directions(), m.state["S"])
        self._new.append(new)
        self.descent = bool(new.shape[0])  # no more once one brought nothing
        return Descended(float(net.objective), int(new.shape[0]))

    # ---- 5. exact pricing ---------------------------------------------------------------
    def prove(self, m: Master) -> Proof | None:
        if not self.exact:
            return None
        level = self.rule.level(self.beta)
        proof, new = branch_bound_pricing(
            self.Xt, m.state["lam"], level,
            lambda u: new_directions(self.Xt, u, m.state["S"]),
            evidence=(m.state["lam"], level, m.solution))
        if new is not None:
            self._new.append(new)
        return proof

    # ---- 6. next columns -----------------------------------------------------------------
    def advance(self, m: Master) -> None:
        keep = m.state["net"].lifted_directions(self.Xt.shape[1] > self.X.shape[1])
        self.G = dedup(self.Xt, np.vstack([keep, *self._new]))
        self._new = []


def _note(found: Searched) -> str:
    """What a round's search covered, in words (the stop's reason quotes it)."""
    r = found.record
    return (f"{found.starts:,} starts, {r.restarts:,} of them random, at the final dual "
            f"point; largest s/beta found {r.found:.6g}, level {r.level:.6g}")


def network_patterns(net: Any, X: np.ndarray, Xt: np.ndarray) -> np.ndarray:
    r"""Patterns :math:`1[\tilde Xu_k \ge 0]` of a network's neurons (gates for a gated one)
    on lifted data, shape (n, m) (:meth:`convexnn.Network.lifted_directions`)."""
    return (Xt @ net.lifted_directions(Xt.shape[1] > X.shape[1]).T) >= 0


__all__ = ["DEFAULT_SEED", "PatternPricer", "dedup", "exact_pricing_available",
           "network_patterns", "new_directions"]
