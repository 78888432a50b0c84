r"""Splitting the cells of a 2-D slice at one MASO operator (THEORY G, exact 2-D slice).

A cell is a convex polygon V of the (s, t) plane with the affine map of the operator's
input, :math:`h(s, t) = M (s, t)^\top + c`, and the codes read so far.  Each operator cuts
the cell where its code changes and pushes the map through the pieces:

* a :class:`~convexnn.spline.layers.Layer` at the lines :math:`z_k(s, t) = 0` of its coded
  units (one half-plane split per unit that crosses the cell);
* a :class:`~convexnn.spline.operators.MaxPool` window k into the convex pieces
  :math:`\{h_{w_k(r)} \ge h_{w_k(j)}\ \forall j\}` (one per argmax r; entries that are the
  same affine function tie everywhere and go to the first, as ``np.argmax``);
* a :class:`~convexnn.spline.operators.ResidualBlock` by its branch's operators in turn,
  the skip adding the block's input map to every piece.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import polygons
from .layers import Layer
from .operators import MaxPool, ResidualBlock


def _push(layer: Any, cell: tuple, V: np.ndarray, new_codes: list[np.ndarray]) -> tuple:
    """The piece V of ``cell`` with the map pushed through the layer under ``new_codes``."""
    _, M, c, codes = cell
    M2, c2 = layer.push(M[None], c[None], iter([q[None] for q in new_codes]))
    return V, M2[0], c2[0], codes + tuple(new_codes)


def split_dense(layer: Layer, cell: tuple, min_area: float) -> list[tuple]:
    """Split a cell by the zero lines of a layer's coded units, then push maps through."""
    V, M, c, _ = cell
    if layer.G is None:
        U, u0 = layer.W @ M, layer.W @ c + layer.b          # switch u(s,t) = U (s,t) + u0
    else:
        U, u0 = layer.G @ M, layer.G @ c + layer.g0
    # units whose line misses the cell keep one code on it, read at the centroid; each
    # split assigns the code of its side (positive side: q_k = 1), so that two pieces of
    # one cell never share a code
    q0 = layer.code(U @ polygons.centroid(V) + u0)
    pieces = [(V, q0)]
    for k in np.flatnonzero(layer.coded):
        if not polygons.crosses(V, U[k], u0[k]):
            continue
        new = []
        for P, q in pieces:
            for side, Q in zip((True, False), polygons.split(P, U[k], u0[k]), strict=True):
                if Q is not None and polygons.area(Q) > min_area:
                    qs = q.copy()
                    qs[k] = side
                    new.append((Q, qs))
        pieces = new
    return [_push(layer, cell, P, [q[layer.coded]] if layer.n_coded else []) for P, q in pieces]


def _argmax_piece(P: np.ndarray, U: np.ndarray, u0: np.ndarray, r: int,
                  live: np.ndarray) -> np.ndarray | None:
    """:math:`P \\cap \\{u_r \\ge u_j\\ \\forall j\\}` for window entries :math:`u_j = U_j (s,t) + u0_j`;
    an entry identical to u_r beats it iff it comes first."""
    Q: np.ndarray | None = P
    for j in np.flatnonzero(live):
        if j == r:
            continue
        a, c0 = U[r] - U[j], u0[r] - u0[j]
        if not np.any(a) and c0 == 0.0:
            if j < r:
                return None
            continue
        Q = polygons.clip(Q, a, c0)
        if Q is None:
            return None
    return Q


def split_maxpool(layer: MaxPool, cell: tuple, min_area: float) -> list[tuple]:
    """Split a cell into the pieces where every window's argmax is constant."""
    V, M, c, _ = cell
    win = np.maximum(layer.windows, 0)
    U, u0 = M[win], c[win]                                  # (D_out, R, 2), (D_out, R)
    F = np.where(layer.padded[:, :, None], -np.inf, U @ V.T + u0[:, :, None])   # at vertices
    mid = np.where(layer.padded, -np.inf, U @ polygons.centroid(V) + u0)
    q0 = np.argmax(mid, axis=1)
    pieces = [(V, q0)]
    for k in range(layer.out_dim):
        live = ~layer.padded[k]
        gap = F[k, q0[k]][None, :] - F[k, live]            # >= 0 at every vertex: no split
        tol = polygons.SIGN_TOL * max(float(np.max(np.abs(F[k, live]))), 1e-300)
        if np.all(gap >= -tol):
            continue
        new = []
        for P, q in pieces:
            FP = np.where(live[:, None], U[k] @ P.T + u0[k][:, None], -np.inf)
            best = int(np.argmax(np.where(live, U[k] @ polygons.centroid(P) + u0[k], -np.inf)))
            if np.all(FP[best][None, :] - FP[live] >= -tol):       # constant on this piece
                qs = q.copy()
                qs[k] = best
                new.append((P, qs))
                continue
            for r in np.flatnonzero(live):
                Q = _argmax_piece(P, U[k], u0[k], r, live)
                if Q is not None and polygons.area(Q) > min_area:
                    qs = q.copy()
                    qs[k] = r
                    new.append((Q, qs))
        pieces = new
    return [_push(layer, cell, P, [q]) for P, q in pieces]


def split_residual(layer: ResidualBlock, cell: tuple, min_area: float) -> list[tuple]:
    """Split a cell by the branch F; each piece's map is the input map plus F's map."""
    V, M, c, codes = cell
    cells = [(V, M, c, ())]
    for sub in layer.inner:
        cells = [piece for cl in cells for piece in split_cell(sub, cl, min_area)]
    return [(P, M + MF, c + cF, codes + cF_codes) for P, MF, cF, cF_codes in cells]


def split_cell(layer: Any, cell: tuple, min_area: float) -> list[tuple]:
    """Split a cell (V, M, c, codes) at the code changes of one operator."""
    if isinstance(layer, MaxPool):
        return split_maxpool(layer, cell, min_area)
    if isinstance(layer, ResidualBlock):
        return split_residual(layer, cell, min_area)
    return split_dense(layer, cell, min_area)


__all__ = ["split_cell", "split_dense", "split_maxpool", "split_residual"]
