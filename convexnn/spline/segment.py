r"""Exact activation regions of a ReLU network along a segment (THEORY G).

On :math:`x(t) = x_0 + t(x_1 - x_0)`, :math:`t \in [0, 1]`, the layers are processed one at a
time.  On every current interval the layer input is affine in t, :math:`h(t) = p + t\,q`,
so each pre-activation :math:`z_k(t) = (W_k p + b_k) + t\,W_k q` changes sign only at

.. math::  t_k = -\frac{W_k p + b_k}{W_k q}.

The interval is split at the roots inside it; on each sub-interval the code is read at the
midpoint and :math:`p \leftarrow Q(Wp + b)`, :math:`q \leftarrow Q W q`.  Each activation
region is convex, so the line meets it in one interval: the final intervals are exactly the
regions crossed.  Adjacent intervals with equal affine maps form one *linear* piece.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_int
from .convert import as_layers
from .layers import Layer, LayerStack
from .operators import MaxPool, ResidualBlock

#: Roots closer than this (in t) to an interval end or to each other are merged.
ROOT_TOL = 1e-12
#: Samples per forward pass in :meth:`SegmentPartition.check`.
CHECK_CHUNK = 10_000


@dataclass(frozen=True, eq=False)
class SegmentPiece:
    r"""One activation region crossed by the segment, :math:`t \in (t_0, t_1)`.

    Attributes
    ----------
    t0, t1 : float
        Ends of the interval.
    code : tuple of ndarray of bool
        Codes :math:`q^{(l)}` of every code layer.
    A : ndarray of shape (C, d)
    b : ndarray of shape (C,)
        Input-space affine map, :math:`f(x) = A x + b` on the region.
    slope, intercept : ndarray of shape (C,)
        The same map in t: :math:`f(x(t)) = \mathrm{intercept} + t\cdot\mathrm{slope}`, with
        slope :math:`= A(x_1 - x_0)` and intercept :math:`= A x_0 + b`.
    """

    t0: float
    t1: float
    code: tuple[np.ndarray, ...]
    A: np.ndarray
    b: np.ndarray
    slope: np.ndarray
    intercept: np.ndarray

    def __call__(self, t: Any) -> np.ndarray:
        """:math:`f(x(t))` on this piece, shape (n, C)."""
        return np.multiply.outer(np.asarray(t, float), self.slope) + self.intercept


@dataclass(frozen=True, eq=False)
class SegmentCheck:
    """Dense sampling of the codes against the exact pieces (see :meth:`SegmentPartition.check`).

    Attributes
    ----------
    n_regions : int
        Exact count.
    n_sampled_regions : int
        Runs of equal codes among the samples: a lower bound on ``n_regions``.
    n_mismatch : int
        Samples whose code differs from the code of the exact piece containing them.
    """

    n_regions: int
    n_sampled_regions: int
    n_samples: int
    n_mismatch: int

    @property
    def ok(self) -> bool:
        return self.n_mismatch == 0 and self.n_sampled_regions <= self.n_regions


@dataclass(frozen=True, eq=False)
class SegmentPartition:
    """The activation regions along :math:`x_0 + t(x_1 - x_0)`, from :func:`segment_regions`.

    Attributes
    ----------
    pieces : list of SegmentPiece
        Sorted in t; they tile [0, 1].
    x0, x1 : ndarray of shape (d,)
    stack : LayerStack
    """

    pieces: list[SegmentPiece]
    x0: np.ndarray
    x1: np.ndarray
    stack: LayerStack

    @property
    def breakpoints(self) -> np.ndarray:
        """Sorted t in (0, 1) where the activation code changes."""
        return np.array([p.t1 for p in self.pieces[:-1]])

    @property
    def n_regions(self) -> int:
        """Number of activation regions crossed."""
        return len(self.pieces)

    def linear_pieces(self, *, on: str = "segment", rtol: float = 1e-9) -> list[list[int]]:
        """Runs of adjacent pieces with equal affine maps (merged linear regions).

        Parameters
        ----------
        on : {"segment", "input"}, default="segment"
            Compare the maps in t (slope, intercept: the function on the segment) or in
            input space (A, b: a linear region of the network crossed by the segment).
        rtol : float, default=1e-9
            Relative tolerance of the comparison.
        """
        if on not in ("segment", "input"):
            raise ValueError(f"on must be 'segment' or 'input'; got {on!r}")
        key = (lambda p: np.concatenate([p.slope, p.intercept])) if on == "segment" else \
              (lambda p: np.concatenate([p.A.ravel(), p.b]))
        scale = max(float(np.max(np.abs(key(p)))) for p in self.pieces)
        runs = [[0]]
        for i in range(1, len(self.pieces)):
            same = np.allclose(key(self.pieces[i]), key(self.pieces[i - 1]), rtol=0, atol=rtol * max(scale, 1.0))
            if same:
                runs[-1].append(i)
            else:
                runs.append([i])
        return runs

    def n_linear_regions(self, *, on: str = "segment", rtol: float = 1e-9) -> int:
        """Number of linear pieces after merging equal affine maps."""
        return len(self.linear_pieces(on=on, rtol=rtol))

    @property
    def linear_breakpoints(self) -> np.ndarray:
        """Breakpoints between linear pieces (knots of :math:`t \\mapsto f(x(t))`)."""
        return np.array([self.pieces[run[0]].t0 for run in self.linear_pieces()[1:]])

    def points(self, t: Any) -> np.ndarray:
        """Inputs :math:`x(t)`, shape (n, d)."""
        return self.x0 + np.multiply.outer(np.asarray(t, float), self.x1 - self.x0)

    def evaluate(self, t: Any) -> np.ndarray:
        """:math:`f(x(t))` from the pieces (no forward pass), shape (n, C)."""
        t = np.atleast_1d(np.asarray(t, float))
        idx = np.clip(np.searchsorted(self.breakpoints, t), 0, len(self.pieces) - 1)
        slope = np.array([p.slope for p in self.pieces])[idx]
        intercept = np.array([p.intercept for p in self.pieces])[idx]
        return intercept + t[:, None] * slope

    def check(self, n_samples: int = 100_001) -> SegmentCheck:
        """Compare with the codes of ``n_samples`` equally spaced points (a forward pass).

        The points are the midpoints :math:`t_i = (i + 1/2)/n` of n equal cells, so that
        the ends are left out: an end may lie on a region boundary (an image whose zero
        pixels tie the entries of a max-pool window, say), where its code is a tie-break.
        Counts the runs of equal sampled codes (a lower bound on the number of regions,
        equal once the spacing is below the shortest piece) and the samples whose code
        differs from that of the exact piece containing them.
        """
        n_samples = check_int("n_samples", n_samples, minimum=2)
        t = (np.arange(n_samples) + 0.5) / n_samples
        bp = self.breakpoints
        idx = np.searchsorted(bp, t)
        near = np.zeros(n_samples, bool)
        if bp.size:                     # distance to the nearest breakpoint, either side
            gap = np.minimum(np.abs(t - bp[np.maximum(idx - 1, 0)]),
                             np.abs(t - bp[np.minimum(idx, bp.size - 1)]))
            near = gap < 1e-9
        exact = np.array([np.concatenate(p.code) if p.code else np.zeros(0, bool) for p in self.pieces])
        runs, bad, prev = 1, 0, None
        for lo in range(0, n_samples, CHECK_CHUNK):     # bounded memory for CNN layers
            sl = slice(lo, lo + CHECK_CHUNK)
            _, codes = self.stack.forward(self.points(t[sl]))
            Q = np.hstack(codes) if codes else np.zeros((len(t[sl]), 0), bool)
            both = Q if prev is None else np.vstack([prev, Q])
            runs += int(np.count_nonzero(np.any(both[1:] != both[:-1], axis=1)))
            bad += int(np.count_nonzero(np.any(Q != exact[idx[sl]], axis=1) & ~near[sl]))
            prev = Q[-1:]
        return SegmentCheck(self.n_regions, runs, n_samples, bad)


def _roots(a: np.ndarray, s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Sorted, deduplicated zeros in (lo, hi) of the affine functions a + t s."""
    nz = s != 0
    t = -a[nz] / s[nz]
    t = np.sort(t[(t > lo + ROOT_TOL) & (t < hi - ROOT_TOL)])
    if t.size > 1:
        t = t[np.concatenate([[True], np.diff(t) > ROOT_TOL])]
    return t


