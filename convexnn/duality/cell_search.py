r"""Exact maxima over activation cells, and a climb through neighbouring cells (THEORY A.7).

For a pattern D and a signed dual point :math:`\lambda_s` the cell maximum is

.. math::
    \max\{\lambda_s^\top D\tilde Xu : (2D - I)\tilde Xu \ge 0,\ \|u_\pi\| \le 1\}
    = \|\Pi_{K_D}(c)\|,\qquad c = \tilde X^\top D\lambda_s

(without free coordinates; Moreau, THEORY A.6), attained at :math:`\Pi_{K_D}(c)/\|\cdot\|`.
The maximizer usually lies on facets :math:`\tilde x_j^\top u = 0` of its cell; every
cell obtained by flipping such tied rows contains it too, so its maximum is at least as
large: :func:`climb` walks to the best such neighbour while that improves.  These are the
polishing steps of :mod:`convexnn.duality.pricing_search`.
"""

from __future__ import annotations

import numpy as np

from ..core.lazy import torch_module as _torch
from .cones import pattern_supports


def cell_maxima(Xt: np.ndarray, lam_s: np.ndarray, D: np.ndarray,
                free: np.ndarray | None = None) -> np.ndarray:
    r"""For each pattern (column of D) the maximizer of
    :math:`\lambda_s^\top D\tilde Xu` over :math:`\{(2D - I)\tilde Xu \ge 0,
    \|u_\pi\| \le 1\}`: without free coordinates :math:`\Pi_K(c)/\|\Pi_K(c)\|`,
    :math:`c = \tilde X^\top D\lambda_s`, by the batched dual active-set projection
    (:func:`convexnn.solvers.cone_projection.project_cones`; a row of zeros where it did
    not finish or :math:`\Pi_K(c) = 0`); with a free coordinate by NNLS
    (:func:`convexnn.duality.cones.pattern_supports`).  Shape (P, d')."""
    if free is not None:
        return pattern_supports(Xt, lam_s, D, free=free, prune=False).U[:, 0]
    from ..solvers.cone_projection import project_cones

    torch = _torch()
    C = (D * lam_s[:, None]).T @ Xt
    res = project_cones(torch.as_tensor(Xt), torch.as_tensor(D),
                        torch.arange(D.shape[1]), torch.as_tensor(C))
    u = res.u.numpy()
    norms = np.linalg.norm(u, axis=1)
    ok = res.exact.numpy() & (norms > 1e-12 * np.maximum(np.linalg.norm(C, axis=1), 1e-300))
    return np.where(ok[:, None], u / np.where(ok, norms, 1.0)[:, None], 0.0)


def climb(Xt: np.ndarray, lam_s: np.ndarray, D: np.ndarray, U: np.ndarray, *,
          rounds: int = 20, max_flips: int | None = None, tie: float = 1e-9
          ) -> tuple[np.ndarray, int]:
    r"""Hill climb over neighbouring cells, batched: from the cell :math:`D_i` and its
    maximizer :math:`u_i` (no free coordinate), the rows tied at :math:`u_i`
    (:math:`|\tilde x_j^\top u_i| \le` ``tie`` :math:`\|\tilde x_j\|`) are flipped one
    at a time and all together; each neighbour contains :math:`u_i`, so its maximum
    (:func:`cell_maxima`) is at least as large, and the best one replaces the cell while
    it improves.  Returns (final maximizers, cells solved)."""
    U = U.copy()
    D = D.copy()
    val = np.maximum(U @ Xt.T, 0.0) @ lam_s
    rown = np.linalg.norm(Xt, axis=1)
    cap = 2 * Xt.shape[1] if max_flips is None else max_flips
    live = np.arange(U.shape[0])
    solves = 0
    for _ in range(rounds):
        owner, cols = [], []
        for i in live:
            tied = np.flatnonzero(np.abs(Xt @ U[i]) <= tie * rown)[:cap]
            flips = [tied[k:k + 1] for k in range(tied.size)] + ([tied] if tied.size > 1 else [])
            for f in flips:
                c = D[:, i].copy()
                c[f] = ~c[f]
                cols.append(c)
                owner.append(i)
        if not cols:
            break
        Dn = np.stack(cols, axis=1)
        Un = cell_maxima(Xt, lam_s, Dn)
        vn = np.maximum(Un @ Xt.T, 0.0) @ lam_s
        solves += Dn.shape[1]
        owner = np.array(owner)
        moved = []
        for i in live:
            k = np.flatnonzero(owner == i)
            if not k.size:  # nothing tied: a strict local maximum
                continue
            b = k[int(np.argmax(vn[k]))]
            if vn[b] > val[i] * (1 + 1e-12) + 1e-300:
                U[i], D[:, i], val[i] = Un[b], Dn[:, b], vn[b]
                moved.append(i)
        live = np.array(moved, dtype=int)
        if not live.size:
            break
    return U, solves


__all__ = ["cell_maxima", "climb"]
