r"""Local ascent from the search's candidate directions: exact cell maxima and their
neighbours.

A direction v lies in the cell :math:`K_D = \{v : (2D - I)Nv \ge 0\}`, :math:`D = 1[Nv \ge 0]`,
on which :math:`f_\sigma(v) = g_D^\top v` with :math:`g_D = \sigma\sum_{i\in D}w_in_i`; its
maximum over the unit ball (:func:`convexnn.duality.cones.cone_support`) is at least
:math:`f_\sigma(v)`.  The maximizer usually lies on facets :math:`n_i^\top v = 0`; flipping
those rows gives a cell that still contains it, whose maximum is at least as large.  The
ascent repeats while it improves.  The values are attained (lower bounds of s); they let a
violation search stop long before the bounds come down to the violation's value.
"""

from __future__ import annotations

import numpy as np

from .bb_nodes import Rows
from .cones import cone_support

#: Cell flips per ascent at most.
MAX_FLIPS = 10
#: Rows within this of a facet (|n_i^T v|) count as tied.
TIE = 1e-9


def polish(rows: Rows, v: np.ndarray, sign: float) -> tuple[float, np.ndarray]:
    r"""(value, unit direction): the best cell maximum of :math:`f_\sigma` reached by the
    ascent of the module docstring from v (value 0 and v if nothing positive is found)."""
    D = rows.N @ v >= 0
    best, best_v = -np.inf, v
    for _ in range(MAX_FLIPS):
        A = np.where(D, 1.0, -1.0)[:, None] * rows.N
        _, lo, u = cone_support(A, sign * (rows.w * D) @ rows.N)
        if lo <= best * (1 + 1e-12):
            break
        best, best_v = lo, u
        tied = np.abs(rows.N @ u) <= TIE
        if not tied.any():
            break
        D = D.copy()
        D[tied] = ~D[tied]
    return max(best, 0.0), best_v
