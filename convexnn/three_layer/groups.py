r"""First- and second-level activation patterns of parallel three-layer ReLU networks (E.1).

A sub-network :math:`\sigma(\sum_j s_j (Xz_j)_+)_+` whose first-layer neuron j lies in the
cone :math:`K_{i_j} = \{u: (2D_{1,i_j} - I)Xu \ge 0\}` has the second-level pre-activation

.. math::  h(z) = \sum_j s_j D_{1,i_j} X z_j = M z,\qquad z \in C = K_{i_1}\times\cdots\times K_{i_m}.

The *second-level patterns* of the block list :math:`\tau = ((i_j, s_j))_j` are the sign
vectors :math:`1[h(z) > 0]` of the full-dimensional cells of the arrangement
:math:`\{h_r = 0\}` inside :math:`C` (every z of C is in the closure of one, so these suffice).
On :math:`C` every term :math:`(D_{1,i_j}Xz_j)_r` is :math:`\ge 0`, so row r has a *fixed*
sign unless both signs s occur among the neurons active on it (:math:`D_{1,i_j}[r] = 1`);
only these *free* rows are enumerated, each candidate sign vector by the LP

.. math::  \exists z:\ (2D_{1,i_j}-I)Xz_j \ge 1\ \forall j,\quad e_r h_r(z) \ge 1\ \forall r \text{ free},

whose solution is kept as a witness.  Sampling random sub-networks gives a subset of the
groups (the program is then an upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement, product
from typing import Any

import numpy as np
from scipy.optimize import linprog

from ..core.patterns import make_patterns
from ..exceptions import PatternBudgetError

#: Largest number of free rows enumerated exactly (2**MAX_FREE_ROWS LPs per block list).
MAX_FREE_ROWS = 14
#: Largest number of groups the exact enumeration may produce.
MAX_GROUPS = 20000


@dataclass(frozen=True)
class Groups:
    r"""The groups :math:`g = (\tau, D_2)` of the three-layer program (the output sign is
    added by the program).

    Attributes
    ----------
    D1 : ndarray of bool, shape (n, P1)
        First-level patterns.
    pattern, sign : ndarray of int, shape (G, m)
        Block j of group g: first-level pattern index and sign :math:`s_j = \pm1`.
    D2 : ndarray of bool, shape (G, n)
        Second-level pattern of each group.
    exhaustive : bool
        True when both levels were enumerated exactly (the program is then exact).
    method : str
    """

    D1: np.ndarray
    pattern: np.ndarray
    sign: np.ndarray
    D2: np.ndarray
    exhaustive: bool
    method: str

    @property
    def n_groups(self) -> int:
        return self.D2.shape[0]

    @property
    def blocks(self) -> int:
        """Blocks per group m."""
        return self.pattern.shape[1]


def first_level_patterns(X: np.ndarray, patterns: Any = "exact", *, seed: Any = None) -> tuple[np.ndarray, bool]:
    """First-level patterns (n, P1) without the all-off one, and whether they are exact."""
    pset = make_patterns(X, patterns, seed=seed)
    D = pset.D[:, pset.D.any(axis=0)]
    return D, bool(pset.exhaustive)


def lifted_matrix(X: np.ndarray, D1: np.ndarray, pattern: np.ndarray, sign: np.ndarray) -> np.ndarray:
    r""":math:`M = [s_1 D_{1,i_1}X, \dots, s_m D_{1,i_m}X]`, shape (n, m d)."""
    return np.concatenate([s * D1[:, i, None] * X for i, s in zip(pattern, sign)], axis=1)


def cone_matrix(X: np.ndarray, D1: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    r"""Block-diagonal :math:`\mathrm{diag}((2D_{1,i_j} - I)X)` of the product cone C."""
    n, d = X.shape
    m = len(pattern)
    A = np.zeros((n * m, d * m))
    for j, i in enumerate(pattern):
        A[j * n:(j + 1) * n, j * d:(j + 1) * d] = (2.0 * D1[:, i, None] - 1.0) * X
    return A


def row_types(D1: np.ndarray, pattern: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(free, fixed_on): rows where both signs are active, and rows with only s = +1 active."""
    act = D1[:, pattern]
    pos = (act & (np.asarray(sign) > 0)).any(axis=1)
    neg = (act & (np.asarray(sign) < 0)).any(axis=1)
    return pos & neg, pos & ~neg


