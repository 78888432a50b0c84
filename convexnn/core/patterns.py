r"""Activation patterns :math:`D_i = \mathrm{diag}(1[X u \ge 0])` of a data matrix.

The patterns are the cells of the central hyperplane arrangement
:math:`\{u : x_j^\top u = 0\}_{j=1}^n` in :math:`\mathbb{R}^d` (THEORY A.2, A.9).  For rows
in general position and :math:`r = \mathrm{rank}(X)` there are exactly

.. math::  P = 2 \sum_{k=0}^{r-1} \binom{n-1}{k}

of them (Cover 1965).  They can be

* **sampled** -- :math:`D = \mathrm{diag}(1[Xg \ge 0])`, :math:`g \sim N(0, I)`, deduplicated:
  a subset, so the convex program gives an *upper* bound on the optimum;
* **enumerated exactly** for small rank -- in closed form for 1-D data with a bias column,
  by an angle sweep for rank 2, and for rank >= 3 by deletion-restriction
  (:mod:`convexnn.core.arrangement`), with a work estimate known before starting
  (:func:`enumeration_cost`);
* **given** by the user as an (n, P) boolean array.

Every pattern set carries *gate vectors* :math:`g_i` with :math:`D_i = 1[Xg_i \ge 0]` where
they are known (a gated ReLU network needs them to predict on new data).
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from ..exceptions import (
    ConvexNNTypeError,
    ConvexNNValueError,
    PatternBudgetError,
    UnrealizablePatternsError,
    UnrealizablePatternsWarning,
)
from .arrangement import (  # noqa: F401 (budgets re-exported)
    MAX_COUNT_TABLE,
    MAX_ENUMERATION_SECONDS,
    MAX_PATTERN_BYTES,
    MAX_PATTERNS,
    EnumerationCost,
    arrangement_cells,
    estimate_cost,
    group_hyperplanes,
)
from .validation import check_int, check_patterns_array


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
    """Group rows of Z into distinct hyperplanes through 0 (see
    :func:`convexnn.core.arrangement.group_hyperplanes`)."""
    return group_hyperplanes(Z, decimals)


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


def enumeration_cost(X: Any, max_patterns: int = MAX_PATTERNS) -> EnumerationCost:
    r"""The cost of enumerating every activation pattern of ``X`` (lift a bias column
    first if the model has one), in milliseconds and without enumerating.

    Returns an :class:`EnumerationCost`: the Cover bound on the number of cells, the
    estimated seconds (calls and sign entries of the deletion-restriction enumeration,
    :func:`convexnn.core.arrangement.dr_cost`, times measured unit costs) and bytes.  When a
    lower bound on the rank already gives more than ``max_patterns`` cells
    (:math:`2^r`), the answer comes from the shape alone (``estimated_seconds`` infinite).
    ``enumeration_cost(X).fits(max_patterns, max_seconds)`` decides between
    ``patterns="exact"`` and sampling.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConvexNNValueError(f"X must be 2-D; got shape {X.shape}")
    r_low = _rank_lower_bound(X, max_patterns)
    if 2 ** r_low > min(max_patterns, MAX_COUNT_TABLE):  # no SVD, no grouping
        return _over_budget(X, r_low)
    Z, _ = _rank_reduce(X)
    r = Z.shape[1]
    H = _hyperplanes(Z)[0].shape[0] if r else 0
    return estimate_cost(X.shape[0], H, r)


def _over_budget(X: np.ndarray, r_low: int) -> EnumerationCost:
    """The cost known from the shape and a rank lower bound alone (at least 2^r cells)."""
    n, d = X.shape
    upper = pattern_count(n, min(n, d))
    return EnumerationCost(upper, float("inf"), upper * n, n, min(n, d), 2 ** r_low)


