"""The solver registry: the convex programs' solvers, selected by name.

``SOLVERS`` maps a name to a function ``solve(program, *, verbose=False, tol=None,
**options) -> ConvexSolution``:

==================  ===================================================================
``"auto"``          the working-set solver, falling back to Clarabel when it cannot
                    certify its answer (the fallback is recorded in ``info["fallback"]``)
``"working_set"``   certified working-set interior-point method on torch tensors
                    (:mod:`convexnn.solvers.working_set`); ``tol`` is the relative
                    duality gap it certifies (default 1e-6)
``"clarabel"``      CVXPY + Clarabel (interior point on the compiled program)
``"mosek"``         CVXPY + MOSEK, when installed and licensed
``"scs"``           CVXPY + SCS (first-order splitting)
==================  ===================================================================

The working-set solver imports torch lazily, when it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from ..core.protocol import BlockProgram
from ..core.solution import INACCURATE, OPTIMAL, ConvexSolution
from .cvxpy_backend import mosek_license, solve_cvxpy
from .working_set import MemoryBudgetError, WorkingSetSolver, solve_working_set

#: A working-set answer certified within this multiple of tol is returned ("inaccurate",
#: with its gap) instead of falling back to Clarabel.
NEAR_TOL = 100.0
#: No Clarabel fallback for programs with more variables than this (2 P d').
FALLBACK_MAX_VARIABLES = 100_000
#: Options that only the working-set solver understands (dropped for the fallback).
_WORKING_SET_OPTIONS = ("max_iter", "ipm_tol", "initial_rows", "max_add", "device", "num_threads",
                        "memory_limit", "time_limit", "projection_steps", "initial_blocks",
                        "screen_tol", "screen_steps", "quick_certificates", "separate_add",
                        "polish", "warm_start")


def solve_auto(program, *, verbose: bool = False, tol: float | None = None,
               **options) -> ConvexSolution:
    """``SOLVERS["auto"]``: the solver :func:`choose_solver` picks for ``program``; when
    the working-set solver does not return a certified optimum, Clarabel solves the
    program instead and ``info["fallback"]`` records why."""
    name = choose_solver("auto", program)
    if name != "working_set":
        return SOLVERS[name](program, verbose=verbose, tol=tol, **options)
    t0 = time.perf_counter()
    try:
        sol = solve_working_set(program, verbose=verbose, tol=tol, **options)
    except MemoryBudgetError:
        raise  # the compiled cvxpy program would need even more memory
    except (RuntimeError, ValueError, ArithmeticError, IndexError) as e:  # breakdown
        reason = f"working_set raised {type(e).__name__}: {e}"
        sol = None
    else:
        if sol.status == OPTIMAL:
            sol.info["auto"] = "working_set"
            return sol
        tol_now = 1e-6 if tol is None else tol
        rel = sol.info.get("rel_gap")
        if (sol.status == INACCURATE and rel is not None and rel <= NEAR_TOL * tol_now
                and sol.info.get("constraint_violation", 1.0) <= 1e-9):
            # stopped at the method's roundoff floor with a certified gap just above tol:
            # report that (status "inaccurate", the gap in info) rather than start over in
            # another solver (raw-y diabetes: 1.5e-6 against 1e-6, then 56 s in Clarabel)
            sol.info["auto"] = "working_set"
            sol.info["near_tol"] = f"certified relative gap {rel:.2e} > tol {tol_now:g} (roundoff floor)"
            return sol
        reason = f"working_set ended with status {sol.status!r} (rel. gap {sol.info.get('rel_gap')})"
    spent = time.perf_counter() - t0
    size = 2 * program.n_patterns * program.Xt.shape[1]
    if sol is not None and size > FALLBACK_MAX_VARIABLES:
        # a compiled conic program this large would take minutes and gigabytes (14 x 13
        # data, 16,382 cells: 458,682 variables, 25 s just to compile): report the
        # working-set answer with its own status and gap instead
        sol.info["auto"] = "working_set"
        sol.info["no_fallback"] = (f"{reason}; no fallback: the conic program would have "
                                   f"{size:,} variables (> {FALLBACK_MAX_VARIABLES:,})")
        return sol
    fallback = "mosek" if mosek_license()[0] else "clarabel"
    cvx_opts = {k: v for k, v in options.items() if k not in _WORKING_SET_OPTIONS}
    out = SOLVERS[fallback](program, verbose=verbose, tol=tol, **cvx_opts)
    out.info["auto"] = fallback
    out.info["fallback"] = {"from": "working_set", "to": fallback, "reason": reason,
                            "seconds_spent": spent,
                            "status": None if sol is None else sol.status}
    return out


SOLVERS: dict[str, Callable[..., ConvexSolution]] = {
    "auto": solve_auto,
    "working_set": solve_working_set,
    "clarabel": partial(solve_cvxpy, solver="clarabel"),
    "mosek": partial(solve_cvxpy, solver="mosek"),
    "scs": partial(solve_cvxpy, solver="scs"),
}


def choose_solver(solver: str, program=None) -> str:
    """Resolve a solver name.

    ``"auto"`` with a program: ``"working_set"`` for a
    :class:`~convexnn.core.protocol.BlockProgram` (the two-layer C-ReLU and C-GReLU
    programs, every loss and variant), else MOSEK when licensed, else Clarabel.  Without a
    program ``"auto"`` stays ``"auto"`` (``SOLVERS["auto"]`` decides when it runs).
    """
    if solver != "auto":
        if solver not in SOLVERS:
            raise ValueError(f"solver must be 'auto' or one of {tuple(SOLVERS)}; got {solver!r}")
        return solver
    if program is None:
        return "auto"
    if isinstance(program, BlockProgram):  # the protocol the working-set solver consumes
        return "working_set"
    return "mosek" if mosek_license()[0] else "clarabel"


__all__ = ["SOLVERS", "choose_solver", "solve_cvxpy", "solve_working_set", "solve_auto",
           "WorkingSetSolver", "MemoryBudgetError", "mosek_license"]