def _push(layer: Any, p: np.ndarray, q: np.ndarray, codes: list[np.ndarray]
          ) -> tuple[np.ndarray, np.ndarray]:
    """The layer input p + t q pushed through the layer with the given codes."""
    M, c = layer.push(q[None, :, None], p[None], iter([code[None] for code in codes]))
    return c[0], M[0, :, 0]


def _pieces(layer: Any, iv: tuple, ends: np.ndarray, code_at: Any) -> list:
    """Sub-intervals of ``iv`` between ``ends``, coded at their midpoints, equal codes merged."""
    lo, hi, p, q, codes = iv
    out: list = []
    for t0, t1 in zip(ends[:-1], ends[1:], strict=True):
        new = code_at(0.5 * (t0 + t1))
        if out and all(np.array_equal(a, b) for a, b in zip(out[-1][2], new, strict=True)):
            out[-1][1] = float(t1)
        else:
            out.append([float(t0), float(t1), new])
    result = []
    for t0, t1, new in out:
        p1, q1 = _push(layer, p, q, new)
        result.append((t0, t1, p1, q1, codes + tuple(new)))
    return result


def _split_dense(layer: Layer, iv: tuple) -> list:
    # z_k(t) = u0_k + t u1_k for the switch (pre-activation or gate) of each unit
    lo, hi, p, q, _ = iv
    if layer.G is None:
        u0, u1 = layer.W @ p + layer.b, layer.W @ q
    else:
        u0, u1 = layer.G @ p + layer.g0, layer.G @ q
    coded = layer.coded
    ends = np.concatenate([[lo], _roots(u0[coded], u1[coded], lo, hi), [hi]])
    return _pieces(layer, iv, ends, lambda t: layer.switch_codes(u0 + t * u1))


