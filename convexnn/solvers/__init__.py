"""Solvers of the convex programs, selected by name.

``SOLVERS`` maps a name to a function ``solve(program, **options) -> ConvexSolution``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..solution import ConvexSolution
from .cvxpy_backend import mosek_license, solve_cvxpy

SOLVERS: dict[str, Callable[..., ConvexSolution]] = {
    "clarabel": partial(solve_cvxpy, solver="clarabel"),
    "mosek": partial(solve_cvxpy, solver="mosek"),
    "scs": partial(solve_cvxpy, solver="scs"),
}


def choose_solver(solver: str, program) -> str:
    """Resolve ``solver="auto"``: MOSEK when licensed, else Clarabel."""
    if solver != "auto":
        if solver not in SOLVERS:
            raise ValueError(f"solver must be 'auto' or one of {tuple(SOLVERS)}; got {solver!r}")
        return solver
    return "mosek" if mosek_license()[0] else "clarabel"


__all__ = ["SOLVERS", "choose_solver", "solve_cvxpy", "mosek_license"]
