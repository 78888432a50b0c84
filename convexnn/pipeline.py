r"""One pipeline for every program kind: program -> solve -> re-check in numpy -> recover
-> certify -> result.

.. math::
    p^\star \;\le\; p_{\text{cvx}}(\text{columns}) \;=\; F(\theta_{\text{recovered}})

The kind (:mod:`convexnn.kinds`) plans the work: a program over fixed columns with its
solver, or a pricer that the column-generation engine (:mod:`convexnn.generation`) drives.
Then, whatever the kind:

1. **status rule**: a solver that failed, or proved the program infeasible or unbounded,
   raises :class:`~convexnn.exceptions.SolverError` with a next step; one that stopped at
   its limit (or a generation whose budget ended first) gives "iteration_limit" and a
   :class:`~convexnn.exceptions.ConvergenceWarning`;
2. **re-check in numpy**: the convex objective, the constraint violation, the objective
   the solver reported, and the recovered network's non-convex objective, which must all
   agree to :data:`CHECK_RTOL` (relative); an "optimal" answer that fails a check becomes
   "inaccurate" with an :class:`~convexnn.exceptions.InaccurateSolutionWarning`;
3. **certificate** of the recovered network (the kind's dual certificate).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from .core import progress
from .core.results import FitResult, rel_diff
from .core.solution import FAILED, INACCURATE, INFEASIBLE, ITERATION_LIMIT, OPTIMAL, UNBOUNDED
from .core.threads import limit_blas, small_problem_threads, solve_threads
from .exceptions import (
    ConvergenceWarning,
    InaccurateSolutionWarning,
    SolverError,
    ZeroNetworkWarning,
)
from .generation import generate

#: Relative tolerance of the numpy re-checks, for every kind.
CHECK_RTOL = 1e-5


def run(kind: Any, spec: Any, data: Any) -> FitResult:
    """Plan, solve and finish a validated spec (the body of :func:`convexnn.fit`)."""
    t0 = time.perf_counter()
    # one BLAS thread throughout for small data: a multithreaded numpy product leaves its
    # pool's workers spinning for ~0.1 s against the solver's widened products
    with limit_blas(solve_threads(spec.options.get("num_threads", "auto")),
                    n_samples=data.n_samples):
        plan = kind.plan(spec, data)
        if plan.pricer is None:
            solution = plan.solver(plan.program)
            return finish(kind, spec, plan.program, solution, t0=t0,
                          timings={"patterns": plan.time})
        with small_problem_threads(data.n_samples), \
                progress.bar(plan.budget.max_rounds, f"{kind.name} generation", spec.progress) as bar:
            gen = generate(plan.pricer, plan.budget, progress=bar, verbose=spec.verbose)
        messages = []
        if not gen.report.converged and gen.solution.status == OPTIMAL:
            gen.solution.status = ITERATION_LIMIT
            messages.append(f"column generation stopped at its {gen.report.reason} while "
                            "pricing still found violated constraints: the objective is an "
                            "upper bound; raise max_rounds (or time_limit, where one was given) to "
                            "search longer")
        return finish(kind, spec, gen.program, gen.solution, t0=t0, generation=gen.report,
                      timings={"generation": plan.time + gen.report.time}, messages=messages)


def _status(sol: Any, where: str, messages: list[str]) -> str:
    """Step 1: raise for a failed solve, warn for a stopped one."""
    if sol.status in (FAILED, INFEASIBLE, UNBOUNDED):
        raise SolverError(f"{sol.solver} returned status {sol.solver_status!r}{where}; try "
                          "another solver (solver='scs' or 'clarabel'), fewer patterns, or "
                          "verbose=True")
    if sol.status == ITERATION_LIMIT:
        msg = next((m for m in messages if "column generation" in m),
                   sol.info.get("limit_message")
                   or f"{sol.solver} stopped at its iteration limit{where}; raise max_iter or "
                   "loosen tol")
        warnings.warn(msg, ConvergenceWarning, stacklevel=4)
        if msg not in messages:
            messages.append(msg)
    return sol.status


def finish(kind: Any, spec: Any, program: Any, sol: Any, *, t0: float,
           timings: dict[str, float], generation: Any = None,
           messages: list[str] | None = None) -> FitResult:
    """Steps 1-3 of the module docstring for a solved program."""
    messages = [] if messages is None else messages
    where = f" at beta={program.beta:g}"
    status = _status(sol, where, messages)
    objective = program.objective(sol)
    violation = program.constraint_violation(sol)
    reported = getattr(sol, "objective_reported", float("nan"))
    if reported == reported and rel_diff(objective, reported) > CHECK_RTOL:
        messages.append(f"solver objective {reported:.10g} != numpy {objective:.10g}")
    if violation > CHECK_RTOL:
        messages.append(f"cone constraints violated by {violation:.2e} (relative)")
    if "near_tol" in sol.info:
        messages.append(f"working_set: {sol.info['near_tol']}")
    t1 = time.perf_counter()
    with small_problem_threads(program.n_samples):  # SVDs of order n: one thread when small
        network = program.recover(sol, prune=spec.prune)
    recovered = program.network_objective(network)
    if rel_diff(recovered, objective) > CHECK_RTOL:
        messages.append(f"recovered network objective {recovered:.10g} != convex {objective:.10g}")
    if status == OPTIMAL and any(not m.startswith("column generation") for m in messages):
        status = INACCURATE
    if status == INACCURATE:
        warnings.warn(f"{sol.solver}: inaccurate solution{where}: "
                      + ("; ".join(messages) or sol.solver_status),
                      InaccurateSolutionWarning, stacklevel=3)
    if network.width == 0:
        msg = (f"the optimal network has no neuron at beta={program.beta:g}: beta is at or "
               "above the largest useful value (convexnn.beta_max), so the answer is the free "
               "terms alone; lower beta for a network")
        warnings.warn(msg, ZeroNetworkWarning, stacklevel=3)
        messages.append(msg)
    if generation is None:
        timings.update(setup=sol.setup_time, solve=sol.solve_time)
    timings["recover"] = time.perf_counter() - t1
    result = FitResult(objective=objective, status=status, network=network,
                       recovered_objective=recovered, program=program, solution=sol,
                       solver=spec.solver, constraint_violation=violation,
                       exhaustive=bool(program.exhaustive), timings=timings,
                       seed=spec.recorded_seed, generation=generation, messages=messages,
                       classes_=getattr(program, "classes", None), spec=spec)
    if spec.certify:
        with small_problem_threads(program.n_samples):
            result.certificate = kind.certify(result)
        timings["certify"] = result.certificate.time
    timings["total"] = time.perf_counter() - t0
    return result


def refit(result: FitResult, beta: float) -> FitResult:
    """``result``'s program at another ``beta`` over the same columns (sharing a compiled
    cvxpy problem), solved, re-checked, recovered and certified like the original fit."""
    from dataclasses import replace

    from .kinds import kind_for

    spec = replace(result.spec, beta=beta)
    kind = kind_for(spec)
    t0 = time.perf_counter()
    program = result.program.with_beta(beta)
    with limit_blas(solve_threads(spec.options.get("num_threads", "auto")),
                    n_samples=program.n_samples):
        solution = kind.solver(spec)(program)
        return finish(kind, spec, program, solution, t0=t0, timings={"patterns": 0.0})


__all__ = ["CHECK_RTOL", "finish", "refit", "run"]
