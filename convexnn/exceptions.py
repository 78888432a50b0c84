"""Exceptions and warnings raised by convexnn.

Bad user input raises the built-in ``ValueError`` / ``TypeError`` naming the argument.
Outcomes of a solve are *statuses* (see :mod:`convexnn.solvers.status`); only a solver
that breaks down raises :class:`SolverError`.
"""

from __future__ import annotations


class ConvexNNError(Exception):
    """Base class of convexnn's own exceptions."""


class SolverError(ConvexNNError):
    """A solver failed to return a usable answer (the message names a next step)."""


class SolverNotAvailableError(SolverError):
    """The requested solver is not installed or not licensed."""


class RecoveryError(ConvexNNError):
    """A convex solution could not be mapped back to network weights."""


class PatternBudgetError(ValueError):
    """The requested activation patterns would not fit in the memory/time budget."""


class InaccurateSolutionWarning(UserWarning):
    """The solver's answer failed convexnn's own numpy re-evaluation."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before its tolerance."""