def _rank_lower_bound(X: np.ndarray, max_patterns: int) -> int:
    """A lower bound on the numerical rank of X: the rank of up to 64 evenly spaced rows
    (a submatrix has no larger rank) when that already gives 2^r > max_patterns, else of
    all of X; from Gram eigenvalues, counting singular values above 1e-6 of the largest."""
    n, d = X.shape
    if n > 64:
        r = _gram_rank(X[np.linspace(0, n - 1, 64).astype(int)])
        if 2 ** r > max_patterns or min(n, d) > 4096:
            return r
    return _gram_rank(X)


def _gram_rank(X: np.ndarray) -> int:
    G = X.T @ X if X.shape[0] >= X.shape[1] else X @ X.T
    ev = np.linalg.eigvalsh(G)
    top = float(ev[-1]) if ev.size else 0.0
    return int(np.sum(ev > 1e-12 * top)) if top > 0 else 0


def enumerate_patterns(X: np.ndarray, *, max_patterns: int = MAX_PATTERNS,
                       seed: Any = 0,
                       max_seconds: float = MAX_ENUMERATION_SECONDS) -> PatternSet:
    r"""All activation patterns :math:`\{1[Xu \ge 0] : u\}` of full-dimensional cells.

    Rank 1 gives two cells; rank 2 uses an angle sweep; rank >= 3 the deletion-restriction
    construction of :func:`convexnn.core.arrangement.arrangement_cells` (a maximal independent
    subset of the hyperplanes gives all its :math:`2^k` sign vectors directly, so rank =
    number of distinct hyperplanes needs no search).  Parallel and duplicate rows are
    grouped into one hyperplane first.  Each cell's interior point is checked against its
    sign vector and recomputed by an LP where it is too close to a hyperplane.

    Raises
    ------
    PatternBudgetError
        Before any work, if the bound :math:`2\sum_{k<r}\binom{H-1}{k}` exceeds
        ``max_patterns``, the estimated time (:func:`enumeration_cost`) exceeds
        ``max_seconds`` or the (n, P) boolean matrix would exceed the memory budget.
    """
    n = X.shape[0]
    r_low = _rank_lower_bound(X, max_patterns)
    if 2 ** r_low > max_patterns:  # at least 2^rank cells: refuse before the SVD
        _refuse(_over_budget(X, r_low), n, max_patterns, max_seconds, at_least=True)
    Z, B = _rank_reduce(X)
    r = Z.shape[1]
    if r == 0:
        return PatternSet(np.ones((n, 1), bool), np.zeros((1, X.shape[1])), True, "exact", seed)
    A, group, orient, zero = _hyperplanes(Z)
    H = A.shape[0]
    cost = estimate_cost(n, H, r)
    if not cost.fits(max_patterns, max_seconds):
        _refuse(cost, n, max_patterns, max_seconds)
    if r == 1:
        signs, Zc = _cells_rank1(A)
    elif r == 2:
        signs, Zc = _cells_rank2(A)
    else:
        signs, Zc = _checked_points(A, *arrangement_cells(A))
    D = _cells_to_patterns(signs, group, orient, zero)
    G = Zc @ B  # g = B^T z gives X g = Z B B^T z = Z z (B has orthonormal rows)
    D, G = unique_patterns(D, G)
    return PatternSet(D, G, exhaustive=True, method="exact", seed=seed)


def _refuse(cost: EnumerationCost, n: int, max_patterns: int, max_seconds: float,
            at_least: bool = False):
    """Raise the PatternBudgetError for ``cost``."""
    H, r = cost.n_hyperplanes, cost.rank
    low = cost.cells_lower_bound
    count = (f"at least {_fmt_int(low)} patterns (rank {low.bit_length() - 1} or more)"
             if at_least else
             f"up to {_fmt_int(cost.cells_upper_bound)} patterns ({H} distinct hyperplanes, "
             f"rank {r}; estimated {_fmt_seconds(cost.estimated_seconds)}, "
             f"{_fmt_int(cost.estimated_bytes / 1024**2)} MiB)")
    raise PatternBudgetError(
        f"exact enumeration would give {count} for n={n} samples; "
        f"that exceeds max_patterns={max_patterns:,}, max_seconds={max_seconds:g} or the "
        f"{MAX_PATTERN_BYTES / 1024**3:.0f} GiB memory budget. Sample gates instead "
        "(patterns=<int>, e.g. patterns=500), or reduce the rank of X")


