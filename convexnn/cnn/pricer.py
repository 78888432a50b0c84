r"""The CNN program's column oracle for the generation engine: joint patterns of the
stacked patch matrix.

Pricing is the two-layer scalar pricing on stacked data: for a filter u,

.. math::
    \lambda^\top\rho\sum_k(\tilde X_ku)_+ = \tilde\lambda^\top(Zu)_+,
    \qquad \tilde\lambda = P^\top\lambda = (\lambda; \dots; \lambda)\in\mathbb R^{nK},

so the dual constraint :math:`|\tilde\lambda^\top(Zu)_+| \le \beta\|u\|` is the one of
:mod:`convexnn.duality` on :math:`(Z, \tilde\lambda)`.  For the engine's steps
(:mod:`convexnn.generation`):

* **start**: the init networks' filters and those of short L-BFGS runs of the CNN from
  random starts (:mod:`convexnn.cnn.descent`);
* **master**: :class:`~convexnn.cnn.program.ConvProgram` over the patterns (working-set
  solver);
* **price**: the fixed-point ascent (:func:`convexnn.duality.pricing.price`) from random
  starts and the filters, the exact cone maxima of the best cells it reaches
  (:func:`convexnn.duality.cones.pattern_supports`), and the ascent across the facets of
  the filters' cells into adjacent ones;
* **descend**: L-BFGS from the recovered CNN plus the violators as small filters;
* **prove**: branch and bound over directions (:func:`convexnn.duality.branch_bound.dual_norm_bb`)
  when the rank of Z is at most :data:`~convexnn.duality.dual_norm.BB_MAX_RANK` (small
  patches);
* **advance**: the recovered filters' directions plus the new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.patterns import PatternSet, dedup, new_directions
from ..core.protocol import Descended, Master, Priced, Proof
from ..duality.dual_norm import bb_eligible, branch_bound_pricing
from ..duality.dual_points import dual_box, project_dual
from ..duality.pricing import price
from .descent import descend, random_start

#: Seeding L-BFGS runs from random starts, their width (min(n, SEED_WIDTH)) and
#: iterations.  One run alone can end in a local minimum whose cells give the master
#: nothing to improve and the pricing ascent no violation to find (5 x 5 images, 3 x 3
#: patches: the master stayed at 9.5098 while a torch L-BFGS run reached 9.4826).
#: Digits 3 vs 8 (n = 300, 3 x 3 patches, beta = 1): 300 iterations per seed gave 48.78430
#: after the generation, 1000 gave 48.78302 (the best of ten torch L-BFGS runs: 48.78567).
SEED_RUNS = 4
SEED_WIDTH = 32
SEED_ITERATIONS = 1000
#: Filters whose weight is below this fraction of the largest stay out of the first master.
SEED_RTOL = 1e-2
#: Random starts of the pricing ascent per round (plus the current filters).
PRICING_STARTS = 128
#: New patterns per round from pricing, at most; cells given exact cone maxima.
MAX_ADD = 32
CONE_CANDIDATES = 16
#: Filters (largest first) whose adjacent cells are ascended across facets per round.
FACET_ASCENTS = 8
#: L-BFGS iterations of a descent round.
DESCENT_ITERATIONS = 300
#: A descent's network adds its patterns when below the master by this relative margin.
DESCENT_RTOL = 1e-6
#: A violation counts when the value exceeds beta by this relative margin.
PRICE_RTOL = 1e-6


def _merge(a, b):
    """Two (values, directions, signs) triples as one, by decreasing value."""
    vals = np.concatenate([a[0], b[0]])
    U = np.vstack([a[1], b[1]])
    signs = np.concatenate([a[2], b[2]])
    order = np.argsort(-vals, kind="stable")
    return vals[order], U[order], signs[order]


class ConvPatternPricer:
    r"""Joint patterns of the stacked patch matrix as the engine's columns (see the module
    docstring).

    Parameters
    ----------
    make : callable
        ``make(PatternSet) -> ConvProgram`` over the same data.
    solve_master : callable
        ``solve_master(program) -> ConvexSolution``.
    Z : ndarray of shape (nK, h')
        The stacked patch matrix.
    y : ndarray of shape (n,)
    K : int
        Patches per image.
    F : ndarray or None
        The free-term basis (a column of ones for a free output constant).
    beta, loss, init, rng
        Weight decay, loss oracle, seed directions (m, h') or None, numpy Generator.
    """

    columns_name = "patterns"

    def __init__(self, make: Callable, solve_master: Callable, Z: np.ndarray, y: np.ndarray,
                 K: int, F: np.ndarray | None, *, beta: float, loss: Any,
                 init: np.ndarray | None, rng: np.random.Generator) -> None:
        self.make, self.solve_master = make, solve_master
        self.Z, self.y, self.K, self.F = Z, y, K, F
        self.beta, self.loss, self.init, self.rng = beta, loss, init, rng
        self.exact = bb_eligible(Z)
        self.G = np.zeros((0, Z.shape[1]))
        self._new: list[np.ndarray] = []

    @property
    def n_columns(self) -> int:
        return int(self.G.shape[0])

    def _descend(self, U0, alpha0, c0, maxiter):
        return descend(self.Z, self.y, self.K, beta=self.beta, loss=self.loss,
                       free_constant=self.F is not None, U0=U0, alpha0=alpha0, c0=c0,
                       maxiter=maxiter)

    # ---- 1. seed ------------------------------------------------------------------------
    def start(self, report) -> None:
        width = int(min(self.y.shape[0], SEED_WIDTH))
        parts, best = [], np.inf
        for _ in range(SEED_RUNS):  # local minima differ: their union seeds the program
            U0, a0 = random_start(self.Z.shape[1], self.y, width, self.rng)
            net = self._descend(U0, a0, 0.0, SEED_ITERATIONS)
            best = min(best, net.objective)
            parts.append(net.directions(SEED_RTOL))
        report.seed_objective = best
        if self.init is not None and self.init.size:
            parts.insert(0, self.init)
        self.G = dedup(self.Z, np.vstack(parts))
        if not self.G.shape[0]:  # a dead seed (e.g. y = 0): random directions
            self.G = dedup(self.Z, self.rng.standard_normal((MAX_ADD, self.Z.shape[1])))

    # ---- 2. master ----------------------------------------------------------------------
    def master(self) -> Master:
        S = (self.Z @ self.G.T) >= 0
        program = self.make(PatternSet(S, self.G, exhaustive=False, method="generated"))
        sol = self.solve_master(program)
        lo, hi = dual_box(self.loss, self.y)
        lam = project_dual(-self.loss.gradient(program.predict(sol), self.y),
                           program.free_basis, lo, hi)
        return Master(program, sol, program.objective(sol),
                      state={"lam": lam, "S": S, "net": program.recover(sol)})

    # ---- 3. pricing ---------------------------------------------------------------------
    def price(self, m: Master) -> Priced:
        lam_t = np.tile(m.state["lam"], self.K)
        net = m.state["net"]
        Un = net.lifted_directions(self.Z.shape[1] > net.W1.shape[1])
        starts = [self.rng.standard_normal((PRICING_STARTS, self.Z.shape[1])), Un]
        vals, U, signs = _merge(price(self.Z, lam_t, np.vstack(starts)),
                                self._cells(lam_t, Un, net.W2, m.state["S"]))
        viol = vals > self.beta * (1 + PRICE_RTOL)
        new = new_directions(self.Z, U[viol][: 4 * MAX_ADD], m.state["S"])[:MAX_ADD]
        m.state.update(violators=U[viol], violator_signs=signs[viol])
        self._new = [new]
        return Priced(float(vals[0] / self.beta) if vals.size else 0.0, int(new.shape[0]))

    def _cells(self, lam_t, Un, alpha, S):
        """Exact cone maxima of the cells adjacent to the filters' (each filter is its own
        cell's maximizer at the master's optimum: the ascent across its tight facets,
        :func:`convexnn.duality.dual_norm._ascend`), and of the best cells a fixed-point
        ascent from random starts reaches; (values, directions, signs)."""
        from ..duality.cones import pattern_supports
        from ..duality.dual_norm import _ascend

        pen = np.ones(self.Z.shape[1], bool)
        out = []
        order = np.argsort(-np.abs(alpha) * np.linalg.norm(Un, axis=1))[:FACET_ASCENTS]
        for k in order:
            sign = 1 if alpha[k] >= 0 else -1
            val, u = _ascend(self.Z, lam_t, self.Z @ Un[k] >= 0, sign, Un[k], None, pen)
            out.append((val, u, sign))
        _, Uc, _ = price(self.Z, lam_t, self.rng.standard_normal((PRICING_STARTS, self.Z.shape[1])))
        cells = new_directions(self.Z, Uc[:4 * CONE_CANDIDATES], S)[:CONE_CANDIDATES]
        if cells.shape[0]:
            ps = pattern_supports(self.Z, lam_t, (self.Z @ cells.T) >= 0, prune=False)
            for col, sign in ((0, 1), (1, -1)):
                out += [(ps.lower[i, col], ps.U[i, col], sign) for i in range(cells.shape[0])]
        if not out:
            return np.zeros(0), np.zeros((0, self.Z.shape[1])), np.zeros(0)
        vals, U, signs = zip(*out)
        return np.array(vals), np.array(U), np.array(signs, dtype=float)

    # ---- 4. descent ---------------------------------------------------------------------
    def descend(self, m: Master, priced: Priced) -> Descended:
        net = m.state["net"]
        bias = self.Z.shape[1] > net.W1.shape[1]
        Un = np.hstack([net.W1, net.b1[:, None]]) if bias else net.W1
        an = np.asarray(net.W2, dtype=float)
        Uv, sv = m.state["violators"], m.state["violator_signs"]
        if Uv.shape[0]:
            k = min(MAX_ADD // 4, Uv.shape[0])
            scale = 1e-3 * max(1.0, float(np.max(np.abs(an), initial=1.0)))
            Un, an = np.vstack([Un, scale * Uv[:k]]), np.concatenate([an, scale * sv[:k]])
        if not Un.shape[0]:
            return Descended()
        local = self._descend(Un, an, float(net.c0), DESCENT_ITERATIONS)
        new = np.zeros((0, self.Z.shape[1]))
        if local.objective < m.objective - DESCENT_RTOL * max(1.0, abs(m.objective)):
            new = new_directions(self.Z, local.directions(), m.state["S"])
        self._new.append(new)
        return Descended(float(local.objective), int(new.shape[0]))

    # ---- 5. exact pricing ---------------------------------------------------------------
    def prove(self, m: Master) -> Proof | None:
        if not self.exact:
            return None
        level = self.beta * (1 + PRICE_RTOL)
        proof, new = branch_bound_pricing(
            self.Z, np.tile(m.state["lam"], self.K), level,
            lambda u: new_directions(self.Z, u, m.state["S"]),
            evidence=(m.state["lam"], level, m.solution))
        if new is not None:
            self._new.append(new)
        return proof

    # ---- 6. next columns -----------------------------------------------------------------
    def advance(self, m: Master) -> None:
        net = m.state["net"]
        keep = net.lifted_directions(self.Z.shape[1] > net.W1.shape[1])
        self.G = dedup(self.Z, np.vstack([keep, *self._new]))
        self._new = []


__all__ = ["ConvPatternPricer", "dedup", "new_directions"]
