r"""Cells of a central hyperplane arrangement, by deletion-restriction, with a work estimate.

For distinct hyperplanes :math:`h_1, \dots, h_H` through 0 in :math:`\mathbb{R}^r` (unit
normals :math:`a_j`), every cell of :math:`\mathcal{A}_m = \{h_1, \dots, h_m\}` is either

* a cell of :math:`\mathcal{A}_{m-1}` that :math:`h_m` does not cut (same points, one more
  sign), or
* one of the two halves of a cell that :math:`h_m` cuts; the cut cells are exactly the
  cells of the *restriction* :math:`\mathcal{A}_{m-1}|h_m` (an arrangement in
  :math:`r - 1` dimensions), and a point :math:`p` of such a cell gives the two halves
  :math:`p \pm \varepsilon a_m`.

This is Zaslavsky's deletion-restriction identity :math:`c(\mathcal{A}_m) =
c(\mathcal{A}_{m-1}) + c(\mathcal{A}_{m-1}|h_m)`.  :func:`arrangement_cells` starts from a
maximal independent subset (whose :math:`2^k` sign vectors are all cells, with points
:math:`z = A_k^{+}s`), adds the other hyperplanes one at a time and recurses on rank for
the restrictions; the rank-2 arrangements use the angle sweep, the rank-3 ones the union
over hyperplanes of the lifted cells of their restrictions (every cell has a facet).
Every cell is generated at most three times per added hyperplane, so the work is
:math:`O(\sum_m c(\mathcal{A}_m)\, m)` plus the restrictions' (:func:`dr_cost`), never the
factorial number of flags of an undeduplicated facet recursion.
Sign vectors are propagated combinatorially; the points are checked against them at the
end by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

#: Default cap on the number of exactly enumerated patterns.
MAX_PATTERNS = 20_000
#: Default cap on the boolean pattern matrix, in bytes (n * P).
MAX_PATTERN_BYTES = 2 * 1024**3

#: Seconds per call, per sign entry and per cell of the enumeration (measured on one core
#: of the development machine; ``dr_cost`` counts calls and entries).
_SECONDS_PER_CALL, _SECONDS_PER_ENTRY, _SECONDS_PER_CELL = 1e-3, 2e-8, 2e-5
#: Above this many cells no cost table is built (the estimate is infinite).
MAX_COUNT_TABLE = 10**7
#: Default cap on the estimated seconds of an exact enumeration.
MAX_ENUMERATION_SECONDS = 60.0


@dataclass(frozen=True)
class EnumerationCost:
    r"""What an exact enumeration of a data matrix would cost, known before starting.

    Attributes
    ----------
    cells_upper_bound : int
        :math:`2\sum_{k<r}\binom{H-1}{k}` for H distinct hyperplanes of rank r (exact in
        general position).
    estimated_seconds : float
        Predicted wall time of :func:`enumerate_patterns` (one core, order of magnitude).
    estimated_bytes : int
        Memory of the (n, P) pattern matrix and the (P, H) sign vectors at the bound.
    n_hyperplanes, rank : int
        Distinct hyperplanes and rank (upper bounds n and min(n, d) when the rank alone
        already rules the enumeration out).
    cells_lower_bound : int
        At least :math:`2^{\mathrm{rank}}` cells.
    """

    cells_upper_bound: int
    estimated_seconds: float
    estimated_bytes: int
    n_hyperplanes: int
    rank: int
    cells_lower_bound: int = 0

    def fits(self, max_patterns: int = MAX_PATTERNS,
             max_seconds: float = MAX_ENUMERATION_SECONDS) -> bool:
        """Whether the enumeration is within both budgets."""
        return (self.cells_upper_bound <= max_patterns and self.estimated_seconds <= max_seconds
                and self.estimated_bytes <= MAX_PATTERN_BYTES)


def estimate_cost(n: int, H: int, r: int) -> EnumerationCost:
    """The :class:`EnumerationCost` of n samples on H distinct hyperplanes of rank r."""
    bound = cover_count(H, r)
    if r <= 2:  # closed forms: sweep of 2H arcs
        seconds = _SECONDS_PER_ENTRY * bound * max(H, 1) + 1e-3
    elif bound > MAX_COUNT_TABLE:  # far beyond any budget: skip the cost table
        seconds = float("inf")
    else:
        calls, entries = dr_cost(H, r)
        seconds = (_SECONDS_PER_CALL * calls + _SECONDS_PER_ENTRY * entries
                   + _SECONDS_PER_CELL * bound)
    return EnumerationCost(bound, float(seconds), int(bound * (n + H)), H, r,
                           2 ** min(r, H) if H else 1)


#: A point within this relative distance of a hyperplane is "on" it (ambiguous side).
MARGIN = 1e-9


def cover_count(H: int, r: int) -> int:
    r""":math:`2\sum_{k=0}^{r-1}\binom{H-1}{k}` cells of H central hyperplanes in general
    position in rank r (an upper bound for any H hyperplanes of rank r; 1 when H = 0)."""
    if H <= 0 or r <= 0:
        return 1
    return 2 * sum(comb(H - 1, k) for k in range(min(r, H)))


def dr_cost(H: int, r: int) -> tuple[int, int]:
    r"""(calls, sign entries) of :func:`arrangement_cells` on H hyperplanes of rank r in
    general position (an upper bound otherwise):

    .. math:: W(H, r) = \sum_{m=r+1}^{H}\big[c(m, r)\,m + W(m-1, r-1)\big] + 2^r r,

    with the rank-2 sweep costing :math:`2H\cdot H`, the rank-3 facet union
    :math:`2H(H-1)\cdot H`, and calls counted alike."""
    H, r = int(H), int(r)
    r = min(r, H)
    if r <= 0:
        return 1, 1
    # table over (rank, count); rank-2 and rank-1 base cases closed form
    calls = np.zeros(H + 1)
    work = np.zeros(H + 1)
    for m in range(H + 1):  # rank 1: at most one hyperplane after grouping
        calls[m], work[m] = 1, 2
    for k in range(2, r + 1):
        c_new = np.zeros(H + 1)
        w_new = np.zeros(H + 1)
        for m in range(H + 1):
            if m <= k:
                c_new[m], w_new[m] = 1, 2.0 ** m * max(m, 1)
            elif k == 2:
                c_new[m], w_new[m] = 1, 2.0 * m * m
            elif k == 3:  # facet union: m sweeps of m - 1 lines, 2m(m-1) points
                c_new[m], w_new[m] = 1 + m, 2.0 * m * (m - 1) * m
            else:
                c_new[m] = c_new[m - 1] + 1 + calls[m - 1]
                w_new[m] = w_new[m - 1] + cover_count(m, k) * m + work[m - 1]
        calls, work = c_new, w_new
    return int(calls[H]), int(work[H])


def group_hyperplanes(Z: np.ndarray, decimals: int = 9):
    """Group rows of Z into distinct hyperplanes through 0 (parallel rows share one).

    Returns (A, group, orient, zero): A (H, r) unit normals, group[j] the hyperplane of row
    j (-1 for a zero row), orient[j] = +-1 with z_j = |z_j| orient_j A[group_j].
    """
    n = Z.shape[0]
    norms = np.linalg.norm(Z, axis=1)
    zero = norms <= 1e-12 * max(float(norms.max(initial=0.0)), 1.0)
    N = np.zeros_like(Z)
    N[~zero] = Z[~zero] / norms[~zero, None]
    # canonical orientation: first coordinate with |.| > 1e-9 positive
    first = np.argmax(np.abs(N) > 1e-9, axis=1)
    orient = np.where(N[np.arange(n), first] < 0, -1.0, 1.0)
    orient[zero] = 0.0
    canon = np.round(N * orient[:, None], decimals) + 0.0  # +0.0 folds -0.0
    group = np.full(n, -1)
    if (~zero).any():
        _, inv = np.unique(canon[~zero], axis=0, return_inverse=True)
        group[~zero] = inv.ravel()
    H = int(group.max()) + 1
    # normals: the exact normalized first member of each group (the rounded keys are only
    # for grouping; using them as geometry would misplace points near intersections)
    first_member = np.zeros(H, dtype=int)
    members = np.flatnonzero(group >= 0)
    first_member[group[members[::-1]]] = members[::-1]
    A = N[first_member] * orient[first_member, None] if H else np.zeros((0, Z.shape[1]))
    return A, group, orient, zero


def _sweep2(A: np.ndarray):
    """Rank 2: critical angles phi_h +- pi/2 of each normal; one point per arc."""
    phi = np.arctan2(A[:, 1], A[:, 0])
    crit = np.sort(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    mids = (crit + np.roll(crit, -1) + np.r_[np.zeros(crit.size - 1), 2 * np.pi]) / 2
    Zc = np.stack([np.cos(mids), np.sin(mids)], axis=1)
    return np.sign(Zc @ A.T).astype(np.int8), Zc


def _independent_first(A: np.ndarray) -> tuple[np.ndarray, int]:
    """An order of the rows of A with a maximal independent subset first, and its size."""
    from scipy.linalg import qr

    _, R, piv = qr(A.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    k = int(np.sum(diag > 1e-10 * max(float(diag[0]), 1e-300))) if diag.size else 0
    return piv, k


def _keys(S: np.ndarray) -> np.ndarray:
    """One hashable row key per sign vector (rows of +-1)."""
    packed = np.packbits(S > 0, axis=1)
    return np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()


def _lp_point(A: np.ndarray, sign: np.ndarray):
    """z with sign_h a_h^T z >= 1 for all h, or None (an LP)."""
    from scipy.optimize import linprog

    res = linprog(np.zeros(A.shape[1]), A_ub=-(sign[:, None] * A), b_ub=-np.ones(A.shape[0]),
                  bounds=[(None, None)] * A.shape[1], method="highs")
    return res.x if res.status == 0 else None


def arrangement_cells(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign vectors (P, H) int8 and one interior point (P, r) of every cell of the central
    arrangement of distinct hyperplanes with unit normals A (H, r)."""
    H, r = A.shape
    if H == 0:
        return np.zeros((1, 0), np.int8), np.zeros((1, r))
    if r == 2 and H >= 2:
        return _sweep2(A)
    order, k = _independent_first(A)
    if r == 3 and H > k:
        return _facet_cells(A)
    A = A[order]
    # the independent prefix: every sign vector is a cell, z = A_k^+ s has A_k z = s
    S = (((np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1) * 2 - 1).astype(np.int8)
    Zp = S @ np.linalg.pinv(A[:k]).T
    for m in range(k, H):
        S, Zp = _add_hyperplane(A[:m], A[m], S, Zp)
    inv = np.empty_like(order)
    inv[order] = np.arange(H)
    return S[:, inv], Zp


def _lift_restriction(Ad: np.ndarray, a: np.ndarray):
    """The cells of Ad + {a} on both sides of a that touch a: (S_up, S_dn) signs on Ad and
    the points (up, dn) = q +- eps a, for q a point of each cell of Ad restricted to a."""
    m, r = Ad.shape
    Q = np.linalg.svd(a[None, :])[2][1:].T  # orthonormal basis (r, r-1) of a^perp
    Ah, group, orient, zero = group_hyperplanes(Ad @ Q)
    S2h, P2 = arrangement_cells(Ah)
    S = np.empty((S2h.shape[0], m), np.int8)
    S[:, ~zero] = orient[~zero] * S2h[:, group[~zero]]
    q = P2 @ Q.T
    # step along a small enough to cross no other hyperplane
    slope = np.abs(Ad @ a)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(slope[None, :] > 1e-15, np.abs(q @ Ad.T) / slope[None, :], np.inf)
    ratio[:, zero] = np.inf
    eps = np.minimum(0.5 * np.min(ratio, axis=1, initial=np.inf),
                     np.maximum(np.linalg.norm(q, axis=1), 1.0))
    S_dn = S.copy()
    if zero.any():  # hyperplanes parallel to a (numerically): the side is the step's
        sgn = np.sign(Ad[zero] @ a).astype(np.int8)
        S[:, zero], S_dn[:, zero] = sgn, -sgn
    return S, S_dn, q + eps[:, None] * a, q - eps[:, None] * a


def _facet_cells(A: np.ndarray):
    """Every cell has a facet on some hyperplane h_k, whose relative interior is a cell of
    the restriction to h_k: the union over k of the lifts, deduplicated (cheaper than
    deletion-restriction in rank 3: H sweeps)."""
    H = A.shape[0]
    signs, points = [], []
    for k in range(H):
        others = np.r_[0:k, k + 1:H]
        S_up, S_dn, up, dn = _lift_restriction(A[others], A[k])
        for S, Z, s in ((S_up, up, 1), (S_dn, dn, -1)):
            full = np.empty((S.shape[0], H), np.int8)
            full[:, others] = S
            full[:, k] = s
            signs.append(full)
            points.append(Z)
    S, Z = np.vstack(signs), np.vstack(points)
    _, idx = np.unique(_keys(S), return_index=True)
    return S[idx], Z[idx]


def _add_hyperplane(Ad: np.ndarray, a: np.ndarray, S1: np.ndarray, Z1: np.ndarray):
    """Cells of Ad + {a} from the cells (S1, Z1) of Ad and those of Ad restricted to a."""
    S_up, S_dn, lift_up, lift_dn = _lift_restriction(Ad, a)
    # cells of Ad not cut by a keep their point; the cut ones come from the restriction
    cut = np.isin(_keys(S1), _keys(S_up))
    t = Z1 @ a
    unsure = ~cut & (np.abs(t) <= MARGIN * np.maximum(np.linalg.norm(Z1, axis=1), 1e-300))
    keepS, keepZ = S1[~cut], Z1[~cut]
    side = np.sign(t[~cut]).astype(np.int8)
    for i in np.flatnonzero(unsure[~cut]):  # rare: an uncut cell with its point near h_a
        for s in (1, -1):
            z = _lp_point(np.vstack([Ad, a]), np.r_[keepS[i], s].astype(float))
            if z is not None:
                keepZ[i], side[i] = z, s
                break
    one = np.ones((S_up.shape[0], 1), np.int8)
    return (np.vstack([np.hstack([keepS, side[:, None]]), np.hstack([S_up, one]),
                       np.hstack([S_dn, -one])]),
            np.vstack([keepZ, lift_up, lift_dn]))
