"""Tick formats shared by the figures: plain numbers on log axes, integers on count axes.

matplotlib is imported inside the functions only.
"""

from __future__ import annotations

from typing import Any


def plain_log_ticks(axis: Any) -> Any:
    """Label a log-scale axis with plain numbers ("9", "20", "0.5") instead of matplotlib's
    default "9x10^0"; minor ticks are labelled only where the axis spans few decades.

    Parameters
    ----------
    axis : matplotlib Axis
        ``ax.xaxis`` or ``ax.yaxis`` of a log-scale Axes.

    Returns
    -------
    The axis.
    """
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        """matplotlib's choice of which ticks to label, written as plain numbers."""

        def __call__(self, x: float, pos: Any = None) -> str:
            return f"{x:.6g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    return axis


def integer_ticks(axis: Any) -> Any:
    """Ticks at integers only, on an axis that counts (patterns, epochs, indices)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    return axis


__all__ = ["plain_log_ticks", "integer_ticks"]
