r"""Figures of the spline view (THEORY G): 2-D partitions and 1-D pieces.

matplotlib is imported inside the functions only.  Every function takes an optional
``ax`` and returns the Axes it drew on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

COLOR_BY = ("region", "linear", "value")


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 5))[1]


def _region_colors(n_groups: int, groups: list[list[int]], n: int, cmap: str, seed: int) -> np.ndarray:
    import matplotlib

    # a seeded shuffle so that neighbouring regions rarely share a colour
    palette = matplotlib.colormaps[cmap](np.linspace(0, 1, max(n_groups, 2)))
    order = np.random.default_rng(seed).permutation(n_groups)
    colors = np.zeros((n, 4))
    for g, members in enumerate(groups):
        colors[members] = palette[order[g]]
    return colors


def plot_partition(partition: Any, ax: Any = None, *, color_by: str = "region",
                   boundary: bool = True, level: float = 0.0, output: int = 0,
                   cmap: str | None = None, seed: int = 0, edgecolor: str = "k",
                   linewidth: float = 0.3, boundary_color: str = "crimson",
                   points: Any = None, labels: Any = None) -> Any:
    r"""Draw a :class:`~convexnn.spline.SlicePartition`: polygons coloured by region.

    Parameters
    ----------
    partition : SlicePartition
        From :func:`convexnn.spline.slice_regions`.
    ax : matplotlib Axes, optional
    color_by : {"region", "linear", "value"}, default="region"
        One colour per activation region, per merged linear region, or the value of
        output ``output`` at the polygon's centroid.
    boundary : bool, default=True
        Draw the exact decision boundary: the level set :math:`f = \mathrm{level}` (scalar
        output) or where the argmax changes (vector output).
    points, labels : array-like of shape (n, 2) and (n,), optional
        Data points in (s, t) coordinates, coloured by label.
    seed : int, default=0
        Seed of the colour shuffle.
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {COLOR_BY}; got {color_by!r}")
    from matplotlib.collections import LineCollection, PolyCollection

    ax = _axes(ax)
    regions = partition.regions
    if color_by == "value":
        vals = np.array([r(r.centroid)[0, output] for r in regions])
        coll = PolyCollection([r.vertices for r in regions], array=vals, cmap=cmap or "viridis",
                              edgecolors=edgecolor, linewidths=linewidth)
    else:
        groups = ([[i] for i in range(len(regions))] if color_by == "region"
                  else partition.linear_regions())
        colors = _region_colors(len(groups), groups, len(regions), cmap or "tab20", seed)
        coll = PolyCollection([r.vertices for r in regions], facecolors=colors,
                              edgecolors=edgecolor, linewidths=linewidth)
    ax.add_collection(coll)
    if boundary:
        segs = partition.decision_boundary(level=level)
        ax.add_collection(LineCollection(segs, colors=boundary_color, linewidths=2.0))
    if points is not None:
        P = np.asarray(points, float)
        ax.scatter(P[:, 0], P[:, 1], c=None if labels is None else labels, cmap="coolwarm",
                   edgecolors="k", s=30, zorder=3)
    s0, s1, t0, t1 = partition.box
    ax.set_xlim(s0, s1)
    ax.set_ylim(t0, t1)
    ax.set_aspect("equal")
    return ax


