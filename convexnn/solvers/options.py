"""The keyword options each solver accepts, so that :func:`convexnn.fit` can reject the
others itself, naming them (instead of a ``TypeError`` from deep inside a solver)."""

from __future__ import annotations

#: Options of :class:`convexnn.solvers.working_set.WorkingSetSolver` (besides tol, verbose).
WORKING_SET = ("max_iter", "ipm_tol", "initial_rows", "max_add", "initial_blocks", "device",
               "num_threads", "memory_limit", "time_limit", "projection_steps", "screen_tol",
               "quick_certificates", "screen_steps", "separate_add", "polish", "warm_start")
#: Options of :func:`convexnn.solvers.cvxpy_backend.solve_cvxpy` passed through to cvxpy.
CVXPY = ("max_iter", "warm_start", "ignore_dpp", "canon_backend")
#: Native settings per cvxpy solver (a curated list of the documented ones).
NATIVE = {
    "clarabel": ("time_limit", "tol_gap_abs", "tol_gap_rel", "tol_feas", "tol_infeas_abs",
                 "tol_infeas_rel", "tol_ktratio", "max_step_fraction", "equilibrate_enable",
                 "equilibrate_max_iter", "presolve_enable", "static_regularization_enable",
                 "dynamic_regularization_enable", "iterative_refinement_enable",
                 "direct_solve_method", "max_threads", "reduced_tol_feas",
                 "reduced_tol_gap_abs", "reduced_tol_gap_rel"),
    "scs": ("max_iters", "eps_abs", "eps_rel", "eps_infeas", "alpha", "scale", "normalize",
            "acceleration_lookback", "time_limit_secs", "use_indirect", "adaptive_scale"),
    "mosek": ("mosek_params", "save_file", "bfs", "accept_unknown", "eps"),
}


def accepted_options(solver: str) -> tuple[str, ...]:
    """Every keyword ``fit(..., solver=solver, **options)`` passes on to a solver."""
    if solver == "working_set":
        return WORKING_SET
    if solver == "auto":  # the working-set solver gets every option (cvxpy only on fallback)
        return WORKING_SET
    return tuple(dict.fromkeys(CVXPY + NATIVE.get(solver, ())))
