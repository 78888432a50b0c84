r"""Nodes of the branch and bound over directions: simplicial cones with fixed rows.

The search maximizes

.. math:: f_\sigma(v) = \sigma\sum_i w_i(n_i^\top v)_+ \quad\text{over } \|v\|\le1,\ v\in\mathbb R^r,

with unit normals :math:`n_i` (the merged rows of the rank-reduced data, :class:`Rows`) and
:math:`\sigma = \pm1`.  A node is a cone :math:`C = \{Ea : a\ge0\}` spanned by r unit rays
(the columns of E), for one sign, cut by sign constraints :math:`\pm n_i^\top v \ge 0` on
some rows (activation splits).  With :math:`V_{ik} = n_i^\top e_k`, a row is *decided*
active (inactive) on C when :math:`V_{i\cdot}\ge0` (:math:`\le0`); the decided active rows
sum into :math:`c = \sum\sigma w_in_i` (carried from parent to child), the others are
*undecided* and listed per node (CSR arrays of (node, row) pairs, with each pair's sign
constraint and its inherited secant slope).  :func:`children` branches a node by bisecting
an edge or by an activation split; the bounds are in :mod:`convexnn.duality.bb_bounds`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product

import numpy as np

from ..core.arrangement import group_hyperplanes

#: Per-pair arrays of a NodeSet (CSR offsets ``ptr``) and per-stored-ray arrays
#: (offsets ``gptr``).
PAIR_FIELDS = ("rows", "fix", "tdual", "vals")
GEN_FIELDS = ("gens", "gmask")
_GROUPS = (("ptr", PAIR_FIELDS), ("gptr", GEN_FIELDS))


@dataclass(frozen=True)
class Rows:
    r"""The merged rows :math:`f(v) = \sum_i w_i(n_i^\top v)_+` of :math:`\lambda^\top(Zv)_+`.

    Rows of Z with the same direction merge (:math:`\lambda_j(z_j^\top v)_+ =
    \lambda_j\|z_j\|(\hat z_j^\top v)_+`); ``merge_error`` bounds
    :math:`|f - \lambda^\top(Zv)_+|` for :math:`\|v\|\le1` (directions equal to 1e-9 are
    merged at the group's normal: :math:`\sum_j|\lambda_j|\|z_j\|\|\hat z_j - n_{g(j)}\|`).
    """

    N: np.ndarray
    w: np.ndarray
    merge_error: float
    abs_sum: float

    @classmethod
    def from_data(cls, Z: np.ndarray, lam: np.ndarray) -> Rows:
        A, group, orient, zero = group_hyperplanes(Z)
        norms = np.linalg.norm(Z, axis=1)
        keep = ~zero
        key = 2 * group[keep] + (orient[keep] > 0)
        uniq, inv = np.unique(key, return_inverse=True)
        N = A[uniq // 2] * np.where(uniq % 2 == 1, 1.0, -1.0)[:, None]
        weight = lam[keep] * norms[keep]
        w = np.bincount(inv, weights=weight, minlength=uniq.size)
        unit = Z[keep] / norms[keep, None]
        err = float(np.sum(np.abs(weight) * np.linalg.norm(unit - N[inv], axis=1)))
        live = w != 0.0
        return cls(N[live], w[live], err, float(np.sum(np.abs(w))))

    def value(self, V: np.ndarray, sign: np.ndarray | float = 1.0) -> np.ndarray:
        r""":math:`\sigma\sum_i w_i(n_i^\top v)_+` for rows v of V (m, r)."""
        return sign * (np.maximum(V @ self.N.T, 0.0) @ self.w)


@dataclass
class NodeSet:
    """A batch of nodes (struct of arrays; undecided rows in CSR form, see module doc)."""

    E: np.ndarray        # (B, r, r) unit rays in columns
    sign: np.ndarray     # (B,) +-1.0
    c: np.ndarray        # (B, r) sum of omega_i n_i over decided active rows
    ptr: np.ndarray      # (B + 1,) offsets into the pair arrays
    rows: np.ndarray     # (P,) undecided rows
    fix: np.ndarray      # (P,) 0 free, +1 / -1 sign-constrained
    tdual: np.ndarray    # (P,) secant slope in [0, 1] from an LP, -1 if none yet
    vals: np.ndarray     # (P, r) the row's values at the cone's rays, n_i^T e_k
    gptr: np.ndarray     # (B + 1,) offsets into the stored region rays (the parent's
    gens: np.ndarray     # (G, r) region, for an activation child), rays and
    gmask: np.ndarray    # (G,) tight-constraint masks (:mod:`convexnn.duality.bb_region`)
    gbits: np.ndarray    # (B,) mask bits in use by the stored region
    pending: np.ndarray  # (B,) the row constrained since the stored region (-1: none)
    bound: np.ndarray    # (B,) proven upper bound of f over the node
    branch: np.ndarray   # (B,) >= 0: row of an activation split; -1: bisect the longest
                         # edge; <= -2: bisect edge -2 - branch (= k r + l)
    ustar: np.ndarray    # (B, r) the LP maximizer's direction (0 if none)
    depth: np.ndarray    # (B,)

    @property
    def size(self) -> int:
        return self.E.shape[0]

    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    def pair_node(self) -> np.ndarray:
        return np.repeat(np.arange(self.size), self.counts())

    def take(self, idx: np.ndarray) -> NodeSet:
        """The nodes ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        data = {}
        for ptr_name, group in _GROUPS:
            old = getattr(self, ptr_name)
            cnt = np.diff(old)[idx]
            ptr = np.zeros(idx.size + 1, dtype=np.int64)
            np.cumsum(cnt, out=ptr[1:])
            at = np.repeat(old[idx] - ptr[:-1], cnt) + np.arange(ptr[-1])
            data[ptr_name] = ptr
            data.update({name: getattr(self, name)[at] for name in group})
        data.update({f.name: getattr(self, f.name)[idx] for f in fields(self)
                     if f.name not in data})
        return NodeSet(**data)

    def slice(self, lo: int, hi: int) -> NodeSet:
        """Nodes lo..hi-1 as views of this set's arrays (no copy)."""
        data = {}
        for ptr_name, group in _GROUPS:
            ptr = getattr(self, ptr_name)
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            data[ptr_name] = ptr[lo:hi + 1] - p0
            data.update({name: getattr(self, name)[p0:p1] for name in group})
        data.update({f.name: getattr(self, f.name)[lo:hi] for f in fields(self)
                     if f.name not in data})
        return NodeSet(**data)

    @staticmethod
    def concat(parts: list[NodeSet]) -> NodeSet:
        nonempty = [p for p in parts if p.size]
        if len(nonempty) <= 1:
            return nonempty[0] if nonempty else parts[0]
        data = {}
        for ptr_name, _ in _GROUPS:
            ptrs, off = [np.zeros(1, dtype=np.int64)], 0
            for p in nonempty:
                ptr = getattr(p, ptr_name)
                ptrs.append(ptr[1:] + off)
                off += int(ptr[-1])
            data[ptr_name] = np.concatenate(ptrs)
        data.update({f.name: np.concatenate([getattr(p, f.name) for p in nonempty])
                     for f in fields(NodeSet) if f.name not in data})
        return NodeSet(**data)

    def with_regions(self, G: np.ndarray, mask: np.ndarray, count: np.ndarray,
                     bits: np.ndarray) -> NodeSet:
        """The nodes with (G, mask, count, bits) stored as their regions (no pending row)."""
        valid = np.arange(G.shape[2])[None, :] < count[:, None]
        b, k = np.nonzero(valid)
        self.gptr = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(count, out=self.gptr[1:])
        self.gens, self.gmask = G[b, :, k], mask[b, k]
        self.gbits, self.pending = np.asarray(bits, dtype=np.int64), np.full(self.size, -1)
        return self

    def stored_regions(self):
        """(G (B, r, M), mask (B, M), count (B,)) of the stored regions, padded."""
        count = np.diff(self.gptr)
        M = max(int(count.max(initial=0)), 1)
        r = self.E.shape[1]
        G = np.zeros((self.size, r, M))
        mask = np.zeros((self.size, M), dtype=np.uint64)
        b = np.repeat(np.arange(self.size), count)
        k = np.arange(b.size) - self.gptr[b]
        G[b, :, k], mask[b, k] = self.gens, self.gmask
        return G, mask, count


def root_nodes(rows: Rows, signs: tuple[float, ...]) -> NodeSet:
    """The 2^r orthants of R^r, for each sign, every row undecided."""
    m, r = rows.N.shape
    orth = np.array(list(product((1.0, -1.0), repeat=r)))
    E = np.concatenate([np.stack([np.diag(s) for s in orth])] * len(signs))
    B = E.shape[0]
    sign = np.repeat(np.asarray(signs, float), orth.shape[0])
    return NodeSet(E=E, sign=sign, c=np.zeros((B, r)),
                   ptr=np.arange(B + 1, dtype=np.int64) * m,
                   rows=np.tile(np.arange(m, dtype=np.int32), B),
                   fix=np.zeros(B * m, dtype=np.int8), tdual=np.full(B * m, -1.0),
                   vals=np.concatenate([rows.N * s[None, :] for s in orth] * len(signs)),
                   gptr=np.zeros(B + 1, dtype=np.int64), gens=np.zeros((0, r)),
                   gmask=np.zeros(0, dtype=np.uint64), gbits=np.full(B, r),
                   pending=np.full(B, -1),
                   bound=np.full(B, np.inf),
                   branch=np.full(B, -1, dtype=np.int64), ustar=np.zeros((B, r)),
                   depth=np.zeros(B, dtype=np.int32))


def children(ns: NodeSet) -> NodeSet:
    """Branch every node: bisect its longest edge (``branch`` -1), or split on the sign of
    row ``branch`` (two children with that row fixed active / inactive)."""
    geo = ns.branch < 0
    out = []
    if geo.any():
        g = ns.take(np.flatnonzero(geo))
        G = np.einsum("nik,nil->nkl", g.E, g.E)
        r = G.shape[1]
        G[:, np.arange(r), np.arange(r)] = np.inf
        code = np.where(g.branch <= -2, -2 - g.branch, G.reshape(g.size, -1).argmin(axis=1))
        k, l = np.divmod(code, r)
        idx = np.arange(g.size)
        mid = g.E[idx, :, k] + g.E[idx, :, l]
        nrm = np.linalg.norm(mid, axis=1)
        mid /= nrm[:, None]
        A, B = g.take(idx), g.take(idx)
        A.E, B.E = g.E.copy(), g.E.copy()
        A.E[idx, :, l] = mid
        B.E[idx, :, k] = mid
        # the rows' values at the new ray, from those at its ends
        pn = g.pair_node()
        vm = (g.vals[np.arange(pn.size), k[pn]] + g.vals[np.arange(pn.size), l[pn]]) / nrm[pn]
        A.vals[np.arange(pn.size), l[pn]] = vm
        B.vals[np.arange(pn.size), k[pn]] = vm
        out += [_forget_regions(A), _forget_regions(B)]
    if (~geo).any():
        a = ns.take(np.flatnonzero(~geo))
        for s in (1, -1):
            child = a.take(np.arange(a.size))
            hit = child.rows == np.repeat(a.branch, a.counts())
            child.fix[hit] = s
            child.pending = a.branch.copy()  # the stored region, cut by this row's sign
            out.append(child)
    kids = NodeSet.concat(out)
    kids.depth = kids.depth + 1
    kids.branch = np.full(kids.size, -1, dtype=np.int64)
    return kids


def _forget_regions(ns: NodeSet) -> NodeSet:
    """The nodes without stored regions (their cones changed)."""
    ns.gptr = np.zeros(ns.size + 1, dtype=np.int64)
    ns.gens, ns.gmask = ns.gens[:0], ns.gmask[:0]
    ns.gbits, ns.pending = np.full(ns.size, ns.E.shape[1]), np.full(ns.size, -1)
    return ns


def row_range(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max, min) over the columns of a pair array (P, M), by a loop over its few columns
    (numpy's reductions along a short axis are several times slower)."""
    hi, lo = vals[:, 0].copy(), vals[:, 0].copy()
    for k in range(1, vals.shape[1]):
        np.maximum(hi, vals[:, k], out=hi)
        np.minimum(lo, vals[:, k], out=lo)
    return hi, lo


def segsum(vals: np.ndarray, node: np.ndarray, B: int) -> np.ndarray:
    """Per-node sums of pair rows vals (P, ...) -> (B, ...), for sorted ``node``."""
    out = np.zeros((B,) + vals.shape[1:])
    if node.size:
        starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
        out[node[starts]] = np.add.reduceat(vals, starts, axis=0)
    return out


