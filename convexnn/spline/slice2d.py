r"""Exact partition of a 2-D slice of the input space into activation regions (THEORY G).

On the plane :math:`x(s, t) = x_0 + s\,e_1 + t\,e_2`, :math:`(s, t)` in a box, every cell is
a convex polygon on which the current layer input is affine,
:math:`h(s, t) = M_{st} (s, t)^\top + c_{st}`.  For each layer and each coded unit k the cell
is split by the line :math:`z_k(s, t) = W_k M_{st}(s,t)^\top + W_k c_{st} + b_k = 0`
(half-plane clipping); each piece reads its code at its centroid and pushes the map
through the layer, :math:`M_{st} \leftarrow Q W M_{st}`, :math:`c_{st} \leftarrow Q(W c_{st} + b)`
(the idea of SplineCam, Humayun et al. 2023).  The final polygons are the activation
regions met by the box, each with its affine map
:math:`f(x(s,t)) = A_{st}(s,t)^\top + b_{st}` and input-space map :math:`f(x) = A x + b`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array, check_int
from . import polygons
from .convert import as_layers
from .layers import LayerStack
from .slice_cells import split_cell

#: Pieces smaller than AREA_TOL * (box area) are dropped as rounding debris.
AREA_TOL = 1e-15


@dataclass(frozen=True, eq=False)
class SliceRegion:
    r"""One activation region of the slice: a convex polygon with its affine map.

    Attributes
    ----------
    vertices : ndarray of shape (k, 2)
        Counter-clockwise, in (s, t) coordinates.
    code : tuple of ndarray of bool
    A_st, b_st : ndarray of shape (C, 2) and (C,)
        :math:`f(x(s,t)) = A_{st} (s,t)^\top + b_{st}`.
    A, b : ndarray of shape (C, d) and (C,)
        :math:`f(x) = A x + b` (and :math:`A_{st} = A [e_1, e_2]`, :math:`b_{st} = A x_0 + b`).
    """

    vertices: np.ndarray
    code: tuple[np.ndarray, ...]
    A_st: np.ndarray
    b_st: np.ndarray
    A: np.ndarray
    b: np.ndarray

    @property
    def area(self) -> float:
        return polygons.area(self.vertices)

    @property
    def centroid(self) -> np.ndarray:
        return polygons.centroid(self.vertices)

    def __call__(self, st: Any) -> np.ndarray:
        """:math:`f(x(s,t))` by this region's map, shape (n, C)."""
        return np.atleast_2d(np.asarray(st, float)) @ self.A_st.T + self.b_st


@dataclass(frozen=True, eq=False)
class SliceCheck:
    """Codes on a grid against the exact polygons (see :meth:`SlicePartition.check`).

    Attributes
    ----------
    n_regions : int
        Exact count.
    n_sampled_regions : int
        Distinct codes on the grid: a lower bound on ``n_regions``.
    n_mismatch : int
        Grid points whose code differs from that of the polygon containing them
        (points within 1e-9 of a polygon edge are not compared).
    n_unlocated : int
        Grid points in no polygon (0 when the polygons tile the box).
    """

    n_regions: int
    n_sampled_regions: int
    n_samples: int
    n_mismatch: int
    n_unlocated: int

    @property
    def ok(self) -> bool:
        return self.n_mismatch == 0 and self.n_unlocated == 0 and self.n_sampled_regions <= self.n_regions


