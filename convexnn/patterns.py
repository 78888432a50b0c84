r"""Activation patterns :math:`D_i = \mathrm{diag}(1[X u \ge 0])` of a data matrix.

The patterns are the cells of the central hyperplane arrangement
:math:`\{u : x_j^\top u = 0\}_{j=1}^n` in :math:`\mathbb{R}^d` (THEORY A.2, A.9).  For rows
in general position and :math:`r = \mathrm{rank}(X)` there are exactly

.. math::  P = 2 \sum_{k=0}^{r-1} \binom{n-1}{k}

of them (Cover 1965).  They can be

* **sampled** -- :math:`D = \mathrm{diag}(1[Xg \ge 0])`, :math:`g \sim N(0, I)`, deduplicated:
  a subset, so the convex program gives an *upper* bound on the optimum;
* **enumerated exactly** for small rank -- in closed form for 1-D data with a bias column,
  by an angle sweep for rank 2, and for rank >= 3 by a recursion over facets (with a
  breadth-first search over adjacent cells with LP feasibility tests as fallback);
* **given** by the user as an (n, P) boolean array.

Every pattern set carries *gate vectors* :math:`g_i` with :math:`D_i = 1[Xg_i \ge 0]` where
they are known (a gated ReLU network needs them to predict on new data).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from ._validation import check_int, check_patterns_array
from .exceptions import PatternBudgetError

#: Default cap on the number of exactly enumerated patterns.
MAX_PATTERNS = 20_000
#: Default cap on the boolean pattern matrix, in bytes (n * P).
MAX_PATTERN_BYTES = 2 * 1024**3


@dataclass(frozen=True, eq=False)
class PatternSet:
    """Activation patterns of a (lifted) data matrix.

    Attributes
    ----------
    D : ndarray of bool, shape (n, P)
        Column i is the diagonal of :math:`D_i`.
    gates : ndarray of shape (P, d) or None
        Generating vectors, :math:`D_{:,i} = 1[X g_i \\ge 0]`; ``None`` when unknown.
    exhaustive : bool
        True when D holds every cell of the arrangement (exact enumeration).
    method : str
        "sampled", "exact" or "user".
    seed : int or None
        Seed of the random steps that produced the set.
    """

    D: np.ndarray
    gates: np.ndarray | None
    exhaustive: bool
    method: str
    seed: int | None = None

    @property
    def n_patterns(self) -> int:
        return self.D.shape[1]

    def without_empty(self) -> PatternSet:
        """Drop the all-off pattern (it contributes nothing to any program)."""
        keep = self.D.any(axis=0)
        if keep.all():
            return self
        gates = None if self.gates is None else self.gates[keep]
        return PatternSet(self.D[:, keep], gates, self.exhaustive, self.method, self.seed)

    def with_all_on(self, X: np.ndarray) -> PatternSet:
        """Add the all-on pattern :math:`D = I` if missing (needed with free hidden biases)."""
        if self.D.all(axis=0).any():
            return self
        D = np.concatenate([self.D, np.ones((self.D.shape[0], 1), bool)], axis=1)
        gates = self.gates
        if gates is not None:
            g = _all_on_gate(X)
            gates = None if g is None else np.vstack([gates, g])
        return PatternSet(D, gates, self.exhaustive, self.method, self.seed)


def add_bias_column(X: np.ndarray) -> np.ndarray:
    r""":math:`\tilde X = [X, 1]`."""
    return np.hstack([X, np.ones((X.shape[0], 1))])


def pattern_count(n: int, r: int) -> int:
    r"""Number of cells of n central hyperplanes in general position in rank r:
    :math:`2\sum_{k=0}^{r-1}\binom{n-1}{k}` (an upper bound in general)."""
    n, r = int(n), int(r)
    if n <= 0 or r <= 0:
        return 1
    return 2 * sum(comb(n - 1, k) for k in range(min(r, n)))


def unique_patterns(D: np.ndarray, gates: np.ndarray | None = None):
    """Deduplicate the columns of D (keeping the first gate of each), in first-seen order."""
    packed = np.packbits(D, axis=0)
    _, idx = np.unique(packed, axis=1, return_index=True)
    idx = np.sort(idx)
    return D[:, idx], (None if gates is None else gates[idx])


def sample_patterns(X: np.ndarray, n_gates: int, *, seed: Any = None) -> PatternSet:
    r"""Sample :math:`D = 1[Xg \ge 0]` for ``n_gates`` Gaussian gates :math:`g \sim N(0, I_d)`
    and deduplicate (THEORY A.9).  Returns at most ``n_gates`` distinct patterns."""
    n_gates = check_int("patterns", n_gates)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_gates, X.shape[1]))
    D, G = unique_patterns(X @ G.T >= 0, G)
    return PatternSet(D, G, exhaustive=False, method="sampled",
                      seed=seed if isinstance(seed, int | None) else None)


def _rank_reduce(X: np.ndarray, rtol: float = 1e-10):
    """X = Z B with Z (n, r) of full column rank; a cell's gate z maps back to g = B^+ z."""
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    if S.size == 0 or S[0] == 0:
        return np.zeros((X.shape[0], 0)), Vt[:0]
    r = int(np.sum(S > rtol * S[0]))
    return U[:, :r] * S[:r], Vt[:r]


