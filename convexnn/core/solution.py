"""The result of solving a convex program: primal blocks, status and timings.

Statuses are plain strings so they print and compare simply:

=====================  =============================================================
``"optimal"``           solver converged and convexnn's numpy re-evaluation agrees
``"inaccurate"``        solver reported a solution, but it failed a numpy check
                        (objective mismatch or cone-constraint violation)
``"iteration_limit"``   an iterative solver hit its iteration or time limit
``"infeasible"``        the solver proved infeasibility (cannot happen for the
                        programs here unless the data is degenerate)
``"unbounded"``         likewise
``"failed"``            the solver broke down
=====================  =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OPTIMAL = "optimal"
INACCURATE = "inaccurate"
ITERATION_LIMIT = "iteration_limit"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
FAILED = "failed"
STATUSES = (OPTIMAL, INACCURATE, ITERATION_LIMIT, INFEASIBLE, UNBOUNDED, FAILED)


@dataclass(kw_only=True)
class SolveRecord:
    """How a program's primal values were obtained: the fields every solution shares
    (keyword-only, after the program-specific values of a subclass).

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    solver : str
        Name of the solver that produced the values.
    solver_status : str
        The solver's own status string.
    objective_reported : float
        The objective as the solver reported it (convexnn recomputes its own).
    dual_bound : float or None
        A lower bound on the program's optimum, where the solver gives one.
    iterations : int or None
    setup_time, solve_time : float
        Seconds spent compiling and solving.
    info : dict
        Solver-specific details (gaps, rounds, fallbacks).
    """

    status: str = OPTIMAL
    solver: str = ""
    solver_status: str = ""
    objective_reported: float = float("nan")
    dual_bound: float | None = None
    iterations: int | None = None
    setup_time: float = 0.0
    solve_time: float = 0.0
    info: dict = field(default_factory=dict)


@dataclass
class ConvexSolution(SolveRecord):
    r"""Primal values of a two-layer convex program and how they were obtained
    (:class:`SolveRecord`).

    Attributes
    ----------
    V, W : ndarray of shape (P, d')
        ReLU blocks :math:`v_i, w_i` (C-ReLU); for C-GReLU ``V`` holds :math:`u_i` and
        ``W`` is None.
    skip : ndarray of shape (d,)
        Free linear term :math:`w_0` (zeros when absent).
    c : float
        Free output bias (0 when absent).
    """

    V: np.ndarray
    W: np.ndarray | None
    skip: np.ndarray
    c: float = 0.0


@dataclass
class VectorSolution(SolveRecord):
    """Primal values of a vector-output program and how they were obtained
    (:class:`SolveRecord`).

    ``V`` (P, d', c) blocks (gated) or ``U`` (K, d') unit directions with output weights
    ``G`` (K, c) (neuron generation); ``A`` (q, c) free-term coefficients.
    """

    A: np.ndarray
    V: np.ndarray | None = None
    U: np.ndarray | None = None
    G: np.ndarray | None = None
