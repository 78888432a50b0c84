r"""Batched interior-point solves of the node linear programs, with certified bounds.

The program and its weak-duality bound are in :mod:`convexnn.duality.node_lp_bound`; it
is solved in the primal form (:mod:`convexnn.duality.node_lp_primal`, one system of the
order M of the rays per step) or the dual form (:mod:`convexnn.duality.node_lp_dual`,
order k + q), whichever is smaller.
"""

from __future__ import annotations

import numpy as np

from .node_lp_bound import MAX_ITER
from .node_lp_dual import DualBatch
from .node_lp_primal import PrimalBatch

#: Compact the active nodes once this fraction of them has stopped.
COMPACT = 0.25


def solve_node_lp(W, R, h, V, c, *, prune_below=-np.inf, split_above=np.inf,
                  rtol: float = 1e-10, max_iter: int = MAX_ITER):
    r"""Certified upper bounds of the node LPs of the module docstring.

    A node stops once its bound is at most ``prune_below`` (pruned), its LP value at a
    feasible a exceeds ``split_above`` (this LP cannot prune it), or the duality gap is
    below ``rtol`` (relative).  Returns (upper, value, a, t): the certified bound, the
    largest LP objective at a feasible iterate (a lower bound of the LP; -inf if none),
    that iterate, and the hinge multipliers :math:`t_j/c_j \in [0, 1]` of the last
    iterate (valid secant slopes for any sub-node).
    """
    B, r = W.shape
    scale = np.maximum(np.abs(W).max(axis=1), np.max(np.abs(c), axis=1, initial=0.0))
    scale = np.where(scale > 0, scale, 1.0)
    lo = np.broadcast_to(np.asarray(prune_below, float), (B,)) / scale
    hi = np.broadcast_to(np.asarray(split_above, float), (B,)) / scale
    upper, value = np.full(B, np.inf), np.full(B, -np.inf)
    a_best = np.zeros((B, r))
    t_out = np.zeros((B, V.shape[1]))
    form = PrimalBatch if r <= V.shape[1] + R.shape[1] else DualBatch
    with np.errstate(all="ignore"):
        bt = form.start(W / scale[:, None], R, h, V, c / scale[:, None])
        act = np.arange(B)
        live = np.ones(B, bool)
        for it in range(max_iter + 1):
            ub, val = bt.bounds()
            better = val > value[act]
            a_best[act[better]] = bt.a[better]
            upper[act] = np.minimum(upper[act], ub)
            value[act] = np.maximum(value[act], val)
            t_out[act] = bt.t_ratio()
            u, v = upper[act], value[act]
            live &= ~((u <= lo[act]) | (v > hi[act]) | (u - v <= rtol * np.maximum(1.0, np.abs(u))))
            if it == max_iter or not live.any():
                break
            if (~live).mean() >= COMPACT:
                keep = np.flatnonzero(live)
                bt, act, live = bt.take(keep), act[keep], np.ones(keep.size, bool)
            bt.iterate()
            bad = ~bt.finite()
            if bad.any():  # numerical breakdown: keep the bounds found so far, drop the node
                keep = np.flatnonzero(live & ~bad)
                bt, act, live = bt.take(keep), act[keep], np.ones(keep.size, bool)
                if not keep.size:
                    break
    return upper * scale, value * scale, a_best, t_out