def _hyperplanes(Z: np.ndarray, decimals: int = 9):
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
    A = np.zeros((H, Z.shape[1]))
    for h in range(H):
        j = np.argmax(group == h)
        A[h] = N[j] * orient[j]
    return A, group, orient, zero


def _cells_to_patterns(signs: np.ndarray, group, orient, zero) -> np.ndarray:
    """Patterns (n, P) of cells given by hyperplane sign vectors ``signs`` (P, H)."""
    D = np.ones((group.size, signs.shape[0]), dtype=bool)
    nz = ~zero
    D[nz] = (orient[nz, None] * signs[:, group[nz]].T) > 0
    return D


def _cells_rank1(A):
    return np.array([[1.0] * len(A), [-1.0] * len(A)]), np.array([[1.0], [-1.0]])


def _cells_rank2(A):
    """Angle sweep: each normal a_h gives critical angles phi_h +- pi/2; cells are the arcs."""
    phi = np.arctan2(A[:, 1], A[:, 0])
    crit = np.sort(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    mids = (crit + np.roll(crit, -1) + np.r_[np.zeros(crit.size - 1), 2 * np.pi]) / 2
    Zc = np.stack([np.cos(mids), np.sin(mids)], axis=1)
    return np.sign(Zc @ A.T), Zc


def _feasible_cell(A: np.ndarray, sign: np.ndarray):
    """Interior point z with sign_h a_h^T z >= 1 for all h, or None (an LP)."""
    from scipy.optimize import linprog

    res = linprog(np.zeros(A.shape[1]), A_ub=-(sign[:, None] * A), b_ub=-np.ones(A.shape[0]),
                  bounds=[(None, None)] * A.shape[1], method="highs")
    return res.x if res.status == 0 else None


def _cells_bfs(A, rng, max_cells):
    """BFS over the cell-adjacency graph: a neighbour flips one hyperplane; it is a cell iff
    an LP is feasible.  The graph is connected, so every cell is reached (THEORY A.9)."""
    H, r = A.shape
    while True:
        z0 = rng.standard_normal(r)
        s0 = A @ z0
        if np.min(np.abs(s0)) > 1e-9 * np.linalg.norm(z0):
            break
    sign0 = np.sign(s0)
    z0 = z0 / np.min(np.abs(s0))  # margin 1
    seen = {sign0.tobytes(): 0}
    signs, points = [sign0], [z0]
    queue = deque([0])
    while queue:
        c = queue.popleft()
        s, z = signs[c], points[c]
        for h in range(H):
            t = s.copy()
            t[h] = -t[h]
            key = t.tobytes()
            if key in seen:
                continue
            # cheap test first: reflect z through hyperplane h
            zr = z - 2 * (A[h] @ z) * A[h]
            m = t * (A @ zr)
            zn = zr / m.min() if m.min() > 1e-9 else _feasible_cell(A, t)
            if zn is None:
                continue
            seen[key] = len(signs)
            signs.append(t)
            points.append(zn)
            queue.append(len(signs) - 1)
            if len(signs) > max_cells:
                raise PatternBudgetError(
                    f"exact enumeration found more than max_patterns={max_cells} patterns; "
                    "sample gates instead (patterns=<int>) or raise max_patterns")
    return np.array(signs), np.array(points)


def _cells_recursive(A: np.ndarray) -> np.ndarray:
    """Interior points of every cell of the central arrangement with unit normals A (H, r).

    Every cell has a facet on some hyperplane h_k, and the facet's relative interior is a
    cell of the arrangement restricted to h_k (the normals projected onto h_k, in r - 1
    dimensions).  So, recursively, cells(A) = U_k {p +- eps a_k : p in cells(A | h_k)},
    with eps small enough not to cross any other hyperplane.  Points may repeat; the caller
    deduplicates sign vectors.
    """
    H, r = A.shape
    if H == 0:
        return np.eye(r)[:1] if r else np.zeros((1, 0))
    if r == 1:
        return np.array([[1.0], [-1.0]])
    if r == 2:
        return _cells_rank2(A)[1]
    out = []
    for k in range(H):
        a = A[k]
        # orthonormal basis Q (r, r-1) of the hyperplane a^T z = 0
        Q = np.linalg.svd(a[None, :])[2][1:].T
        C = np.delete(A, k, axis=0) @ Q  # other normals restricted to h_k
        keep = np.linalg.norm(C, axis=1) > 1e-12
        if keep.any():
            Ah, _, _, _ = _hyperplanes(C[keep])
            Ph = _cells_recursive(Ah)
        else:
            Ph = np.eye(r - 1)[:1]
        Pts = Ph @ Q.T  # points in the relative interior of facets on h_k
        Pts /= np.linalg.norm(Pts, axis=1, keepdims=True)
        # largest step along a_k that crosses no other hyperplane
        M = np.abs(Pts @ A.T)  # (p, H)
        slope = np.abs(A @ a)  # |a_j . a_k|
        with np.errstate(divide="ignore"):
            ratio = np.where(slope[None, :] > 1e-15, M / slope[None, :], np.inf)
        ratio[:, k] = np.inf
        eps = 0.5 * np.min(ratio, axis=1)
        eps = np.where(np.isfinite(eps), np.minimum(eps, 1.0), 1.0)
        out.append(Pts + eps[:, None] * a)
        out.append(Pts - eps[:, None] * a)
    return np.vstack(out)


def _signs_of_points(A: np.ndarray, Zc: np.ndarray, margin: float = 1e-8):
    """Unique sign vectors of points Zc (with one point each); None if some point lies
    within ``margin`` of a hyperplane (numerically degenerate: use the LP search)."""
    S = Zc @ A.T
    scale = np.linalg.norm(Zc, axis=1, keepdims=True)
    if np.any(np.abs(S) <= margin * scale):
        return None
    signs = np.sign(S)
    _, idx = np.unique(signs, axis=0, return_index=True)
    return signs[idx], Zc[idx]


def enumerate_patterns(X: np.ndarray, *, max_patterns: int = MAX_PATTERNS,
                       seed: Any = 0) -> PatternSet:
    r"""All activation patterns :math:`\{1[Xu \ge 0] : u\}` of full-dimensional cells.

    Rank 1 gives two cells; 1-D data with a bias column gives the 2H threshold sets
    :math:`\{x_j \ge t\}, \{x_j \le t\}` (H distinct values); rank 2 uses an angle sweep;
    rank >= 3 a recursion over facets (each cell has a facet on some hyperplane, whose
    relative interior is a cell of the arrangement restricted to it), falling back to a BFS
    over adjacent cells with LP feasibility tests when a point is numerically too close to a
    hyperplane.  Parallel and duplicate rows are grouped into one hyperplane first.

    Raises
    ------
    PatternBudgetError
        If the count :math:`2\sum_{k<r}\binom{H-1}{k}` bound exceeds ``max_patterns`` or the
        (n, P) boolean matrix would exceed the memory budget.
    """
    n = X.shape[0]
    Z, B = _rank_reduce(X)
    r = Z.shape[1]
    if r == 0:
        return PatternSet(np.ones((n, 1), bool), np.zeros((1, X.shape[1])), True, "exact", seed)
    A, group, orient, zero = _hyperplanes(Z)
    H = A.shape[0]
    bound = pattern_count(H, r)
    if bound > max_patterns or bound * n > MAX_PATTERN_BYTES:
        raise PatternBudgetError(
            f"exact enumeration would give up to {bound:,} patterns (n={n} samples, "
            f"{H} distinct hyperplanes, rank {r}); that exceeds max_patterns={max_patterns:,} "
            f"or the {MAX_PATTERN_BYTES / 1024**3:.0f} GiB memory budget. Sample gates instead "
            "(patterns=<int>, e.g. patterns=500), or reduce the rank of X")
    if r == 1:
        signs, Zc = _cells_rank1(A)
    elif r == 2:
        signs, Zc = _cells_rank2(A)
    else:
        found = _signs_of_points(A, _cells_recursive(A))
        if found is None:  # a point too close to a hyperplane: exact LP search instead
            found = _cells_bfs(A, np.random.default_rng(seed), max_patterns)
        signs, Zc = found
    D = _cells_to_patterns(signs, group, orient, zero)
    G = Zc @ B  # g = B^T z gives X g = Z B B^T z = Z z (B has orthonormal rows)
    D, G = unique_patterns(D, G)
    return PatternSet(D, G, exhaustive=True, method="exact", seed=seed)


def enumerate_1d_bias(x: np.ndarray) -> PatternSet:
    r"""Closed form for :math:`\tilde X = [x, 1]`: the 2H threshold sets
    :math:`\{j : x_j \ge t\}` and :math:`\{j : x_j \le t\}` over the H+1 gaps of the sorted
    distinct values (all-on and all-off shared), with gates :math:`(\pm 1, \mp t)`."""
    x = np.asarray(x, dtype=np.float64).ravel()
    u = np.unique(x)
    t = np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2, [u[-1] + 1.0]])
    ge = x[:, None] >= t[None, :]  # t[0]: all on, t[-1]: all off
    le = x[:, None] <= t[None, 1:-1]  # interior thresholds only (ends duplicate ge's)
    D = np.concatenate([ge, le], axis=1)
    G = np.concatenate([np.stack([np.ones_like(t), -t], 1),
                        np.stack([-np.ones(t.size - 2), t[1:-1]], 1)])
    return PatternSet(D, G, exhaustive=True, method="exact", seed=None)


