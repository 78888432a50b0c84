r"""The report every theory check returns: a prediction against a measurement.

:class:`Check` records what the theory predicts, what was measured, the tolerances and
whether :math:`|m - p| \le \mathrm{atol} + \mathrm{rtol}\,|p|` (or the check's own
criterion) holds; no check asserts.  Sections refer to THEORY.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Check:
    """A prediction of the theory checked against a measurement.

    Attributes
    ----------
    name : str
        What is checked.
    predicted, measured : Any
        The predicted and measured quantities (numbers or arrays).
    holds : bool
        Whether the measurement agrees with the prediction within the tolerances.
    rtol, atol : float
        The tolerances used.
    section : str
        The THEORY.md section of the prediction.
    details : dict
        Supporting numbers (and objects, e.g. a rebalanced network).
    """

    name: str
    predicted: Any
    measured: Any
    holds: bool
    rtol: float = 0.0
    atol: float = 0.0
    section: str = ""
    details: dict = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line: name, verdict, predicted vs measured."""
        verdict = "holds" if self.holds else "FAILS"
        return (f"{self.name} [{self.section}]: {verdict}; predicted {_fmt(self.predicted)}, "
                f"measured {_fmt(self.measured)} (rtol={self.rtol:g}, atol={self.atol:g})")

    __str__ = summary_line


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.8g}"
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.array2string(v, precision=6, max_line_width=120)
    return str(v)


def _close(measured: float, predicted: float, rtol: float, atol: float) -> bool:
    return bool(abs(measured - predicted) <= atol + rtol * abs(predicted))


__all__ = ["Check"]
