r"""Extreme rays of a simplicial cone cut by sign constraints (double description).

A node with activation splits is the region :math:`R = \{Ea : a \ge 0\} \cap
\{v : h_t^\top v \ge 0,\ t = 1..T\}`.  Its extreme rays generate it, and the node bound is
tightest over them: the concave envelope of a convex function over a polyhedral section is
its interpolation at the vertices, so the relaxation gaps of the other rows shrink with
the region (:mod:`convexnn.duality.bb_bounds`).

The rays are computed by the double description method, one constraint at a time: rays
with :math:`h^\top v \ge 0` stay, and every *adjacent* pair (k, l) with
:math:`h^\top g_k > 0 > h^\top g_l` gives the new ray
:math:`(h^\top g_k\, g_l - h^\top g_l\, g_k)/(h^\top g_k - h^\top g_l)` on the hyperplane.
Each ray carries the bitmask of the constraints tight at it (the simplex's facets first:
ray k lies on every facet but the k-th), and two rays are adjacent exactly when no third
ray's mask contains the intersection of theirs (the minimal face containing both holds no
other extreme ray; Fukuda & Prodon 1996, combinatorial adjacency test), the intersection
having at least r - 2 constraints.  A new ray's mask is that intersection plus the new
constraint, so the masks are exact, whatever the rounding of the rays themselves.
"""

from __future__ import annotations

import numpy as np

#: Rays with |h^T g| below this count as lying on the cutting hyperplane.
ON_PLANE = 1e-13
#: Constraints beyond this many (r + T <= 64 mask bits) are dropped: the region then grows,
#: which keeps every bound valid.
MAX_BITS = 64


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(x.shape + (8,)), axis=-1).sum(axis=-1)


def _cut(G, mask, valid, h, bit, r):
    """Apply :math:`h^\\top v \\ge 0` to every cone of the batch (G (B, r, M) rays in
    columns, mask (B, M) uint64, valid (B, M)); returns the new (G, mask, valid)."""
    B, _, M = G.shape
    v = np.einsum("bi,bim->bm", h, G)
    v = np.where(np.abs(v) <= ON_PLANE, 0.0, v)
    pos, neg = valid & (v > 0), valid & (v < 0)
    keep = valid & ~neg
    on = valid & (v == 0)
    mask = np.where(on, mask | bit[:, None], mask)
    # candidate pairs: k above, l below the hyperplane, with r - 2 common constraints
    b, k, l = np.nonzero(pos[:, :, None] & neg[:, None, :])
    common = mask[b, k] & mask[b, l]
    ok = _popcount(common) >= r - 2
    b, k, l, common = b[ok], k[ok], l[ok], common[ok]
    # adjacency: no third valid ray whose mask contains the common constraints
    third = valid[b] & ((mask[b] & common[:, None]) == common[:, None])
    third[np.arange(b.size), k] = False
    third[np.arange(b.size), l] = False
    adj = ~third.any(axis=1)
    b, k, l, common = b[adj], k[adj], l[adj], common[adj]
    vk, vl = v[b, k][:, None], v[b, l][:, None]
    new = (vk * G[b, :, l] - vl * G[b, :, k]) / (vk - vl)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    # pack: kept rays first, then the new ones, per cone
    count = keep.sum(axis=1) + np.bincount(b, minlength=B)
    Mn = max(int(count.max(initial=0)), 1)
    G2 = np.zeros((B, r, Mn))
    mask2 = np.zeros((B, Mn), dtype=np.uint64)
    slot = np.cumsum(keep, axis=1) - 1
    kb, km = np.nonzero(keep)
    G2[kb, :, slot[kb, km]] = G[kb, :, km]
    mask2[kb, slot[kb, km]] = mask[kb, km]
    order = np.argsort(b, kind="stable")
    start = np.searchsorted(b[order], np.arange(B))
    pos_new = np.empty(b.size, dtype=np.int64)
    pos_new[order] = np.arange(b.size) - start[b[order]]
    at = keep.sum(axis=1)[b] + pos_new
    G2[b, :, at] = new
    mask2[b, at] = common | bit[b]
    valid2 = np.arange(Mn)[None, :] < count[:, None]
    return G2, mask2, valid2