def _fmt_int(v: float) -> str:
    return f"{v:,.0f}" if v < 1e12 else f"{float(v):.2e}"


def _fmt_seconds(s: float) -> str:
    return "more than a day" if not np.isfinite(s) or s > 86400 else f"{s:,.1f} s"


def _checked_points(A: np.ndarray, signs: np.ndarray, Zc: np.ndarray):
    """Keep each cell's point where it lies strictly inside (relative margin > 1e-9) on the
    side its sign vector says; recompute the others by an LP (a sign vector no LP
    realizes is dropped: it came from a numerically ambiguous grouping)."""
    S = Zc @ A.T
    scale = np.maximum(np.linalg.norm(Zc, axis=1, keepdims=True), 1e-300)
    bad = np.flatnonzero(np.any(signs * S <= 1e-9 * scale, axis=1))
    keep = np.ones(signs.shape[0], bool)
    for i in bad:
        z = _feasible_cell(A, signs[i].astype(float))
        if z is None:
            keep[i] = False
        else:
            Zc[i] = z
    return signs[keep], Zc[keep]


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
    r"""User-given patterns (n, P); gate vectors are found by LP where the pattern is a cell.

    All-off columns are dropped (they give a zero neuron).  Columns that are not cells of
    the arrangement of X (no g with :math:`1[Xg \ge 0] = D_i`) raise
    :class:`UnrealizablePatternsError` when no column is a cell, else an
    :class:`UnrealizablePatternsWarning` naming how many are not."""
    D = check_patterns_array(D, X.shape[0])
    D, _ = unique_patterns(D[:, D.any(axis=0)])
    gates, ok = _gates_or_none(D, X)
    if not ok.any():
        raise UnrealizablePatternsError(
            f"patterns: none of the {D.shape[1]} given columns is an activation pattern of X "
            "(no gate g has 1[X g >= 0] equal to it), so every neuron would be zero or the "
            "program a relaxation of no network; pass patterns of X (e.g. from "
            "convexnn.sample_patterns), an int to sample gates, or 'exact'")
    if not ok.all():
        warnings.warn(
            f"patterns: {int((~ok).sum())} of the {D.shape[1]} given columns are not "
            "activation patterns of X (no gate realizes them); a ReLU fit uses them only "
            "through the closed cones (lower-dimensional faces), a gated fit cannot recover "
            "gates for them. Keep only realizable columns (patterns[:, mask]) to silence this",
            UnrealizablePatternsWarning, stacklevel=3)
    return PatternSet(D, gates if ok.all() else None, exhaustive=False, method="user")


