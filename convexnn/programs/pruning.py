r"""Pruning a convex solution to at most n active blocks (THEORY A.3).

If the block fits :math:`f_k = \pm D_{i_k}\tilde X v_k` are linearly dependent modulo the
free subspace F (skip term :math:`X`, output constant :math:`1`), say
:math:`\sum_k c_k f_k = F a`, rescale the blocks by :math:`(1 - t c_k) \ge 0` and move
:math:`t F a` into the free terms: the predictions are unchanged, the penalty
:math:`\beta\sum_k \rho_k (1 - t c_k)` is linear in t, and choosing the sign of c with
:math:`\sum_k c_k\rho_k \ge 0` never increases it.  Increase t until a block vanishes and
repeat; the result has at most :math:`n - \mathrm{rank}(F)` blocks.
"""

from __future__ import annotations

import numpy as np


def prune_blocks(fits: np.ndarray, rho: np.ndarray, F: np.ndarray | None, *,
                 rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Return (scale, a): block k becomes ``scale[k] * block_k`` and ``F @ a`` is added to the
    free terms.  ``fits`` is (n, K), ``rho`` the blocks' penalty weights (K,), F (n, q)."""
    n, K = fits.shape
    scale = np.ones(K)
    a_total = np.zeros(0 if F is None else F.shape[1])
    Q = None
    if F is not None and F.shape[1]:
        Q, s, _ = np.linalg.svd(F, full_matrices=False)
        Q = Q[:, s > 1e-10 * s[0]]
    alive = np.ones(K, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        Fk = fits[:, idx] * scale[idx]
        M = Fk if Q is None else Fk - Q @ (Q.T @ Fk)
        _, sv, Vt = np.linalg.svd(M, full_matrices=idx.size > n)
        top = sv[0] if sv.size else 0.0
        if idx.size <= sv.size and (top == 0 or sv[-1] > rtol * top):
            break  # independent: nothing left to prune
        c = Vt[-1]  # null (or smallest) direction, relative to the current scaled blocks
        if c @ (rho[idx] * scale[idx]) < 0:
            c = -c
        if not np.any(c > 0):
            break
        t = 1.0 / np.max(c)
        if F is not None and F.shape[1]:
            a, *_ = np.linalg.lstsq(F, Fk @ c, rcond=None)
            a_total += t * a
        new = scale[idx] * np.clip(1.0 - t * c, 0.0, None)
        new[np.argmax(c)] = 0.0
        scale[idx] = new
        alive[idx[new <= 0]] = False
    return scale, a_total