def patterns_from_array(D: Any, X: np.ndarray) -> PatternSet:
    """User-given patterns (n, P); gate vectors are found by LP where the pattern is a cell."""
    D = check_patterns_array(D, X.shape[0])
    D, _ = unique_patterns(D)
    return PatternSet(D, gates_for_patterns(D, X), exhaustive=False, method="user")


def gates_for_patterns(D: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """A gate g_i with 1[X g_i >= 0] = D_i for every column, or None if some column is not a
    cell of the arrangement (then no gated network realises it)."""
    Z, B = _rank_reduce(X)
    S = 2.0 * D - 1.0
    out = np.zeros((D.shape[1], X.shape[1]))
    for i in range(D.shape[1]):
        if Z.shape[1] == 0:
            return None
        z = _feasible_cell(Z, S[:, i])
        if z is None:
            return None
        out[i] = z @ B
    return out


def _all_on_gate(X: np.ndarray) -> np.ndarray | None:
    Z, B = _rank_reduce(X)
    if Z.shape[1] == 0:
        return np.zeros(X.shape[1])
    z = _feasible_cell(Z, np.ones(Z.shape[0]))
    return None if z is None else z @ B


def make_patterns(X: np.ndarray, patterns: Any, *, seed: Any = None,
                  max_patterns: int = MAX_PATTERNS, one_d_bias: bool = False) -> PatternSet:
    """Dispatch on ``patterns``: an int (sample), "exact", or an (n, P) boolean array."""
    if isinstance(patterns, str):
        if patterns != "exact":
            raise ValueError(f"patterns must be an int, 'exact' or an (n, P) boolean array; got {patterns!r}")
        if one_d_bias:
            return enumerate_1d_bias(X[:, 0])
        return enumerate_patterns(X, max_patterns=max_patterns, seed=0 if seed is None else seed)
    if isinstance(patterns, int | np.integer) and not isinstance(patterns, bool):
        return sample_patterns(X, int(patterns), seed=seed)
    if isinstance(patterns, PatternSet):
        if patterns.D.shape[0] != X.shape[0]:
            raise ValueError(f"patterns has {patterns.D.shape[0]} rows; X has {X.shape[0]} samples")
        return patterns
    if isinstance(patterns, np.ndarray | list | tuple):
        return patterns_from_array(patterns, X)
    raise TypeError(f"patterns must be an int, 'exact' or an (n, P) boolean array; got {type(patterns).__name__}")
