r"""The open nodes of the branch and bound, in buckets of their bound (best first).

A node with bound b above the pruning level L goes to bucket
:math:`\lfloor 4\log_2((b - L)/L)\rfloor` (clipped), so popping from the top bucket
splits the nodes with the largest bounds first: when a budget ends the search, the
largest open bound (the proven upper bound) is as low as the work allowed.  When more
than ``max_pairs`` (node, undecided row) pairs and stored region rays are open, the
lowest bucket is popped instead (its nodes are the closest to being pruned, and their
subtrees the smallest), which caps the memory (about 70 bytes each).
"""

from __future__ import annotations

import numpy as np

from .bb_nodes import NodeSet

#: Bucket range: keys 0 .. _KEYS - 1, key _OFFSET for (b - L)/L = 1.
_KEYS = 256
_OFFSET = 160


class Frontier:
    """Open nodes by bucket; ``pop`` returns up to ``count`` nodes."""

    def __init__(self, max_pairs: int):
        self.max_pairs = max_pairs
        self.buckets: dict[int, list[NodeSet]] = {}
        self.open = 0
        self.pairs = 0

    def __bool__(self) -> bool:
        return self.open > 0

    def push(self, ns: NodeSet, level: float) -> None:
        if not ns.size:
            return
        rel = np.maximum((ns.bound - level) / max(level, 1e-300), 1e-300)
        key = np.clip(np.floor(4.0 * np.log2(rel)) + _OFFSET, 0, _KEYS - 1).astype(int)
        order = np.argsort(key, kind="stable")
        ns, key = ns.take(order), key[order]
        cuts = np.flatnonzero(np.diff(key)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, key.size]):
            self.buckets.setdefault(int(key[lo]), []).append(ns.slice(int(lo), int(hi)))
        self.open += ns.size
        self.pairs += int(ns.ptr[-1]) + int(ns.gptr[-1])

    def pop(self, count: int) -> NodeSet:
        """Up to ``count`` nodes from the top buckets (the bottom ones when over
        ``max_pairs``), whole buckets first and the last one by its largest bounds."""
        low = self.pairs > self.max_pairs
        taken, n = [], 0
        while self.buckets and n < count:
            k = min(self.buckets) if low else max(self.buckets)
            parts = self.buckets.pop(k)
            ns = NodeSet.concat(parts) if len(parts) > 1 else parts[0]
            if n + ns.size > count:
                order = np.argsort(ns.bound if low else -ns.bound, kind="stable")
                self.buckets[k] = [ns.take(order[count - n:])]
                ns = ns.take(order[:count - n])
            taken.append(ns)
            n += ns.size
        out = NodeSet.concat(taken)
        self.open -= n
        self.pairs -= int(out.ptr[-1]) + int(out.gptr[-1])
        return out

    def max_bound(self) -> float:
        """The largest open bound (-inf when empty)."""
        if not self.open:
            return -np.inf
        return max(float(ns.bound.max()) for parts in self.buckets.values() for ns in parts)
