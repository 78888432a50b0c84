r"""Convex polygons in the plane: half-plane splitting, areas, point location (pure numpy).

A polygon is an array V of shape (k, 2) of its vertices in counter-clockwise order.  An
affine function :math:`f(v) = a^\top v + c` is split on its zero line with one pass of
Sutherland-Hodgman clipping: vertices with :math:`f \ge 0` go to the positive side, those
with :math:`f \le 0` to the negative side, and each edge whose ends have strictly opposite
signs contributes its crossing point :math:`v_i + \tfrac{f_i}{f_i - f_j}(v_j - v_i)` to both.
"""

from __future__ import annotations

import numpy as np

#: Values :math:`|f| \le` SIGN_TOL * max|f| over a polygon count as on the line.
SIGN_TOL = 1e-10


def area(V: np.ndarray) -> float:
    r"""Signed area :math:`\tfrac12 \sum_i (v_{i,x} v_{i+1,y} - v_{i+1,x} v_{i,y})` (> 0 if ccw)."""
    x, y = V[:, 0], V[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def centroid(V: np.ndarray) -> np.ndarray:
    r"""Area centroid :math:`\frac{1}{6|P|}\sum_i (v_i + v_{i+1})\,(v_i \times v_{i+1})`."""
    x, y = V[:, 0], V[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    a = 0.5 * cross.sum()
    if abs(a) <= np.finfo(float).tiny:
        return V.mean(axis=0)
    return np.array([np.dot(x + xn, cross), np.dot(y + yn, cross)]) / (6.0 * a)


def box_polygon(box: tuple[float, float, float, float]) -> np.ndarray:
    """The rectangle (s_min, s_max, t_min, t_max) as a ccw polygon."""
    s0, s1, t0, t1 = box
    return np.array([[s0, t0], [s1, t0], [s1, t1], [s0, t1]], dtype=float)


def _tolerance(f: np.ndarray) -> float:
    return SIGN_TOL * max(float(np.max(np.abs(f))), 1e-300)


def crosses(V: np.ndarray, a: np.ndarray, c: float) -> bool:
    """Whether the line :math:`a^\\top v + c = 0` passes through the interior of V."""
    f = V @ a + c
    tol = _tolerance(f)
    return bool(f.max() > tol and f.min() < -tol)


def split(V: np.ndarray, a: np.ndarray, c: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    r"""Split V by the line :math:`a^\top v + c = 0` into (positive part, negative part).

    A side that the polygon does not reach is returned as None.
    """
    f = V @ a + c
    tol = _tolerance(f)
    if f.min() >= -tol:
        return V, None
    if f.max() <= tol:
        return None, V
    pos, neg = [], []
    k = len(V)
    for i in range(k):
        j = (i + 1) % k
        if f[i] >= -tol:
            pos.append(V[i])
        if f[i] <= tol:
            neg.append(V[i])
        if (f[i] > tol and f[j] < -tol) or (f[i] < -tol and f[j] > tol):
            p = V[i] + (f[i] / (f[i] - f[j])) * (V[j] - V[i])
            pos.append(p)
            neg.append(p)
    return np.array(pos), np.array(neg)


def clip(V: np.ndarray, a: np.ndarray, c: float) -> np.ndarray | None:
    """The part of V where :math:`a^\\top v + c \\ge 0` (None if empty)."""
    pos, _ = split(V, a, c)
    return pos if pos is not None and len(pos) >= 3 else None


def chord(V: np.ndarray, a: np.ndarray, c: float) -> np.ndarray | None:
    r"""The segment :math:`V \cap \{a^\top v + c = 0\}` as a (2, 2) array, or None."""
    if not crosses(V, a, c):
        return None
    f = V @ a + c
    tol = _tolerance(f)
    pts = [v for v, fv in zip(V, f, strict=True) if abs(fv) <= tol]
    W, g = np.roll(V, -1, axis=0), np.roll(f, -1)
    for v, w, fv, gw in zip(V, W, f, g, strict=True):
        if (fv > tol and gw < -tol) or (fv < -tol and gw > tol):
            pts.append(v + (fv / (fv - gw)) * (w - v))
    P = np.array(pts)
    along = P @ np.array([-a[1], a[0]])
    return np.array([P[np.argmin(along)], P[np.argmax(along)]])


def signed_distance(V: np.ndarray, P: np.ndarray) -> np.ndarray:
    r"""Min over the edges of V of the signed distance of each point of P (n, 2) to the edge
    line, positive inside (V ccw): a point is in V iff the value is >= 0."""
    E = np.roll(V, -1, axis=0) - V                                       # (k, 2) edges
    L = np.linalg.norm(E, axis=1)
    keep = L > 0
    E, V0, L = E[keep], V[keep], L[keep]
    R = P[:, None, :] - V0[None, :, :]                                   # (n, k, 2)
    cross = E[None, :, 0] * R[:, :, 1] - E[None, :, 1] * R[:, :, 0]
    return np.min(cross / L[None, :], axis=1)


def share_edge(V: np.ndarray, U: np.ndarray, tol: float) -> bool:
    """Whether convex polygons V and U share a boundary segment longer than ``tol``."""
    Ev, Eu = np.roll(V, -1, 0) - V, np.roll(U, -1, 0) - U
    for p, e in zip(V, Ev, strict=True):
        n = np.linalg.norm(e)
        if n <= tol:
            continue
        r1, r2 = U - p, U + Eu - p                                        # ends of U's edges
        dist1 = np.abs(e[0] * r1[:, 1] - e[1] * r1[:, 0]) / n
        dist2 = np.abs(e[0] * r2[:, 1] - e[1] * r2[:, 0]) / n
        t1, t2 = r1 @ e / n**2, r2 @ e / n**2                            # positions along e
        overlap = (np.minimum(1.0, np.maximum(t1, t2)) - np.maximum(0.0, np.minimum(t1, t2))) * n
        if np.any((dist1 <= tol) & (dist2 <= tol) & (overlap > tol)):
            return True
    return False
