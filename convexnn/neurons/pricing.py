r"""Pricing for vector output: the dual norm :math:`\max_{\|u_\pi\|\le1}\|\Lambda^\top(\tilde Xu)_+\|_2`.

This is the dual constraint of the vector-output program (THEORY C, A.10 last bullet):
a cone-constrained PCA per cell of the arrangement of :math:`\tilde X`,

.. math::
    s^2 = \max_i \max_{u\in K_i,\ \|u_\pi\|\le1} u^\top M_i u,\qquad
    M_i = \tilde X^\top D_i\Lambda\Lambda^\top D_i\tilde X.

**Exact by face enumeration** (:func:`exact_dual_norm`).  A convex quadratic attains its
maximum over :math:`K_i\cap\{\|u_\pi\|\le1\}` on the boundary sphere, at a point u in the
relative interior of some face, i.e. in a flat :math:`N` (an intersection of
hyperplanes :math:`\tilde x_j^\top u = 0`) and in a full-dimensional cell of the
arrangement restricted to N.  There u is a local maximum of the generalized Rayleigh
quotient :math:`u^\top M_iu / \|u_\pi\|^2` on N, and local maxima of a Rayleigh quotient
are global: u is the top generalized eigenvector of :math:`(B^\top M_iB, B_\pi^\top B_\pi)`
(B a basis of N).  So visiting every flat N, every cell of the arrangement inside N and
its top eigenvector (both signs) visits the maximizer; since every candidate u is a
feasible point, :math:`s = \max` of the candidates' actual values
:math:`\|\Lambda^\top(\tilde Xu)_+\|` (no feasibility test is needed).  This is the
recursion of Sahiner et al.'s ``nonneg_pca`` over faces, organized by flats.  With a free
bias coordinate (:math:`\pi` excludes it) the full space has a singular metric; a cell
where :math:`1^\top D_i\Lambda \ne 0` has no interior local maximum (the quotient is
strictly convex along the bias), and one with :math:`1^\top D_i\Lambda = 0` gives the
weight-only eigenvector with any feasible bias.

**Heuristic** (:func:`ascent_dual_norm`): cell-to-cell power ascent
:math:`u \leftarrow \tilde X^\top D(u)\Lambda\Lambda^\top(\tilde Xu)_+`, normalized, from
many starts; it finds directions (a lower bound on s) and proves nothing.

:func:`crude_bound` is a closed-form upper bound valid for any rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.patterns import _hyperplanes, enumerate_patterns, pattern_count

#: Exact pricing is attempted when the top-level arrangement has at most this many cells.
EXACT_CELL_LIMIT = 5000
#: ... and the flats' cells summed over all levels stay below this.
EXACT_TOTAL_LIMIT = 200_000


@dataclass
class Pricing:
    """Result of a pricing call.

    ``s``: a proven upper bound of the dual norm when ``exhaustive`` (then equal to the
    best value found), else the crude closed-form bound; ``found``: the largest value
    attained by a direction; ``U``/``values``: the best directions (rows, normalized
    :math:`\\|u_\\pi\\| = 1`) and their values, in decreasing order.
    """

    s: float
    found: float
    exhaustive: bool
    U: np.ndarray
    values: np.ndarray
    method: str
    n_candidates: int = 0
    info: dict = field(default_factory=dict)


def values_of(Xt: np.ndarray, Lam: np.ndarray, U: np.ndarray) -> np.ndarray:
    r""":math:`\|\Lambda^\top(\tilde Xu_k)_+\|_2` for the rows :math:`u_k` of U."""
    H = np.maximum(Xt @ U.T, 0.0)
    return np.linalg.norm(Lam.T @ H, axis=0)


def normalize(U: np.ndarray, pen: np.ndarray) -> np.ndarray:
    """Rows scaled to unit penalized norm (rows with zero penalized part are dropped)."""
    nrm = np.linalg.norm(U[:, pen], axis=1)
    keep = nrm > 1e-12 * max(float(nrm.max(initial=0.0)), 1e-300)
    return U[keep] / nrm[keep, None]


def crude_bound(Xt: np.ndarray, Lam: np.ndarray, pen: np.ndarray) -> float:
    r"""A closed-form upper bound of the dual norm for any rank (all coordinates penalized),
    the smallest of four valid bounds.  With :math:`z = \tilde Xu`, :math:`\|u\| \le 1`,
    :math:`h = z_+ = (z + |z|)/2` and the row norms :math:`r_j = \|\lambda_j\|`:

    * :math:`\|\Lambda^\top h\| \le \sum_j r_j|z_j| \le \sum_j r_j\|\tilde x_j\|`;
    * :math:`\|\Lambda^\top h\| \le \|\Lambda\|_2\|h\| \le \|\Lambda\|_2\|\tilde X\|_2`;
    * :math:`\|\Lambda^\top h\| \le \tfrac12\|\Lambda^\top z\| + \tfrac12\sum_j r_j|z_j|
      \le \tfrac12\|\Lambda^\top\tilde X\|_2 + \tfrac12\|r\|_1^{1/2}
      \|\mathrm{diag}(r)^{1/2}\tilde X\|_2` (Cauchy-Schwarz);
    * :math:`\|\Lambda^\top h\|^2 = \sum_i(\lambda_{:i}^\top h)^2` with each
      :math:`|\lambda_{:i}^\top h|` bounded by the scalar closed form
      (:func:`convexnn.duality.dual_norm.global_bound`).

    (Wine, 3 classes, at the fit's dual point: 3.92 against 10.4 for the first, so the
    certificate's lower bound 3.49 against 1.53.)  With a free coordinate the ball does
    not bound u, and ``inf`` is returned."""
    from ..duality.dual_norm import global_bound

    if not pen.all():
        return float("inf")
    rows = np.linalg.norm(Lam, axis=1)
    half = 0.5 * float(np.linalg.norm(Xt.T @ Lam, 2)) + 0.5 * float(
        np.sqrt(np.sum(rows)) * np.linalg.norm(np.sqrt(rows)[:, None] * Xt, 2))
    per_output = float(np.sqrt(sum(global_bound(Xt, Lam[:, i], pen) ** 2
                                   for i in range(Lam.shape[1]))))
    return float(min(np.sum(rows * np.linalg.norm(Xt, axis=1)),
                     np.linalg.norm(Lam, 2) * np.linalg.norm(Xt, 2), half, per_output))


def _flat_candidates(Xt, Lam, B, pen, max_cells, seed):
    """Candidates (rows) of one flat with basis B (d', k): the top generalized eigenvector
    of every cell of the arrangement of Xt B, both signs."""
    n, dp = Xt.shape
    k = B.shape[1]
    R = Xt @ B
    if k == 1:
        u = B[:, 0]
        return np.stack([u, -u]), 2
    Dset = enumerate_patterns(R, max_patterns=max_cells, seed=seed).D  # (n, P)
    P = Dset.shape[1]
    C = np.einsum("nk,np,nc->pkc", R, Dset.astype(np.float64), Lam)  # B^T Xt^T D_p Lam
    E = B[pen].T @ B[pen]
    w_ev, V_ev = np.linalg.eigh(E)
    if w_ev[0] > 1e-12 * max(w_ev[-1], 1e-300):
        Linv = V_ev / np.sqrt(w_ev)  # E^{-1/2} = V diag(w^-1/2) V^T ; z = Linv @ top
        Ct = np.einsum("kj,pkc->pjc", Linv, C)
        Uc, _, _ = np.linalg.svd(Ct, full_matrices=False)
        Z = np.einsum("kj,pj->pk", Linv, Uc[:, :, 0])
        U = Z @ B.T
        return np.concatenate([U, -U]), 2 * P
    # singular metric (full space with a free bias coordinate): bias = last coordinate
    out = []
    b_row = C[:, -1, :]  # 1^T D_p Lam
    scale = max(float(np.max(np.abs(C), initial=0.0)), 1e-300)
    for p in np.flatnonzero(np.linalg.norm(b_row, axis=1) <= 1e-10 * scale):
        Uw, _, _ = np.linalg.svd(C[p, :-1, :], full_matrices=False)
        for sgn in (1.0, -1.0):
            w = sgn * Uw[:, 0] / np.linalg.norm(Uw[:, 0])
            proj = Xt[:, :-1] @ w
            on = Dset[:, p]
            lo = np.max(-proj[on], initial=-np.inf)
            hi = np.min(-proj[~on], initial=np.inf)
            if lo <= hi + 1e-12:
                b = lo if np.isfinite(lo) else (hi if np.isfinite(hi) else 0.0)
                out.append(np.concatenate([w, [b]]))
    return (np.array(out) if out else np.zeros((0, dp))), P


def _children(Xt, B, key):
    """Bases of the flats one hyperplane below the flat B (d', k), with their keys."""
    R = Xt @ B
    A, group, orient, zero = _hyperplanes(R)
    out = []
    for h in range(A.shape[0]):
        _, _, Vt = np.linalg.svd(A[h][None, :])
        Bc = B @ Vt[1:].T  # null space of a_h within the flat
        Bc, _ = np.linalg.qr(Bc)
        rows = np.linalg.norm(Xt @ Bc, axis=1)
        vanish = frozenset(np.flatnonzero(rows <= 1e-9 * max(float(np.max(np.linalg.norm(Xt, axis=1))), 1e-300)).tolist())
        out.append((Bc, vanish))
    return out


def exact_dual_norm(Xt: np.ndarray, Lam: np.ndarray, pen: np.ndarray, *, max_total: int = EXACT_TOTAL_LIMIT,
                    keep: int = 20, seed: int = 0) -> Pricing | None:
    r"""The dual norm exactly, by face enumeration over all flats (see module docstring);
    None when the enumeration would exceed ``max_total`` cells."""
    n, dp = Xt.shape
    U0, S0, Vt0 = np.linalg.svd(Xt, full_matrices=False)
    r = int(np.sum(S0 > 1e-10 * S0[0])) if S0.size and S0[0] > 0 else 0
    if r == 0:
        return Pricing(0.0, 0.0, True, np.zeros((0, dp)), np.zeros(0), "exact")
    if not pen.all() and r < dp:
        return None  # rank-deficient lift with a free coordinate: not handled exactly
    H = _hyperplanes(Xt @ Vt0[:r].T)[0].shape[0]
    if pattern_count(H, r) > EXACT_CELL_LIMIT:
        return None
    start = Vt0[:r].T if pen.all() else np.eye(dp)
    stack = [(start, frozenset())]
    seen = {frozenset()}
    cands, total = [], 0
    while stack:
        B, key = stack.pop()
        U, cnt = _flat_candidates(Xt, Lam, B, pen, max_total, seed)
        total += cnt
        if total > max_total:
            return None
        if U.shape[0]:
            cands.append(U)
        if B.shape[1] > 1:
            for Bc, vk in _children(Xt, B, key):
                if vk not in seen:
                    seen.add(vk)
                    stack.append((Bc, vk))
    U = np.concatenate(cands) if cands else np.zeros((0, dp))
    U = normalize(U, pen) if U.shape[0] else U
    vals = values_of(Xt, Lam, U) if U.shape[0] else np.zeros(0)
    order = np.argsort(-vals)
    s = float(vals[order[0]]) if vals.size else 0.0
    top = order[:keep]
    return Pricing(s, s, True, U[top], vals[top], "exact", n_candidates=int(U.shape[0]),
                   info={"flats": len(seen), "cells": total})


def ascent_dual_norm(Xt: np.ndarray, Lam: np.ndarray, pen: np.ndarray, *, starts: np.ndarray | None = None,
                     n_random: int = 200, iters: int = 40, keep: int = 20, seed=None) -> Pricing:
    r"""Heuristic: power ascent :math:`u \leftarrow \tilde X^\top D(u)\Lambda\Lambda^\top
    (\tilde Xu)_+` from random starts, the top singular directions of
    :math:`\tilde X^\top\Lambda`, and ``starts``; a lower bound on the dual norm only."""
    rng = np.random.default_rng(seed)
    n, dp = Xt.shape
    S = [rng.standard_normal((n_random, dp))]
    Ut, _, _ = np.linalg.svd(Xt.T @ Lam, full_matrices=False)
    S += [Ut.T, -Ut.T]
    if starts is not None and starts.size:
        S.append(starts)
    U = normalize(np.concatenate(S), pen)
    best_U, best_v = U.copy(), values_of(Xt, Lam, U)
    for _ in range(iters):
        Hp = np.maximum(Xt @ U.T, 0.0)  # (n, S)
        Rm = Lam @ (Lam.T @ Hp)
        V = Xt.T @ ((Hp > 0) * Rm)
        U = normalize(V.T, pen)
        if U.shape[0] == 0:
            break
        v = values_of(Xt, Lam, U)
        best_U, best_v = np.concatenate([best_U, U]), np.concatenate([best_v, v])
    order = np.argsort(-best_v)
    found = float(best_v[order[0]]) if best_v.size else 0.0
    top = order[:keep]
    return Pricing(crude_bound(Xt, Lam, pen), found, False, best_U[top], best_v[top], "ascent",
                   n_candidates=int(best_v.size))


def dual_norm(Xt: np.ndarray, Lam: np.ndarray, pen: np.ndarray, *, exact: bool | None = None,
              starts: np.ndarray | None = None, seed=None, keep: int = 20,
              n_random: int = 200) -> Pricing:
    """Exact pricing where the arrangement is small enough (or ``exact=True``), else ascent
    (``n_random`` random starts plus ``starts``).  ``exact=False`` forces the heuristic."""
    if exact is not False:
        res = exact_dual_norm(Xt, Lam, pen, keep=keep,
                              max_total=10 * EXACT_TOTAL_LIMIT if exact else EXACT_TOTAL_LIMIT)
        if res is not None:
            return res
    return ascent_dual_norm(Xt, Lam, pen, starts=starts, seed=seed, keep=keep, n_random=n_random)


__all__ = ["Pricing", "dual_norm", "exact_dual_norm", "ascent_dual_norm", "crude_bound",
           "values_of", "normalize"]