def _finish(G, mask, valid):
    """(G, mask, count) with the rays packed first and padding columns repeating ray 0."""
    B = G.shape[0]
    count = valid.sum(axis=1)
    first = np.argmax(valid, axis=1)
    G = np.where(valid[:, None, :], G, G[np.arange(B), :, first][:, :, None])
    return G, np.where(valid, mask, np.uint64(0)), count


def _apply(G, mask, valid, h, live, bit, r):
    """One constraint per live cone; the others keep their rays."""
    G2, mask2, valid2 = _cut(G, mask, valid & live[:, None], h, bit, r)
    Mx = max(G.shape[2], G2.shape[2])
    G, mask, valid = _widen(G, Mx), _widen(mask, Mx), _widen(valid, Mx)
    G2, mask2, valid2 = _widen(G2, Mx), _widen(mask2, Mx), _widen(valid2, Mx)
    return (np.where(live[:, None, None], G2, G), np.where(live[:, None], mask2, mask),
            np.where(live[:, None], valid2, valid))


def region_rays(E: np.ndarray, H: np.ndarray, nH: np.ndarray):
    r"""Extreme rays of :math:`\{Ea : a\ge0\}\cap\{h_t^\top v \ge 0\}` for a batch.

    Parameters
    ----------
    E : ndarray of shape (B, r, r)
        Simplicial cones (rays in columns).
    H : ndarray of shape (B, T, r)
        Constraint normals; cone b uses its first ``nH[b]`` rows.
    nH : ndarray of shape (B,)

    Returns
    -------
    G : ndarray of shape (B, r, M)
        Unit rays in columns; padded columns repeat ray 0 (they change neither the cone
        nor any bound).
    mask : ndarray of uint64, shape (B, M)
        Constraints tight at each ray (bits 0..r-1: the simplex's facets; then one per
        constraint applied).
    count : ndarray of shape (B,)
        Rays per cone (0: the region is {0}).
    bits : ndarray of shape (B,)
        Mask bits in use (r + constraints applied; at most MAX_BITS).
    """
    B, r, _ = E.shape
    full = np.uint64((1 << r) - 1)
    mask = np.broadcast_to(full ^ (np.uint64(1) << np.arange(r, dtype=np.uint64)), (B, r)).copy()
    G, valid = E.copy(), np.ones((B, r), bool)
    T = min(H.shape[1], MAX_BITS - r)
    for t in range(T):
        live = nH > t
        if not live.any():
            break
        bit = np.where(live, np.uint64(1) << np.uint64(r + t), np.uint64(0))
        G, mask, valid = _apply(G, mask, valid, np.where(live[:, None], H[:, t], 0.0), live, bit, r)
    return (*_finish(G, mask, valid), r + np.minimum(nH, T))


def cut_rays(G, mask, count, h, bits):
    r"""The rays of the cones (G, mask, count) cut by :math:`h^\top v \ge 0` (one normal per
    cone; a zero row, or a cone out of mask bits, keeps its rays: a larger region, so
    every bound stays valid).  Returns (G, mask, count, bits) as :func:`region_rays`."""
    B, r, M = G.shape
    valid = np.arange(M)[None, :] < count[:, None]
    live = np.any(h != 0, axis=1) & (bits < MAX_BITS)
    bit = np.where(live, np.uint64(1) << np.minimum(bits, MAX_BITS - 1).astype(np.uint64),
                   np.uint64(0))
    G, mask, valid = _apply(G, mask, valid, h, live, bit, r)
    return (*_finish(G, mask, valid), bits + live)


def _widen(x: np.ndarray, M: int) -> np.ndarray:
    """Pad the last axis of x with zeros (False) to length M."""
    if x.shape[-1] == M:
        return x
    pad = [(0, 0)] * (x.ndim - 1) + [(0, M - x.shape[-1])]
    return np.pad(x, pad)