@dataclass(frozen=True, eq=False)
class SlicePartition:
    """Activation regions of :math:`x_0 + s e_1 + t e_2` over a box, from :func:`slice_regions`."""

    regions: list[SliceRegion]
    box: tuple[float, float, float, float]
    x0: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    stack: LayerStack

    @property
    def n_regions(self) -> int:
        """Number of activation regions meeting the box."""
        return len(self.regions)

    @property
    def box_area(self) -> float:
        s0, s1, t0, t1 = self.box
        return (s1 - s0) * (t1 - t0)

    def points(self, st: Any) -> np.ndarray:
        """Inputs :math:`x_0 + s e_1 + t e_2` of (n, 2) slice coordinates, shape (n, d)."""
        st = np.atleast_2d(np.asarray(st, float))
        return self.x0 + np.outer(st[:, 0], self.e1) + np.outer(st[:, 1], self.e2)

    def locate(self, st: Any) -> np.ndarray:
        """Index of a region containing each point (n, 2), or -1 if none."""
        st = np.atleast_2d(np.asarray(st, float))
        idx, _ = self._locate(st)
        return idx

    def evaluate(self, st: Any) -> np.ndarray:
        """:math:`f(x(s,t))` from the region maps (no forward pass), shape (n, C); NaN outside."""
        st = np.atleast_2d(np.asarray(st, float))
        idx = self.locate(st)
        out = np.full((len(st), self.stack.n_outputs), np.nan)
        for i in np.unique(idx[idx >= 0]):
            sel = idx == i
            out[sel] = self.regions[i](st[sel])
        return out

    def _locate(self, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.full(len(st), -1)
        depth = np.full(len(st), -np.inf)       # signed distance to the region's boundary
        for i, r in enumerate(self.regions):
            lo, hi = r.vertices.min(0), r.vertices.max(0)
            cand = np.flatnonzero(np.all((st >= lo - 1e-12) & (st <= hi + 1e-12), axis=1))
            if cand.size == 0:
                continue
            dist = polygons.signed_distance(r.vertices, st[cand])
            better = dist > depth[cand]
            idx[cand[better]] = i
            depth[cand[better]] = dist[better]
        idx[depth < -1e-12] = -1
        return idx, depth

    def linear_regions(self, *, on: str = "slice", rtol: float = 1e-9) -> list[list[int]]:
        """Linear regions: connected unions of adjacent polygons with equal affine maps.

        Parameters
        ----------
        on : {"slice", "input"}, default="slice"
            Compare :math:`(A_{st}, b_{st})` (the function on the slice) or :math:`(A, b)`.
        rtol : float, default=1e-9
            Tolerance, relative to the largest map coefficient.
        """
        if on not in ("slice", "input"):
            raise ValueError(f"on must be 'slice' or 'input'; got {on!r}")
        keys = np.array([np.concatenate([r.A_st.ravel(), r.b_st]) if on == "slice"
                         else np.concatenate([r.A.ravel(), r.b]) for r in self.regions])
        atol = rtol * max(float(np.max(np.abs(keys))), 1.0)
        side = np.sqrt(self.box_area)
        parent = list(range(self.n_regions))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in range(self.n_regions):
            same = np.flatnonzero(np.all(np.abs(keys[i + 1:] - keys[i]) <= atol, axis=1)) + i + 1
            for j in same:
                if root(i) != root(j) and polygons.share_edge(
                        self.regions[i].vertices, self.regions[j].vertices, 1e-9 * side):
                    parent[root(j)] = root(i)
        groups: dict[int, list[int]] = {}
        for i in range(self.n_regions):
            groups.setdefault(root(i), []).append(i)
        return list(groups.values())

    def n_linear_regions(self, *, on: str = "slice", rtol: float = 1e-9) -> int:
        """Number of linear regions (see :meth:`linear_regions`)."""
        return len(self.linear_regions(on=on, rtol=rtol))

    def check(self, resolution: int = 200) -> SliceCheck:
        """Compare with the codes of a ``resolution`` x ``resolution`` grid (a forward pass).

        The number of distinct grid codes is a lower bound on the number of regions, equal
        when every region contains a grid point; every grid point's code must equal that
        of the polygon containing it.
        """
        resolution = check_int("resolution", resolution, minimum=2)
        s0, s1, t0, t1 = self.box
        hs, ht = (s1 - s0) / resolution, (t1 - t0) / resolution
        S, T = np.meshgrid(s0 + hs * (np.arange(resolution) + 0.5), t0 + ht * (np.arange(resolution) + 0.5))
        st = np.column_stack([S.ravel(), T.ravel()])
        _, codes = self.stack.forward(self.points(st))
        Q = np.hstack(codes) if codes else np.zeros((len(st), 0), bool)
        n_codes = len(np.unique(Q, axis=0))
        idx, depth = self._locate(st)
        located = idx >= 0
        exact = np.array([np.concatenate(r.code) if r.code else np.zeros(0, bool) for r in self.regions])
        inner = located & (depth > 1e-9 * np.sqrt(self.box_area))
        bad = inner.copy()
        bad[inner] = np.any(Q[inner] != exact[idx[inner]], axis=1)
        return SliceCheck(self.n_regions, n_codes, len(st), int(bad.sum()), int((~located).sum()))

    def decision_boundary(self, *, level: float = 0.0) -> list[np.ndarray]:
        r"""Exact decision boundary as (2, 2) segments in (s, t).

        Scalar output: the level set :math:`f = \mathrm{level}`.  Vector output: where the
        argmax changes, i.e. :math:`\{f_c = f_{c'} \ge f_k\ \forall k\}` for each pair
        :math:`c < c'`, intersected with each polygon.
        """
        segments = []
        C = self.stack.n_outputs
        for r in self.regions:
            if C == 1:
                seg = polygons.chord(r.vertices, r.A_st[0], r.b_st[0] - level)
                segments += [] if seg is None else [seg]
                continue
            for c in range(C):
                for c2 in range(c + 1, C):
                    seg = _argmax_chord(r, c, c2)
                    segments += [] if seg is None else [seg]
        return segments


def _argmax_chord(r: SliceRegion, c: int, c2: int) -> np.ndarray | None:
    # restrict to where c and c2 both beat every other output, then cut by f_c = f_c2
    V: np.ndarray | None = r.vertices
    for k in range(len(r.b_st)):
        if k in (c, c2) or V is None:
            continue
        V = polygons.clip(V, r.A_st[c] - r.A_st[k], r.b_st[c] - r.b_st[k])
        V = None if V is None else polygons.clip(V, r.A_st[c2] - r.A_st[k], r.b_st[c2] - r.b_st[k])
    if V is None:
        return None
    return polygons.chord(V, r.A_st[c] - r.A_st[c2], r.b_st[c] - r.b_st[c2])


def _check_box(box: Any) -> tuple[float, float, float, float]:
    arr = check_array("box", box, ndim=1)
    if arr.shape != (4,) or not (arr[0] < arr[1] and arr[2] < arr[3]):
        raise ValueError(f"box must be (s_min, s_max, t_min, t_max) with min < max; got {box!r}")
    return tuple(float(v) for v in arr)  # type: ignore[return-value]


def slice_regions(model: Any, x0: Any = None, e1: Any = None, e2: Any = None, *,
                  box: Any = (-1.0, 1.0, -1.0, 1.0)) -> SlicePartition:
    r"""Exact activation regions of a ReLU network on a 2-D slice of its input space.

    The slice is :math:`x(s, t) = x_0 + s\,e_1 + t\,e_2` for
    :math:`(s, t) \in [s_{\min}, s_{\max}] \times [t_{\min}, t_{\max}]`; each region is a
    convex polygon with its affine map (THEORY G, exact 2-D slice).

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
        See :func:`~convexnn.spline.as_layers`.
    x0 : array-like of shape (d,), default=zeros
    e1, e2 : array-like of shape (d,), default=first two unit vectors
        Directions of the slice (linearly independent).  For d = 2 the defaults make
        (s, t) the input coordinates.
    box : (s_min, s_max, t_min, t_max), default=(-1, 1, -1, 1)

    Returns
    -------
    SlicePartition
        ``regions`` (polygons with maps), ``n_regions``, ``n_linear_regions()``,
        ``check()`` (grid sampling of codes) and ``decision_boundary()``.

    Notes
    -----
    For one hidden layer of m units whose lines are in general position, the box holds
    :math:`1 + L_{box} + I_{box}` regions (lines meeting it plus their intersections
    inside it); over a box containing every intersection, :math:`\sum_{i \le 2}\binom{m}{i}`.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import Network
    >>> from convexnn.spline import slice_regions
    >>> net = Network(W1=np.array([[1.0, 0.0], [0.0, 1.0]]), W2=np.array([1.0, 1.0]))
    >>> part = slice_regions(net, box=(-1, 1, -1, 1))
    >>> part.n_regions, sum(r.area for r in part.regions)
    (4, 4.0)
    """
    stack = as_layers(model)
    d = stack.input_dim
    if d < 2 and (e1 is None or e2 is None):
        raise ValueError(f"the network has d={d} inputs; a 2-D slice needs d >= 2")
    vecs = {}
    for name, v, default in (("x0", x0, np.zeros(d)), ("e1", e1, np.eye(d)[0]),
                             ("e2", e2, np.eye(d)[min(1, d - 1)])):
        arr, single = (default, True) if v is None else stack.check_inputs(name, v)
        if not single:
            raise ValueError(f"{name} must have shape ({d},); got {np.shape(v)}")
        vecs[name] = arr.reshape(d)
    E = np.column_stack([vecs["e1"], vecs["e2"]])
    if np.linalg.matrix_rank(E) < 2:
        raise ValueError("e1 and e2 must be linearly independent")
    box = _check_box(box)
    V0 = polygons.box_polygon(box)
    min_area = AREA_TOL * polygons.area(V0)
    cells = [(V0, E, vecs["x0"], ())]          # polygon, layer input M (s,t) + c, codes
    for layer in stack.layers:
        cells = [piece for cell in cells for piece in split_cell(layer, cell, min_area)]
    codes = [np.array(level) for level in zip(*(cell[3] for cell in cells), strict=True)]
    A, b = stack.affine_from_codes(codes, len(cells))
    regions = [SliceRegion(V, cds, Mst, cst, A[i], b[i]) for i, (V, Mst, cst, cds) in enumerate(cells)]
    return SlicePartition(regions, box, vecs["x0"], vecs["e1"], vecs["e2"], stack)


__all__ = ["SliceRegion", "SlicePartition", "SliceCheck", "slice_regions"]
