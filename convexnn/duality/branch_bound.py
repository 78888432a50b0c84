r"""Branch and bound over directions: a proven bound on the dual norm without listing cells.

.. math::
    s(\lambda) = \max_{\|u\|_2\le1}\ |\lambda^\top(\tilde Xu)_+|
               = \max_{\sigma=\pm1}\max_{\|v\|_2\le1}\ \sigma\lambda^\top(Zv)_+,\qquad
    \tilde X = ZB,\ BB^\top = I_r,

(THEORY A.7, A.10; every coordinate penalized, so only the row space of :math:`\tilde X`
matters and the search runs on the unit ball of :math:`\mathbb R^r`, r = rank).  Both
signs share one search.  Nodes are simplicial cones of directions, possibly cut by the
sign of some rows (:mod:`convexnn.duality.bb_nodes`); each is bounded by a linear program
in which the rows with :math:`\sigma\lambda_j > 0` are relaxed by their concave envelope
over the cone and the rows with :math:`\sigma\lambda_j < 0` are kept exact (a concave
hinge), with a certified dual bound (:mod:`convexnn.duality.node_lp`).

**Search.**  The nodes with the largest bounds are split first
(:mod:`convexnn.duality.bb_frontier`): a bisection of the longest edge, or, where few
relaxed rows remain, an activation split on the row whose relaxation gap at the LP
maximizer is largest.  Nodes whose bound is at most the pruning level
:math:`L = \max(\text{floor}, \text{best}(1 + \text{rtol}))` are dropped, so when no node
is open, :math:`s \le L`.  The LP maximizers and the cones' centroids give directions
whose exact values are lower bounds of s (``best``); with ``stop_above``, a value above it
ends the search (a violated constraint).  A node budget (or an explicit time cap) ends the
search early with the largest open bound, still a valid upper bound of s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..core.patterns import _rank_reduce
from .bb_bounds import evaluate
from .bb_frontier import Frontier
from .bb_leaves import leaf_bounds
from .bb_nodes import NodeSet, Rows, children, root_nodes
from .bb_polish import polish

#: Default node budget of one search (both signs together).
MAX_NODES = 2_000_000
#: Parents split per step (their children are bounded in one vectorized batch).
BATCH = 4096
#: Undecided (node, row) pairs per evaluated chunk (memory: about 100 bytes each).
PAIR_CHUNK = 400_000
#: Open (node, undecided row) pairs above which the frontier pops its lowest bucket
#: (memory cap: about 70 bytes a pair).
MAX_OPEN_PAIRS = 15_000_000
#: Roundoff allowance on every node bound, relative to the sum of |weights|.
ROUNDOFF = 1e-12
#: Candidate directions polished per evaluated batch.
POLISH = 2


@dataclass
class BranchBoundResult:
    r"""Outcome of a search (:func:`search`, :func:`maximize_relu`).

    Attributes
    ----------
    upper : float
        Proven: :math:`s \le` ``upper`` (over the signs searched).
    lower : float
        Attained: :math:`\sigma\lambda^\top(\tilde Xu)_+ =` ``lower`` with
        :math:`\|u\| = 1`, :math:`\sigma` = ``sign``.
    u : ndarray of shape (d',)
        That direction (in the coordinates of :math:`\tilde X`).
    sign : int
    stopped : str
        "complete" (no open node: ``upper`` is the pruning level), "violation" (``lower``
        exceeds ``stop_above``), "node budget" or "time cap"; ``upper`` is then the largest
        open bound (infinite if a seed direction was a violation before any node).
    nodes : int
        Nodes bounded.
    lp_solves : int
        Nodes bounded by the linear program.
    time : float
    """

    upper: float
    lower: float
    u: np.ndarray
    sign: int
    stopped: str
    nodes: int
    lp_solves: int
    time: float

    @property
    def complete(self) -> bool:
        return self.stopped == "complete"

    @property
    def violated(self) -> bool:
        return self.stopped == "violation"


def _chunks(ns: NodeSet):
    """Split a node set into chunks of at most :data:`PAIR_CHUNK` undecided pairs."""
    ends = np.searchsorted(ns.ptr[1:], np.arange(1, ns.ptr[-1] // PAIR_CHUNK + 2) * PAIR_CHUNK)
    lo = 0
    for hi in list(np.unique(np.minimum(ends + 1, ns.size))) + [ns.size]:
        if hi > lo:
            yield ns.take(np.arange(lo, hi))
            lo = hi


class _Search:
    """State of one search: rows, incumbent, level, counters."""

    def __init__(self, Xt, lam, signs, floor, rtol, stop_above):
        self.Z, self.basis = _rank_reduce(np.asarray(Xt, dtype=np.float64))
        self.Xt = np.asarray(Xt, dtype=np.float64)
        self.lam = np.asarray(lam, dtype=np.float64)
        self.rows = Rows.from_data(self.Z, self.lam)
        self.margin = self.rows.merge_error + ROUNDOFF * self.rows.abs_sum
        self.signs, self.floor, self.rtol, self.stop_above = signs, floor, rtol, stop_above
        self.best, self.best_v, self.best_sign = 0.0, np.zeros(self.Z.shape[1]), signs[0]
        self.nodes = self.lp_solves = self.leaves = 0
        self.leaf_top = -np.inf
        self.polished: set = set()
        self.polish_calls = 0

    def level(self) -> float:
        return max(self.floor, self.best * (1 + self.rtol))

    def offer(self, value: float, v: np.ndarray, sign: float) -> None:
        """A candidate direction v (r-space): its exact value replaces the incumbent if
        larger (the merged rows' value only selects it)."""
        if value <= self.best:
            return
        exact = sign * float(self.lam @ np.maximum(self.Z @ v, 0.0)) / max(float(np.linalg.norm(v)), 1e-300)
        if exact > self.best:
            self.best, self.best_v, self.best_sign = exact, v / np.linalg.norm(v), sign

    def seed(self, starts: np.ndarray | None) -> None:
        if starts is None or not len(starts):
            return
        V = np.atleast_2d(starts) @ self.basis.T
        V = V[np.linalg.norm(V, axis=1) > 0]
        for s in self.signs:
            vals = self.rows.value(V / np.linalg.norm(V, axis=1, keepdims=True), s)
            if vals.size:
                i = int(np.argmax(vals))
                self.offer(float(vals[i]) + self.margin, V[i], s)

    def bound(self, ns: NodeSet) -> NodeSet:
        """Evaluate a node set in chunks; returns the survivors."""
        self.nodes += ns.size
        out = []
        for part in _chunks(ns):
            ev = evaluate(self.rows, part, self.level(), self.margin)
            self.lp_solves += ev.lp_solves
            self.take_candidates(ev)
            out.append(self.exact_leaves(ev.nodes))
        return NodeSet.concat(out) if out else ns.take(np.zeros(0, dtype=np.int64))

    def exact_leaves(self, ns: NodeSet) -> NodeSet:
        """Bound exactly (:mod:`convexnn.duality.bb_leaves`) the nodes with no free
        positive row (f is concave there); returns the others."""
        node = ns.pair_node()
        pos = (ns.fix == 0) & (ns.sign[node] * self.rows.w[ns.rows] > 0)
        leaf = np.bincount(node[pos], minlength=ns.size) == 0
        if not leaf.any():
            return ns
        lv = ns.take(np.flatnonzero(leaf))
        up, lo, V = leaf_bounds(self.rows, lv)
        self.leaves += lv.size
        for b in np.flatnonzero(lo > 0):
            self.offer(float(lo[b]) + self.margin, V[b], float(lv.sign[b]))
        self.leaf_top = max(self.leaf_top, float(up.max()) + self.margin)
        return ns.take(np.flatnonzero(~leaf))

    def take_candidates(self, ev) -> None:
        """Offer the batch's best directions, and polish (:mod:`convexnn.duality.bb_polish`)
        the best :data:`POLISH` whose cells were not polished before."""
        polished = 0
        for val, v, s in zip(ev.values, ev.directions, ev.signs):
            self.offer(float(val) + self.margin, v, float(s))
            key = (float(s), np.packbits(self.rows.N @ v >= 0).tobytes())
            if polished < POLISH and key not in self.polished:
                self.polished.add(key)
                polished += 1
                pv, pu = polish(self.rows, v, float(s))
                self.polish_calls += 1
                if pv > 0:
                    self.offer(pv + self.margin, pu, float(s))

    def violated(self) -> bool:
        return self.stop_above is not None and self.best > self.stop_above


def search(Xt: np.ndarray, lam: np.ndarray, *, signs: tuple[int, ...] = (1, -1),
           floor: float = 0.0, rtol: float = 1e-9, stop_above: float | None = None,
           max_nodes: int = MAX_NODES, time_limit: float | None = None,
           starts: np.ndarray | None = None) -> BranchBoundResult:
    r"""Bound :math:`\max_\sigma\max_{\|u\|\le1}\sigma\lambda^\top(\tilde Xu)_+` over the
    given signs from above and below (module docstring).

    Parameters
    ----------
    Xt : ndarray of shape (n, d')
        Lifted data (every coordinate penalized).
    lam : ndarray of shape (n,)
    signs : tuple of int, default=(1, -1)
    floor : float, default=0.0
        Pruning level at least this: on completion ``upper`` is at most
        ``max(floor, lower (1 + rtol))`` (a dual certificate needs floor = beta).
    rtol : float, default=1e-9
    stop_above : float, optional
        End at the first direction whose value exceeds it (pricing).
    max_nodes : int, default=MAX_NODES
        Node budget (work, not seconds: the same input gives the same answer anywhere).
    time_limit : float, optional
        Seconds; only as an explicit cap (the answer then depends on the machine).
    starts : ndarray of shape (m, d'), optional
        Directions whose values seed the incumbent (e.g. a network's neurons).
    """
    t0 = time.perf_counter()
    st = _Search(Xt, lam, tuple(float(s) for s in signs), float(floor), float(rtol), stop_above)
    if st.Z.shape[1] == 0 or not st.rows.w.size:
        return _result(st, "complete", st.level(), t0)
    st.seed(starts)
    frontier = Frontier(MAX_OPEN_PAIRS)
    if st.violated():  # nothing bounded yet: no upper bound but the closed form's
        return _result(st, "violation", np.inf, t0)
    frontier.push(st.bound(root_nodes(st.rows, st.signs)), st.level())
    stopped = "complete"
    while frontier:
        if st.violated():
            stopped = "violation"
            break
        if st.nodes >= max_nodes:
            stopped = "node budget"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped = "time cap"
            break
        # two children per parent: stay within the node budget
        parents = frontier.pop(max(1, min(BATCH, (max_nodes - st.nodes) // 2)))
        parents = parents.take(np.flatnonzero(parents.bound > st.level()))
        if parents.size:
            frontier.push(st.bound(children(parents)), st.level())
    if st.violated():  # found by the last batch, or the frontier emptied above stop_above
        stopped = "violation"
    # every node is open or pruned below the level: valid whatever ended the search
    upper = max(st.level(), frontier.max_bound(), st.leaf_top)
    return _result(st, stopped, upper, t0)


def _result(st: _Search, stopped: str, upper: float, t0: float) -> BranchBoundResult:
    u = st.best_v @ st.basis
    nrm = float(np.linalg.norm(u))
    u = u / nrm if nrm > 0 else np.zeros(st.Xt.shape[1])
    return BranchBoundResult(float(upper), float(max(st.best, 0.0)), u, int(st.best_sign),
                             stopped, int(st.nodes), int(st.lp_solves), time.perf_counter() - t0)


def maximize_relu(Xt: np.ndarray, lam: np.ndarray, *, floor: float = 0.0, rtol: float = 1e-9,
                  stop_above: float | None = None, max_nodes: int = MAX_NODES,
                  time_limit: float | None = None,
                  starts: np.ndarray | None = None) -> BranchBoundResult:
    r"""Bound :math:`s^+ = \max_{\|u\|\le1}\lambda^\top(\tilde Xu)_+` (one sign; see
    :func:`search`)."""
    return search(Xt, lam, signs=(1,), floor=floor, rtol=rtol, stop_above=stop_above,
                  max_nodes=max_nodes, time_limit=time_limit, starts=starts)


def dual_norm_bb(Xt: np.ndarray, lam: np.ndarray, *, floor: float, rtol: float = 1e-9,
                 stop_above: float | None = None, max_nodes: int = MAX_NODES,
                 time_limit: float | None = None,
                 starts: np.ndarray | None = None) -> BranchBoundResult:
    r"""Both signs of :math:`\max_{\|u\|\le1}|\lambda^\top(\tilde Xu)_+|` in one search
    (:func:`search`)."""
    return search(Xt, lam, signs=(1, -1), floor=floor, rtol=rtol, stop_above=stop_above,
                  max_nodes=max_nodes, time_limit=time_limit, starts=starts)


__all__ = ["BranchBoundResult", "search", "maximize_relu", "dual_norm_bb", "MAX_NODES"]