def _split_maxpool(layer: MaxPool, iv: tuple) -> list:
    # window entries a_r + t s_r; the argmax can only change where two entries cross
    lo, hi, p, q, _ = iv
    pad = layer.padded
    a, s = p[np.maximum(layer.windows, 0)], q[np.maximum(layer.windows, 0)]
    r, r2 = np.triu_indices(a.shape[1], 1)
    ok = ~(pad[:, r] | pad[:, r2])
    da, ds = a[:, r] - a[:, r2], s[:, r] - s[:, r2]        # a_r - a_r' + t (s_r - s_r')
    ends = np.concatenate([[lo], _roots(da[ok], ds[ok], lo, hi), [hi]])
    a = np.where(pad, -np.inf, a)
    return _pieces(layer, iv, ends, lambda t: [np.argmax(a + t * s, axis=1)])


def _split_residual(layer: ResidualBlock, iv: tuple) -> list:
    # F's layers split the interval; the skip adds the block's input p + t q to F's output
    lo, hi, p, q, codes = iv
    inner = [(lo, hi, p, q, ())]
    for sub in layer.inner:
        inner = [piece for iv2 in inner for piece in _split(sub, iv2)]
    return [(t0, t1, p + pF, q + qF, codes + cF) for t0, t1, pF, qF, cF in inner]


def _split(layer: Any, iv: tuple) -> list:
    """Split one interval (lo, hi, p, q, codes) at the code changes of one operator."""
    if isinstance(layer, MaxPool):
        return _split_maxpool(layer, iv)
    if isinstance(layer, ResidualBlock):
        return _split_residual(layer, iv)
    return _split_dense(layer, iv)


def _merge_equal_codes(intervals: list) -> list:
    # adjacent intervals with one code are one region (only possible after merged roots)
    merged = [intervals[0]]
    for iv in intervals[1:]:
        prev = merged[-1]
        if all(np.array_equal(a, b) for a, b in zip(prev[4], iv[4], strict=True)):
            merged[-1] = (prev[0], iv[1], *prev[2:])
        else:
            merged.append(iv)
    return merged


def _single_input(stack: LayerStack, name: str, x: Any) -> np.ndarray:
    x2, single = stack.check_inputs(name, x)
    if not single:
        raise ValueError(f"{name} must be one input of shape ({stack.input_dim},)"
                         f"{'' if stack.input_shape is None else ' or ' + str(stack.input_shape)}; "
                         f"got shape {np.shape(x)}")
    return x2[0]


def segment_regions(model: Any, x0: Any, x1: Any) -> SegmentPartition:
    r"""Exact activation regions and affine pieces of a ReLU network on a segment.

    For :math:`x(t) = x_0 + t(x_1 - x_0)` returns the sorted breakpoints
    :math:`0 < t_1 < \dots < t_{R-1} < 1` where the code :math:`(q^{(1)}, \dots)` changes and,
    on each interval, :math:`f(x(t)) = \mathrm{intercept} + t\cdot\mathrm{slope}` and the
    input-space map :math:`f(x) = A x + b`, by layer-by-layer root splitting (THEORY G).

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
        See :func:`~convexnn.spline.as_layers`.
    x0, x1 : array-like of shape (d,)
        Ends of the segment.

    Returns
    -------
    SegmentPartition
        With ``breakpoints``, ``pieces``, ``n_regions``, ``linear_pieces()`` (merge of
        equal affine maps) and ``check()`` (dense sampling).

    Notes
    -----
    A network with one hidden layer of m units has at most m + 1 pieces on any segment.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import Network
    >>> from convexnn.spline import segment_regions
    >>> net = Network(W1=np.array([[1.0], [1.0]]), b1=np.array([-1.0, -2.0]), W2=np.array([1.0, -1.0]))
    >>> seg = segment_regions(net, [0.0], [4.0])
    >>> seg.breakpoints, seg.n_regions
    (array([0.25, 0.5 ]), 3)
    """
    stack = as_layers(model)
    x0, x1 = (_single_input(stack, name, x) for name, x in (("x0", x0), ("x1", x1)))
    intervals = [(0.0, 1.0, x0, x1 - x0, ())]        # the layer input p + t q
    for layer in stack.layers:
        intervals = [piece for iv in intervals for piece in _split(layer, iv)]
    intervals = _merge_equal_codes(intervals)
    codes = [np.array(level) for level in zip(*(iv[4] for iv in intervals), strict=True)]
    A, b = stack.affine_from_codes(codes, len(intervals))
    pieces = [SegmentPiece(t0, t1, cds, A[i], b[i], q, p)
              for i, (t0, t1, p, q, cds) in enumerate(intervals)]
    return SegmentPartition(pieces, x0, x1, stack)


__all__ = ["SegmentPiece", "SegmentPartition", "SegmentCheck", "segment_regions"]