def gates_for_patterns(D: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """A gate g_i with 1[X g_i >= 0] = D_i for every column, or None if some column is not a
    cell of the arrangement (then no gated network realises it)."""
    gates, ok = _gates_or_none(D, X)
    return gates if ok.all() else None


def _gates_or_none(D: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Gates (P, d) and a mask of the columns that have one: an LP per column for
    :math:`x_j^\top g \ge 1` where :math:`D_{ji}` is on, :math:`\le -1` where it is off,
    over the nonzero rows (a zero row must be on)."""
    Z, B = _rank_reduce(X)
    out = np.zeros((D.shape[1], X.shape[1]))
    ok = np.zeros(D.shape[1], bool)
    if Z.shape[1] == 0:
        ok[:] = D.all(axis=0)
        return out, ok
    nz = np.linalg.norm(Z, axis=1) > 1e-12 * max(float(np.abs(Z).max()), 1.0)
    S = 2.0 * D - 1.0
    for i in range(D.shape[1]):
        if not D[~nz, i].all():
            continue
        z = _feasible_cell(Z[nz], S[nz, i])
        if z is not None:
            out[i], ok[i] = z @ B, True
    return out, ok


def _all_on_gate(X: np.ndarray) -> np.ndarray | None:
    Z, B = _rank_reduce(X)
    if Z.shape[1] == 0:
        return np.zeros(X.shape[1])
    z = _feasible_cell(Z, np.ones(Z.shape[0]))
    return None if z is None else z @ B


#: ``patterns="auto"``: exact enumeration when the arrangement has at most this many cells
#: and its estimated time is at most AUTO_EXACT_SECONDS (:func:`enumeration_cost`).
AUTO_EXACT_LIMIT = 1000
AUTO_EXACT_SECONDS = 2.0
#: ``patterns="auto"`` of a gated model otherwise: this many sampled Gaussian gates (the
#: gated program over them is the gated network with those gates).
AUTO_SAMPLES = 200


def resolve(Xt: np.ndarray, gated: bool = False, *, sampled: int | None = None) -> str | int:
    """What ``patterns="auto"`` means for lifted data ``Xt`` -- decided here only.

    "exact" when the arrangement is enumerable: rank <= 2, or at most
    :data:`AUTO_EXACT_LIMIT` cells in at most :data:`AUTO_EXACT_SECONDS` estimated seconds
    (:func:`enumeration_cost`); otherwise "generate" for ReLU (pattern generation,
    :func:`convexnn.fit`) and :data:`AUTO_SAMPLES` sampled gates for gated.  ``sampled``
    replaces both fallbacks by that many sampled gates (the certificate's pattern search,
    which has no generation).
    """
    cost = enumeration_cost(Xt, max_patterns=AUTO_EXACT_LIMIT)
    if cost.rank <= 2 or cost.fits(AUTO_EXACT_LIMIT, max_seconds=AUTO_EXACT_SECONDS):
        return "exact"
    if sampled is not None:
        return sampled
    return AUTO_SAMPLES if gated else "generate"


def make_patterns(X: np.ndarray, patterns: Any, *, seed: Any = None,
                  max_patterns: int = MAX_PATTERNS, one_d_bias: bool = False) -> PatternSet:
    """Dispatch on ``patterns``: an int (sample), "exact", or an (n, P) boolean array."""
    if isinstance(patterns, str):
        if patterns != "exact":
            raise ConvexNNValueError(f"patterns must be an int, 'exact' or an (n, P) boolean array; got {patterns!r}")
        if one_d_bias:
            return enumerate_1d_bias(X[:, 0])
        return enumerate_patterns(X, max_patterns=max_patterns, seed=0 if seed is None else seed)
    if isinstance(patterns, int | np.integer) and not isinstance(patterns, bool):
        return sample_patterns(X, int(patterns), seed=seed)
    if isinstance(patterns, PatternSet):
        if patterns.D.shape[0] != X.shape[0]:
            raise ConvexNNValueError(f"patterns has {patterns.D.shape[0]} rows; X has {X.shape[0]} samples")
        return patterns
    if isinstance(patterns, np.ndarray | list | tuple):
        return patterns_from_array(patterns, X)
    raise ConvexNNTypeError(f"patterns must be an int, 'exact' or an (n, P) boolean array; got {type(patterns).__name__}")


def dedup(Xt: np.ndarray, U: np.ndarray) -> np.ndarray:
    r"""Directions (rows of U) with distinct patterns :math:`1[\tilde Xu \ge 0]`, the first
    of each; directions whose pattern is all off are dropped."""
    D = (Xt @ U.T) >= 0
    keep = D.any(axis=0)
    return unique_patterns(D[:, keep], U[keep])[1] if keep.any() else U[:0]


def new_directions(Xt: np.ndarray, U: np.ndarray, S: np.ndarray) -> np.ndarray:
    r"""Rows of U whose patterns :math:`1[\tilde Xu \ge 0]` are not columns of S (distinct,
    none all off): the new columns of a pattern generation."""
    if not U.shape[0]:
        return U
    have = {c.tobytes() for c in np.packbits(S, axis=0).T}
    mask = np.array([p.tobytes() not in have for p in np.packbits((Xt @ U.T) >= 0, axis=0).T])
    return dedup(Xt, U[mask]) if mask.any() else U[:0]
