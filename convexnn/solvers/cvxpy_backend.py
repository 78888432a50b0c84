"""CVXPY backend: Clarabel (default), MOSEK (when installed and licensed), SCS.

The solver's status is mapped into convexnn's statuses; the caller then re-evaluates the
answer in numpy (objective, cone constraints) before trusting it.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
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


@dataclass
class CvxpyOutcome:
    """What a CVXPY solve returned, in convexnn's terms.

    Attributes
    ----------
    status : str
        The solver's status mapped by :data:`STATUS_MAP` (one of convexnn's statuses).
    solver_status : str
        CVXPY's own status string.
    value : float
        The objective the solver reported (nan without one).
    setup_time, solve_time : float
        Seconds compiling and solving.
    iterations : int or None
    retried_with : list of dict
        Settings of the retries (:data:`CLARABEL_RETRIES`) that were needed.
    """

    status: str
    solver_status: str
    value: float
    setup_time: float
    solve_time: float
    iterations: int | None
    retried_with: list

    @property
    def ok(self) -> bool:
        """The solver returned primal values (optimal, or optimal to lower accuracy)."""
        return self.status in (OPTIMAL, INACCURATE)


def _tolerances(solver: str, tol: float | None, max_iter: int | None, options: dict) -> dict:
    """The solver's own option names for a relative tolerance and an iteration limit."""
    opts = dict(options)
    if tol is not None:
        if solver == "clarabel":
            for key in ("tol_gap_abs", "tol_gap_rel", "tol_feas"):
                opts.setdefault(key, tol)
        elif solver == "scs":
            opts.setdefault("eps_abs", tol)
            opts.setdefault("eps_rel", tol)
    if max_iter is not None:
        if solver == "mosek":
            opts.setdefault("mosek_params", {"MSK_IPAR_INTPNT_MAX_ITERATIONS": max_iter})
        else:
            opts.setdefault({"clarabel": "max_iter", "scs": "max_iters"}[solver], max_iter)
    return opts


def solve_problem(problem, *, solver: str = "clarabel", verbose: bool = False,
                  tol: float | None = None, max_iter: int | None = None,
                  what: str = "this problem", **options) -> CvxpyOutcome:
    """Solve a compiled ``cvxpy.Problem`` with a CVXPY solver: the one place convexnn calls
    ``Problem.solve``.

    Clarabel is retried with :data:`CLARABEL_RETRIES` when it stops short of optimal; a
    solver that raises is re-raised as :class:`~convexnn.exceptions.SolverError` naming
    ``what`` and a next step.  Statuses other than optimal are returned, not raised.
    """
    import cvxpy as cp

    solver = solver.lower()  # convexnn's names; cvxpy's upper-case ones are accepted too
    check_available(solver)
    opts = _tolerances(solver, tol, max_iter, options)
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
            f"{solver} failed on {what} ({error}); try another solver (solver='scs' or "
            "'clarabel'), fewer patterns, or verbose=True to see the solver's log") from error
    wall = time.perf_counter() - t1
    stats = problem.solver_stats
    compile_time = getattr(problem, "compilation_time", None) or 0.0
    solve_time = stats.solve_time if stats is not None and stats.solve_time is not None \
        else wall - compile_time
    return CvxpyOutcome(status=STATUS_MAP.get(problem.status, FAILED),
                        solver_status=str(problem.status),
                        value=float(problem.value) if problem.value is not None else float("nan"),
                        setup_time=compile_time, solve_time=solve_time,
                        iterations=getattr(stats, "num_iters", None), retried_with=used)


def solve_cvxpy(program, *, solver: str = "clarabel", verbose: bool = False,
                tol: float | None = None, max_iter: int | None = None, **options) -> ConvexSolution:
    """Solve ``program`` (anything with ``build()``, ``variables``, ``zero_solution()`` and
    ``solution_from_variables()``) with a CVXPY solver (:func:`solve_problem`) and return
    its solution carrying the solver's status and timings."""
    t0 = time.perf_counter()
    problem = program.build()
    # a program made by with_beta shares the compiled problem: solve at its own beta
    if "beta" in getattr(program, "parameters", {}):
        program.parameters["beta"].value = program.beta
    t_build = time.perf_counter() - t0
    out = solve_problem(problem, solver=solver, verbose=verbose, tol=tol, max_iter=max_iter,
                        **options)
    if not out.ok or _missing_values(program.variables):
        sol = program.zero_solution()
        sol.status = out.status if out.status != INACCURATE else FAILED
    else:
        sol = program.solution_from_variables()
        sol.status = out.status
    sol.solver = solver
    sol.solver_status = out.solver_status
    sol.objective_reported = out.value
    sol.iterations = out.iterations
    sol.setup_time = t_build + out.setup_time
    sol.solve_time = out.solve_time
    sol.info["wall_time"] = time.perf_counter() - t0
    if out.retried_with:
        sol.info["retried_with"] = out.retried_with
    return sol


def _missing_values(variables) -> bool:
    """Whether any cvxpy variable (in a dict, list or nested) has no value."""
    if isinstance(variables, dict):
        return any(_missing_values(v) for v in variables.values())
    if isinstance(variables, list | tuple):
        return any(_missing_values(v) for v in variables)
    return variables is not None and getattr(variables, "value", 0) is None
