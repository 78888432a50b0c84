"""Exceptions and warnings raised by convexnn.

Bad user input raises :class:`ConvexNNValueError` / :class:`ConvexNNTypeError` naming the
argument; both are also the built-in ``ValueError`` / ``TypeError``, so ``except
ValueError`` keeps working.  A damaged or foreign network file raises
:class:`NetworkFileError` naming the file.  Outcomes of a solve are *statuses* (see
:mod:`convexnn.core.solution`); only a solver that breaks down raises :class:`SolverError`.
"""

from __future__ import annotations


class ConvexNNError(Exception):
    """Base class of convexnn's own exceptions."""


class ConvexNNValueError(ConvexNNError, ValueError):
    """An argument has the right type but a bad value (the message names it)."""


class ConvexNNTypeError(ConvexNNError, TypeError):
    """An argument has the wrong type (the message names it)."""


class NetworkFileError(ConvexNNValueError):
    """A file is not a readable convexnn network (the message names the file, what is
    wrong and what to do)."""


class UnrealizablePatternsError(ConvexNNValueError):
    """User-given activation patterns that no gate vector realizes, where one is needed."""


class SolverError(ConvexNNError):
    """A solver failed to return a usable answer (the message names a next step)."""


class SolverNotAvailableError(SolverError):
    """The requested solver is not installed or not licensed."""


class RecoveryError(ConvexNNError):
    """A convex solution could not be mapped back to network weights."""


class PatternBudgetError(ConvexNNValueError):
    """The requested activation patterns would not fit in the memory/time budget."""


class InaccurateSolutionWarning(UserWarning):
    """The solver's answer failed convexnn's own numpy re-evaluation."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before its tolerance."""


class UnrealizablePatternsWarning(UserWarning):
    """Some user-given activation patterns are not cells of the data's arrangement: no
    ReLU or gated neuron has them, so the program is a relaxation over them."""


class ZeroNetworkWarning(UserWarning):
    """The optimal network has no neuron: beta is at or above the largest useful value
    (:func:`convexnn.beta_max`), so the answer is the free terms alone."""
