r"""Pruning a convex solution to at most n active blocks (THEORY A.3).

If the block fits :math:`f_k` are linearly dependent modulo the free subspace F (skip
term :math:`X`, output constant :math:`1`), say :math:`\sum_k c_k f_k = F a`, rescale the
blocks by :math:`(1 - t c_k) \ge 0` and move :math:`t F a` into the free terms: the
predictions are unchanged, the penalty :math:`\beta\sum_k \rho_k (1 - t c_k)` is linear
in t, and choosing the sign of c with :math:`\sum_k c_k\rho_k \ge 0` never increases it.
Increase t until a block vanishes and repeat; the result has at most
:math:`n - \mathrm{rank}(F)` blocks.

Dependence is measured on *normalized* columns :math:`f_k/\|f_k\|` (projected off F), so
that a block at noise level is not mistaken for a null direction; a null vector e of the
normalized matrix gives :math:`c_k = e_k/\|f_k\|`.  Rescaling a block does not change its
normalized column, so after a step the null space of the remaining blocks is the old one
with coordinate j eliminated: one SVD, then cheap updates, with the residual checked at
every step and the SVD recomputed when it drifts.
"""

from __future__ import annotations

import numpy as np


def carrying_weight(weights: np.ndarray, rtol: float) -> np.ndarray:
    r"""Mask of the neurons that carry weight, :math:`w_k > \mathrm{rtol}\max_l w_l`, for
    per-neuron weights :math:`w_k \ge 0` (e.g. :math:`|\alpha_k|\|u_k\|`; weight decay drives
    the others towards zero)."""
    return weights > rtol * float(weights.max(initial=0.0))


def _project_out(A: np.ndarray, Q: np.ndarray | None) -> np.ndarray:
    return A if Q is None else A - Q @ (Q.T @ A)


def _null_space(M: np.ndarray, rtol: float) -> tuple[np.ndarray, float]:
    """Basis (K, r) of the numerical null space of M (n, K), singular values <= rtol*top,
    and the top singular value."""
    # the null space lies in the trailing rows of V^T: all K of them are needed only when
    # K > n (the thin SVD of a tall M already has K rows)
    _, sv, Vt = np.linalg.svd(M, full_matrices=M.shape[1] > M.shape[0])
    top = float(sv[0]) if sv.size else 0.0
    rank = int(np.sum(sv > rtol * top)) if top > 0 else 0
    return Vt[rank:].T, top


#: :func:`_independent` proves :math:`\lambda_{min}(N^\top N) > ` this for normalized columns N.
INDEPENDENCE_MARGIN = 1e-6


def _independent(Mn: np.ndarray) -> bool:
    r"""True when the normalized columns Mn (n, K) are proven linearly independent with
    margin: the Cholesky factorization of :math:`C - \delta I`, :math:`C = M_n^\top M_n`,
    :math:`\delta` = :data:`INDEPENDENCE_MARGIN`, succeeds.  Then
    :math:`\sigma_{min}(M_n)^2 > \delta` while :math:`\sigma_{max}^2 \le \mathrm{tr}\,C = K`,
    so no singular value is below :math:`\sqrt{\delta/K}\,\sigma_{max}`: the null space
    at any ``rtol`` with :math:`\mathrm{rtol}^2K < \delta` is empty (the caller checks
    that).  Roundoff in C and in the factorization is about :math:`K^2\epsilon`, far below
    :math:`\delta`.  About 1 ms where the SVD takes 13-15 (442 x 287); False
    (inconclusive) sends the caller to the SVD."""
    from scipy.linalg.lapack import dpotrf

    n, K = Mn.shape
    if K == 0:
        return True
    if K > n or K * K * np.finfo(float).eps > 1e-3 * INDEPENDENCE_MARGIN:
        return False
    C = Mn.T @ Mn
    C[np.diag_indices(K)] -= INDEPENDENCE_MARGIN
    _, info = dpotrf(C, lower=1, clean=0, overwrite_a=1)
    return info == 0


def prune_blocks(fits: np.ndarray, rho: np.ndarray, F: np.ndarray | None, *,
                 rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Return (scale, a): block k becomes ``scale[k] * block_k`` and ``F @ a`` is added to the
    free terms.  ``fits`` is (n, K), ``rho`` the blocks' penalty weights (K,), F (n, q)."""
    n, K = fits.shape
    scale = np.ones(K)
    a_total = np.zeros(0 if F is None else F.shape[1])
    Q = None
    if F is not None and F.shape[1]:
        U, s, _ = np.linalg.svd(F, full_matrices=False)
        Q = U[:, s > 1e-10 * s[0]]
    P = _project_out(fits, Q)
    w = np.linalg.norm(P, axis=0)  # norms of the projected fits at scale 1
    # blocks whose fit lies in span(F) (or is zero) move into the free terms whole
    inside = w <= 1e-12 * max(float(w.max(initial=0.0)), 1e-300)
    if inside.any():
        scale[inside] = 0.0
        if Q is not None:
            a, *_ = np.linalg.lstsq(F, fits[:, inside].sum(axis=1), rcond=None)
            a_total += a
    alive = np.flatnonzero(~inside)
    Pn = P / np.where(w > 0, w, 1.0)  # normalized columns: unchanged by rescaling
    for _ in range(K + 1):  # outer passes: recompute the null space until none is left
        if alive.size == 0:
            break
        if rtol * rtol * alive.size < INDEPENDENCE_MARGIN and _independent(Pn[:, alive]):
            break  # no null space: nothing to prune (proven without the SVD)
        N, top = _null_space(Pn[:, alive], rtol)
        fresh = True
        while N.shape[1] and alive.size:
            e = N[:, 0]
            # a null vector of the SVD has residual up to rtol * top; recompute the basis
            # only when an update drifted beyond that (never right after an SVD: that
            # would recompute the same basis again and again)
            if not fresh and np.linalg.norm(Pn[:, alive] @ e) > 10 * rtol * max(top, 1.0) * np.linalg.norm(e):
                break
            fresh = False
            c = e / (w[alive] * scale[alive])  # sum_k c_k (scaled fit_k) lies in span(F)
            if c @ (rho[alive] * scale[alive]) < 0:  # never increase the penalty
                c = -c
            if not np.any(c > 0):
                break
            j = int(np.argmax(c))
            t = 1.0 / c[j]
            if Q is not None:
                # the free part of sum_k c_k f_k goes into the free terms
                a, *_ = np.linalg.lstsq(F, (fits[:, alive] * scale[alive]) @ c, rcond=None)
                a_total += t * a
            factor = np.clip(1.0 - t * c, 0.0, None)
            factor[j] = 0.0
            scale[alive] *= factor
            keep = factor > 0
            if keep.sum() != alive.size - 1:  # ties: several blocks vanish; recompute
                alive = alive[keep]
                break
            # null space of the normalized columns left: eliminate coordinate j
            p = int(np.argmax(np.abs(N[j])))
            N = N - np.outer(N[:, p], N[j] / N[j, p])
            N = np.delete(np.delete(N, p, axis=1), j, axis=0)
            alive = alive[keep]
        else:
            if N.shape[1] == 0:
                break
    return scale, a_total
