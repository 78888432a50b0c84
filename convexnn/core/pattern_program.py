"""What every convex program over a fixed pattern set shares: its sizes and a copy at
another beta (the two-layer and CNN programs)."""

from __future__ import annotations

import copy

import numpy as np

from .transient import Transient
from .validation import check_positive


class PatternProgram(Transient):
    """Base of a program with data ``X`` (n rows), patterns ``D`` (rows, P) and weight
    decay ``beta``; its compiled cvxpy problem is transient (:class:`Transient`)."""

    X: np.ndarray
    D: np.ndarray
    beta: float

    def with_beta(self, beta: float):
        """The same program at another beta, sharing data, patterns and the compiled cvxpy
        problem (whose beta Parameter is set from ``self.beta`` at every cvxpy solve)."""
        other = copy.copy(self)
        other.beta = check_positive("beta", beta)
        return other

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_patterns(self) -> int:
        return self.D.shape[1]


__all__ = ["PatternProgram"]
