r"""Training curves of gradient runs against the convex optimum :math:`p^*`.

Three panels per :class:`convexnn.training.compare.CompareResult`: the objective
:math:`F(\theta_t)` with :math:`p^*` as a thin dashed line drawn beneath the runs (a run
that reaches it stays visible), the relative gap
:math:`(F(\theta_t) - p^*)/|p^*|` on a log scale, and the number of distinct activation
patterns of the network against the optimum's support size :math:`m^*`.
matplotlib is imported inside the function, and no pyplot state is touched: the figure is
a plain ``matplotlib.figure.Figure`` (save it with ``fig.savefig``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ticks import integer_ticks, plain_log_ticks

# the optimum: thin, dashed and beneath the runs (zorder 2), above the grid (zorder 1.5)
OPTIMUM_LINE = dict(color="k", ls=(0, (5, 4)), lw=0.8, alpha=0.8, zorder=1.8)


def settings_line(result: Any) -> str:
    """ "n=20, d=2, beta=0.5, squared loss, bias=free, relu": what the comparison solved."""
    s = result.settings
    n, d = result.optimum.patterns.shape[0], result.optimum.network.input_dim
    return (f"n={n}, d={d}, beta={s['beta']:g}, {s['loss']} loss, bias={s['bias']}, "
            f"{s['model']}")


def plot_training(result: Any, *, axes: Any = None, floor: float = 1e-12,
                  title: str | None = None, alpha: float = 0.6):
    r"""Plot every run's objective, relative gap and pattern count against the epoch.

    Parameters
    ----------
    result : CompareResult
    axes : sequence of 3 matplotlib Axes, optional
        Where to draw; a new 13 x 4 inch figure when None.
    floor : float, default=1e-12
        Relative gaps below this are drawn at ``floor`` (log scale).  When some run goes
        below :math:`p^*` (possible with sampled patterns, where :math:`p^*` is only an
        upper bound on the optimum) the gap panel uses a symmetric log scale instead.
    title : str, optional
        What the data are (e.g. "diabetes, bmi"); the figure's title is this title over a
        line with n, d, beta, the loss, the bias and the model, which the result knows.
    alpha : float, default=0.6
        Line opacity (one line per run, one colour per optimizer and width).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    own_figure = axes is None
    if own_figure:
        fig = Figure(figsize=(13, 4), layout="constrained")
        axes = fig.subplots(1, 3)
    else:
        fig = axes[0].figure
    ax_obj, ax_gap, ax_pat = axes
    p = result.optimum_value
    scale = max(abs(p), 1e-300)
    groups = result.groups()
    below = any(np.min(r["history"]["objective"]) < p for r in result.runs)
    colors = [f"C{k % 10}" for k in range(len(groups))]
    for color, ((opt, width), runs) in zip(colors, groups.items()):
        label = f"{opt}, width {width}"
        for k, r in enumerate(runs):
            h = r["history"]
            epoch = np.asarray(h["epoch"], float)
            F = np.asarray(h["objective"], float)
            line = dict(color=color, alpha=alpha, lw=1.2, label=label if k == 0 else None)
            ax_obj.plot(epoch, F, **line)
            gap = (F - p) / scale
            ax_gap.plot(epoch, gap if below else np.maximum(gap, floor), **line)
            if h["n_patterns"][0] is not None:
                ax_pat.plot(epoch, h["n_patterns"], **line)
    if result.optimum.exhaustive:
        label, sym = "convex optimum p* (exact)", "p^*"
    else:  # the optimum over sampled patterns: only an upper bound on the optimum
        label, sym = "sampled upper bound $p_S$ (not the optimum)", "p_S"
    ax_obj.axhline(p, label=label, **OPTIMUM_LINE)
    ax_obj.set(xlabel="epoch", ylabel=r"objective $F(\theta)$", yscale="log")
    ax_gap.set(xlabel="epoch", ylabel=rf"$(F(\theta) - {sym})/|{sym}|$")
    if below:
        ax_gap.set_yscale("symlog", linthresh=1e-3)
        ax_gap.axhline(0.0, **OPTIMUM_LINE)
    else:
        ax_gap.set_yscale("log")
        plain_log_ticks(ax_gap.yaxis)
    plain_log_ticks(ax_obj.yaxis)
    ax_pat.axhline(result.optimum.network.width, label=r"support $m^*$ of the optimum",
                   **OPTIMUM_LINE)
    ax_pat.set(xlabel="epoch", ylabel="distinct activation patterns")
    integer_ticks(ax_pat.yaxis)
    for ax in axes:
        ax.grid(alpha=0.3)
        integer_ticks(ax.xaxis)
    ax_obj.legend(fontsize=8)
    ax_pat.legend(fontsize=8)
    if title or own_figure:
        fig.suptitle(f"{title}\n{settings_line(result)}" if title else settings_line(result))
    return fig


__all__ = ["plot_training", "settings_line"]