def second_level_patterns(X: np.ndarray, D1: np.ndarray, pattern: Any, sign: Any
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Every second-level pattern of one block list, with a witness z for each.

    Returns ``(D2, Z)`` with D2 of shape (q, n) (bool) and Z of shape (q, m, d); patterns
    whose output :math:`D_2 h` vanishes identically (no row on) are left out.
    """
    pattern = np.asarray(pattern, dtype=int)
    sign = np.asarray(sign, dtype=int)
    n, d = X.shape
    m = len(pattern)
    free, fixed_on = row_types(D1, pattern, sign)
    f_rows = np.flatnonzero(free)
    if len(f_rows) > MAX_FREE_ROWS:
        raise PatternBudgetError(
            f"{len(f_rows)} free second-level rows (2**{len(f_rows)} LPs); use sampled "
            "patterns (patterns=<int>) for this data")
    A = cone_matrix(X, D1, pattern)
    A = A[np.abs(A).sum(axis=1) > 0]
    M = lifted_matrix(X, D1, pattern, sign)
    out_D, out_Z = [], []
    for signs in product((1.0, -1.0), repeat=len(f_rows)):
        D2 = fixed_on.copy()
        D2[f_rows] = np.asarray(signs) > 0
        if not D2.any():
            continue
        rows = np.vstack([A, np.asarray(signs)[:, None] * M[f_rows]]) if len(f_rows) else A
        z = _interior_point(rows)
        if z is None:
            continue
        out_D.append(D2)
        out_Z.append(z.reshape(m, d))
    if not out_D:
        return np.zeros((0, n), bool), np.zeros((0, m, d))
    return np.array(out_D), np.array(out_Z)


def _interior_point(rows: np.ndarray) -> np.ndarray | None:
    """A z with rows @ z >= 1, or None if there is none (LP, HiGHS); the witness is
    re-checked in numpy."""
    k = rows.shape[1]
    res = linprog(np.zeros(k), A_ub=-rows, b_ub=-np.ones(rows.shape[0]),
                  bounds=[(None, None)] * k, method="highs")
    if res.status != 0:
        return None
    z = res.x
    if np.min(rows @ z) < 0.5:  # HiGHS tolerance is far tighter; a failure means no cell
        return None
    return z


def exact_groups(X: np.ndarray, *, path: str, m1: int = 2, patterns: Any = "exact",
                 seed: Any = None) -> Groups:
    r"""All groups of the three-layer program.

    ``path="l1"``: one block list with every (pattern, sign) pair, so the groups are its
    second-level patterns; ``path="l2"``: every multiset of m1 (pattern, sign) pairs.
    """
    D1, exact1 = first_level_patterns(X, patterns, seed=seed)
    P1 = D1.shape[1]
    pairs = [(i, s) for i in range(P1) for s in (1, -1)]
    lists = [tuple(pairs)] if path == "l1" else list(combinations_with_replacement(pairs, m1))
    if path == "l2" and len(lists) > MAX_GROUPS:
        raise PatternBudgetError(f"{len(lists):,} block lists for m1={m1}, P1={P1}; lower m1 "
                                 "or sample patterns")
    pat, sgn, D2s = [], [], []
    for lst in lists:
        p = np.array([b[0] for b in lst])
        s = np.array([b[1] for b in lst])
        D2, _ = second_level_patterns(X, D1, p, s)
        for row in D2:
            pat.append(p)
            sgn.append(s)
            D2s.append(row)
        if len(D2s) > MAX_GROUPS:
            raise PatternBudgetError(f"more than {MAX_GROUPS:,} groups; sample patterns instead")
    return Groups(D1, np.array(pat), np.array(sgn), np.array(D2s), exhaustive=exact1,
                  method="exact" if exact1 else "sampled first level")


def sample_subnetworks(X: np.ndarray, n_samples: int, m1: int, *, seed: Any = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Random sub-networks :math:`(\sum_j (XW_j)_+ c_j)`: returns first-level patterns
    (N, m1, n), signs (N, m1) and second-level patterns :math:`1[h > 0]` (N, n)."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    W = rng.standard_normal((n_samples, m1, d))
    c = rng.standard_normal((n_samples, m1))
    pre = np.einsum("nd,kjd->kjn", X, W)
    h = np.einsum("kjn,kj->kn", np.maximum(pre, 0), c)
    return pre >= 0, np.where(c >= 0, 1, -1), h > 0


def sampled_groups(X: np.ndarray, *, path: str, m1: int = 2, n_samples: int = 2000,
                   patterns: Any = "exact", seed: Any = None) -> Groups:
    """Groups from random sub-networks (an upper-bound program): the first-level patterns of
    ``patterns`` plus those of the samples; second-level patterns of the samples."""
    rng = np.random.default_rng(seed)
    D1, _ = first_level_patterns(X, patterns, seed=rng)
    P1pat, S, D2 = sample_subnetworks(X, n_samples, m1 if path == "l2" else max(m1, 4), seed=rng)
    cols = {col.tobytes(): i for i, col in enumerate(D1.T)}
    extra = []
    idx = np.zeros(P1pat.shape[:2], int)
    for a in range(P1pat.shape[0]):
        for j in range(P1pat.shape[1]):
            key = P1pat[a, j].tobytes()
            if key not in cols:
                cols[key] = D1.shape[1] + len(extra)
                extra.append(P1pat[a, j])
            idx[a, j] = cols[key]
    if extra:
        D1 = np.hstack([D1, np.array(extra).T])
    D1, keep = _drop_empty(D1)
    if path == "l1":
        P1 = D1.shape[1]
        p = np.repeat(np.arange(P1), 2)
        s = np.tile([1, -1], P1)
        D2u = np.unique(D2[D2.any(axis=1)], axis=0)
        G = len(D2u)
        return Groups(D1, np.tile(p, (G, 1)), np.tile(s, (G, 1)), D2u, False, "sampled")
    rows = {}
    for a in range(P1pat.shape[0]):
        if not D2[a].any() or not all(keep[i] >= 0 for i in idx[a]):
            continue
        blocks = sorted(zip((keep[i] for i in idx[a]), S[a]))
        key = (tuple(blocks), D2[a].tobytes())
        rows[key] = (np.array([b[0] for b in blocks]), np.array([b[1] for b in blocks]), D2[a])
    vals = list(rows.values())
    return Groups(D1, np.array([v[0] for v in vals]), np.array([v[1] for v in vals]),
                  np.array([v[2] for v in vals]), False, "sampled")


def _drop_empty(D1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop all-off columns; ``keep[i]`` is the new index of column i (-1 if dropped)."""
    on = D1.any(axis=0)
    keep = np.where(on, np.cumsum(on) - 1, -1)
    return D1[:, on], keep


__all__ = ["Groups", "first_level_patterns", "second_level_patterns", "exact_groups",
           "sampled_groups", "sample_subnetworks", "lifted_matrix", "cone_matrix", "row_types"]