def plot_pieces(segment: Any, ax: Any = None, *, output: int = 0, x_axis: str = "auto",
                merge: bool = False, cmap: str = "tab10", knots: bool = True) -> Any:
    r"""Draw :math:`t \mapsto f_c(x_0 + t(x_1 - x_0))` piece by piece, one colour per piece.

    Parameters
    ----------
    segment : SegmentPartition
        From :func:`convexnn.spline.segment_regions`.
    output : int, default=0
        Which output c to draw.
    x_axis : {"auto", "t", "input"}, default="auto"
        Abscissa: the segment parameter t, or the input coordinate (d = 1 only);
        "auto" uses the input for a 1-D network.
    merge : bool, default=False
        Colour merged linear pieces (equal affine maps) instead of activation regions.
    knots : bool, default=True
        Mark the breakpoints with dotted vertical lines.
    """
    import matplotlib

    if x_axis not in ("auto", "t", "input"):
        raise ValueError(f"x_axis must be 'auto', 't' or 'input'; got {x_axis!r}")
    d = segment.x0.shape[0]
    if x_axis == "input" and d != 1:
        raise ValueError(f"x_axis='input' needs a 1-D input; the network has d={d}")
    use_x = x_axis == "input" or (x_axis == "auto" and d == 1)
    ax = _axes(ax)
    to_x = (lambda t: segment.x0[0] + t * (segment.x1[0] - segment.x0[0])) if use_x else (lambda t: t)
    groups = segment.linear_pieces() if merge else [[i] for i in range(segment.n_regions)]
    palette = matplotlib.colormaps[cmap]
    for g, members in enumerate(groups):
        for i in members:
            p = segment.pieces[i]
            t = np.array([p.t0, p.t1])
            ax.plot(to_x(t), p(t)[:, output], color=palette(g % palette.N), lw=2)
    if knots:
        bps = segment.linear_breakpoints if merge else segment.breakpoints
        for t in bps:
            ax.axvline(to_x(t), color="0.6", ls=":", lw=0.8)
    ax.set_xlabel("x" if use_x else "t")
    ax.set_ylabel(f"f(x)[{output}]" if segment.stack.n_outputs > 1 else "f(x)")
    return ax


def plot_templates(x: Any, A: Any, axes: Any = None, *, b: Any = None, image_shape: Any = None,
                   labels: Any = None, cmap: str = "RdBu_r") -> Any:
    r"""Draw an input next to its templates :math:`A[x]_{c,\cdot}` as images.

    The first axes shows x; axes c + 1 shows template c in a diverging colormap centred
    at 0 (one colour scale for all templates), titled with the score
    :math:`\langle A[x]_c, x\rangle + b[x]_c`, the predicted class (the largest score,
    THEORY G's matched filterbank) in bold.

    Parameters
    ----------
    x : array-like of d entries (any shape)
    A : array-like of shape (C, d)
    axes : sequence of C + 1 matplotlib Axes, optional
        A new row of subplots when omitted.
    b : array-like of shape (C,), optional
        :math:`b[x]`; the scores omit it when None.
    image_shape : tuple, optional
        Shape of one image, e.g. (8, 8); default: a square.
    labels : sequence of str, optional
        Class names (default 0..C-1).

    Returns
    -------
    list of Axes
    """
    A = np.asarray(A, float)
    x = np.asarray(x, float).ravel()
    C = A.shape[0]
    if image_shape is None:
        side = int(round(np.sqrt(x.size)))
        image_shape = (side, x.size // side)
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, C + 1, figsize=(1.5 * (C + 1), 1.8))[1]
    labels = [str(c) for c in range(C)] if labels is None else list(labels)
    scores = A @ x + (0.0 if b is None else np.asarray(b, float))
    vmax = float(np.max(np.abs(A))) or 1.0
    axes[0].imshow(x.reshape(image_shape), cmap="gray_r")
    axes[0].set_title("input", fontsize=9)
    for c in range(C):
        axes[c + 1].imshow(A[c].reshape(image_shape), cmap=cmap, vmin=-vmax, vmax=vmax)
        bold = "bold" if c == int(np.argmax(scores)) else "normal"
        axes[c + 1].set_title(f"{labels[c]}: {scores[c]:.1f}", fontsize=9, fontweight=bold)
    for ax in axes[:C + 1]:
        ax.set_xticks([])
        ax.set_yticks([])
    return list(axes[:C + 1])


__all__ = ["plot_partition", "plot_pieces", "plot_templates"]
