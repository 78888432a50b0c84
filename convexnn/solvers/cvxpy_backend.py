"""CVXPY backend: Clarabel (default), MOSEK (when installed and licensed), SCS.

The solver's status is mapped into convexnn's statuses; the caller then re-evaluates the
answer in numpy (objective, cone constraints) before trusting it.
"""

from __future__ import annotations

import importlib.util
import time
from functools import lru_cache

from ..core.solution import (
    FAILED,
    INACCURATE,
    INFEASIBLE,
    ITERATION_LIMIT,
    OPTIMAL,
    UNBOUNDED,
    ConvexSolution,
)
from ..exceptions import SolverError, SolverNotAvailableError

#: cvxpy status -> convexnn status
STATUS_MAP = {
    "optimal": OPTIMAL,
    "optimal_inaccurate": INACCURATE,
    "infeasible": INFEASIBLE,
    "infeasible_inaccurate": INFEASIBLE,
    "unbounded": UNBOUNDED,
    "unbounded_inaccurate": UNBOUNDED,
    "user_limit": ITERATION_LIMIT,
    "solver_error": FAILED,
}

CVXPY_SOLVERS = {"clarabel": "CLARABEL", "mosek": "MOSEK", "scs": "SCS"}

#: Settings tried in turn when Clarabel stops without an optimal point.  Its
#: exponential-cone steps (logistic loss) can stall with "InsufficientProgress"; a shorter
#: step or no equilibration has recovered every such case seen in the tests.
CLARABEL_RETRIES = ({"max_step_fraction": 0.9}, {"equilibrate_enable": False})


def module_available(name: str) -> bool:
    """Whether a module can be imported, without importing it."""
    return importlib.util.find_spec(name) is not None


@lru_cache(maxsize=1)
def mosek_license() -> tuple[bool, str]:
    """(usable, reason): MOSEK is installed *and* a license can be checked out."""
    if not module_available("mosek"):
        return False, "the mosek package is not installed (pip install mosek)"
    try:
        import mosek

        with mosek.Env() as env:
            env.checkoutlicense(mosek.feature.pts)
    except Exception as e:  # mosek.Error or anything raised while probing the license
        return False, f"no MOSEK license could be checked out ({str(e).strip() or type(e).__name__})"
    return True, "licensed"


def check_available(solver: str) -> None:
    """Raise SolverNotAvailableError with a next step when ``solver`` cannot run here."""
    if solver == "mosek":
        ok, why = mosek_license()
        if not ok:
            raise SolverNotAvailableError(
                f"solver='mosek' was requested but {why}; set MOSEKLM_LICENSE_FILE to a valid "
                "license, or use solver='clarabel'")
    elif solver == "scs" and not module_available("scs"):
        raise SolverNotAvailableError("solver='scs' needs the scs package (pip install scs)")
    elif solver == "clarabel" and not module_available("clarabel"):
        raise SolverNotAvailableError("solver='clarabel' needs the clarabel package (pip install clarabel)")


def solve_cvxpy(program, *, solver: str = "clarabel", verbose: bool = False,
                tol: float | None = None, max_iter: int | None = None, **options) -> ConvexSolution:
    """Solve ``program`` (anything with ``build()`` and ``solution_from_variables()``) with a
    CVXPY solver and return a ConvexSolution carrying the solver's status and timings."""
    import cvxpy as cp

    check_available(solver)
    t0 = time.perf_counter()
    problem = program.build()
    # a program made by with_beta shares the compiled problem: solve at its own beta
    program.parameters["beta"].value = program.beta
    t_build = time.perf_counter() - t0
    opts = dict(options)
    if tol is not None:
        if solver == "clarabel":
            opts.setdefault("tol_gap_abs", tol)
            opts.setdefault("tol_gap_rel", tol)
            opts.setdefault("tol_feas", tol)
        elif solver == "scs":
            opts.setdefault("eps_abs", tol)
            opts.setdefault("eps_rel", tol)
    if max_iter is not None:
        opts.setdefault({"clarabel": "max_iter", "scs": "max_iters", "mosek": "mosek_params"}[solver],
                        max_iter if solver != "mosek" else {"MSK_IPAR_INTPNT_MAX_ITERATIONS": max_iter})
    t1 = time.perf_counter()
    retries = list(CLARABEL_RETRIES) if solver == "clarabel" else []
    used: list[dict] = []
    while True:
        try:
            problem.solve(solver=CVXPY_SOLVERS[solver], verbose=verbose, **opts)
            error = None
        except cp.error.SolverError as e:
            error = e
        if (error is None and problem.status == "optimal") or not retries:
            break
        extra = retries.pop(0)
        used.append(extra)
        opts = {**opts, **extra}
    if error is not None:
        raise SolverError(
            f"{solver} failed on this problem ({error}); try another solver (solver='scs' or "
            "'clarabel'), fewer patterns, or verbose=True to see the solver's log") from error
    wall = time.perf_counter() - t1
    status = STATUS_MAP.get(problem.status, FAILED)
    stats = problem.solver_stats
    if problem.status not in ("optimal", "optimal_inaccurate") or any(
            v.value is None for v in program.variables.values()):
        sol = program.zero_solution()
        sol.status = status if status != INACCURATE else FAILED
    else:
        sol = program.solution_from_variables()
        sol.status = status
    sol.solver = solver
    sol.solver_status = str(problem.status)
    sol.objective_reported = float(problem.value) if problem.value is not None else float("nan")
    sol.iterations = getattr(stats, "num_iters", None)
    compile_time = getattr(problem, "compilation_time", None)
    sol.setup_time = t_build + (compile_time or 0.0)
    sol.solve_time = stats.solve_time if stats.solve_time is not None else wall - (compile_time or 0.0)
    sol.info["wall_time"] = t_build + wall
    if used:
        sol.info["retried_with"] = used
    return sol
