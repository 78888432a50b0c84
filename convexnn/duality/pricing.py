r"""Heuristic pricing: directions u with a large dual-constraint value (THEORY A.10).

.. math::
    f_\lambda(u) = \frac{\lambda^\top(\tilde Xu)_+}{\|u_\pi\|_2},

maximized from many starts at once by the fixed-point ascent

.. math::
    w \leftarrow \frac{g_\pi}{\|g_\pi\|},\quad g = \tilde X^\top\big(\lambda\odot 1[\tilde Xu > 0]\big),

the maximizer of the linearization of :math:`f_\lambda` at u over the unit sphere (for a
fixed pattern D it is the exact maximizer of :math:`\lambda^\top D\tilde Xu`, so each step
jumps to the best direction of the current cell's linear piece and on to the cell that
direction lies in).  A free hidden bias is re-optimized exactly after every step
(:func:`best_bias`).  The best value seen per start is kept, so the result never gets
worse than the start.  Any direction with :math:`f > \beta` is a violated dual constraint:
its pattern :math:`1[\tilde Xu \ge 0]` improves the master program.  Nothing here is a
proof; :mod:`convexnn.duality.branch_bound` gives one.
"""

from __future__ import annotations

import numpy as np


def best_bias(Zw: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""For each row z of ``Zw`` (the values :math:`Xw`), :math:`\max_b \lambda^\top(z + b)_+`
    and its maximizer, assuming :math:`1^\top\lambda = 0` (else b is taken among the
    breakpoints only).

    The objective is piecewise linear in b with breakpoints :math:`b = -z_j`; with z
    sorted decreasingly, :math:`b = -z_{(k)}` activates the first k-1 rows and gives
    :math:`\sum_{i<k}\lambda_{(i)}z_{(i)} - z_{(k)}\sum_{i<k}\lambda_{(i)}`.
    """
    order = np.argsort(-Zw, axis=1)
    zs = np.take_along_axis(Zw, order, axis=1)
    ls = lam[order]
    cum_lz = np.cumsum(ls * zs, axis=1) - ls * zs  # sums over i < k
    cum_l = np.cumsum(ls, axis=1) - ls
    vals = cum_lz - zs * cum_l
    k = np.argmax(vals, axis=1)
    rows = np.arange(Zw.shape[0])
    return vals[rows, k], -zs[rows, k]


def ascend(Xt: np.ndarray, lam: np.ndarray, U0: np.ndarray, *, free: np.ndarray | None = None,
           steps: int = 30) -> tuple[np.ndarray, np.ndarray]:
    r"""(values, directions): the best :math:`f_\lambda` found from each row of ``U0``
    by the fixed-point ascent, directions scaled to :math:`\|u_\pi\| = 1`.

    ``free`` masks a free (bias) coordinate of :math:`\tilde X`, which must then be the
    last one.
    """
    pen = np.ones(Xt.shape[1], bool) if free is None else ~free
    has_free = free is not None and bool(free.any())
    X = Xt[:, pen]
    U = np.array(U0, dtype=np.float64, copy=True)
    best = np.full(U.shape[0], -np.inf)
    bestU = U.copy()
    for _ in range(steps + 1):
        nrm = np.linalg.norm(U[:, pen], axis=1)
        nrm = np.where(nrm > 0, nrm, 1.0)
        U = U / nrm[:, None]
        if has_free:
            val, b = best_bias(U[:, pen] @ X.T, lam)
            U[:, ~pen] = b[:, None]
        Z = U @ Xt.T
        M = Z > 0
        val = (M * Z) @ lam
        imp = val > best
        best[imp], bestU[imp] = val[imp], U[imp]
        G = (M * lam) @ Xt
        G[:, ~pen] = U[:, ~pen]
        if np.all(np.linalg.norm(G[:, pen], axis=1) == 0):
            break
        U = np.where(np.linalg.norm(G[:, pen], axis=1, keepdims=True) > 0, G, U)
    return best, bestU


def price(Xt: np.ndarray, lam: np.ndarray, starts: np.ndarray, *, free: np.ndarray | None = None,
          steps: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Both signs: (values, directions, signs) sorted by decreasing value, from every
    start for :math:`+\lambda` and :math:`-\lambda` (:math:`|\lambda^\top(\tilde Xu)_+|`
    is the constraint)."""
    vp, Up = ascend(Xt, lam, starts, free=free, steps=steps)
    vm, Um = ascend(Xt, -lam, starts, free=free, steps=steps)
    vals = np.concatenate([vp, vm])
    U = np.vstack([Up, Um])
    sg = np.concatenate([np.ones(vp.size), -np.ones(vm.size)])
    order = np.argsort(-vals, kind="stable")
    return vals[order], U[order], sg[order]


__all__ = ["ascend", "best_bias", "price"]
