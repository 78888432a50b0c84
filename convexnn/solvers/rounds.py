r"""The rounds of the working-set solver (:class:`~convexnn.solvers.working_set.WorkingSetSolver`),
with their state in an explicit object (:class:`Run`, in the manner of jaxopt's solver
states).

One round: solve the interior-point subproblem on the working set (warm-started from the
last set's iterate), invert to the program's solution, certify the duality gap over
*every* block, then grow the set by the blocks and cone rows the certificate finds
violated.  The solve ends when nothing is added and the certified relative gap is at most
``tol`` ("optimal"), when the iteration or time budget ends ("iteration_limit"), or at the
method's roundoff floor ("inaccurate" with a finite certificate, else "failed").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..core.lazy import torch_module as _torch
from ..core.solution import FAILED, INACCURATE, ITERATION_LIMIT, OPTIMAL, ConvexSolution
from .blocks import orthonormal_free_basis
from .ipm import InteriorPoint
from .row_store import RowStore, nearest_rows
from .subproblem import Subproblem
from .warm_start import warm_state

#: Interior-point tolerance relative to the certified gap ``tol``, without polish: the
#: certificate's gap tracks the method's complementarity gap closely (diabetes: 4.3e-6 /
#: 1.5e-7 against 4.3e-6 / 1.5e-7), and a point that does not certify is refined further.
IPM_TOL_RATIO = 0.25
#: The same with ``polish`` (the default): a point a hundred times more accurate than the
#: certified gap, so that zero blocks are zero to working precision and the recovered
#: network's objective equals the convex one to ~1e-8.
POLISH_TOL_RATIO = 0.01


def device(device):
    """The torch device of a ``device`` option ("auto"/None: cuda when available)."""
    torch = _torch()
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class Run:
    """Per-solve state of the working-set solver (the solver object itself is stateless)."""

    program: Any
    universe: Any
    store: Any
    Q: Any
    F_t: Any
    y_t: Any
    dev: Any
    M: int
    k0: int
    t0: float
    setup: float
    ws: Any
    fresh: Any
    exploring: bool
    ipm_tol: float
    state: Any = None
    previous: Any = None
    blocks: Any = None
    prob: Any = None
    iters: int = 0
    rounds: int = 0
    best: Any = None
    last: Any = None  # (solution, relative gap, certificate) of the last round
    history: list = field(default_factory=list)


def start_run(solver, program, cache) -> Run:
    """Apply the program as blocks, choose the first working set and its cone rows."""
    torch = _torch()
    t0 = time.perf_counter()
    dev = device(solver.device)
    universe = program.block_set(dev)  # apply: the program as blocks
    n, dp, M = universe.n, universe.dim, universe.m
    k0 = solver._rows0(program)
    m0 = solver._first_blocks(n, M, dp, program.loss.constant_hessian, k0)
    ws = torch.arange(M, device=dev) if m0 >= M else solver._screen(program, universe, m0, cache)
    store = RowStore(universe) if program.has_cone_rows else None
    if store is not None:
        store.add(*nearest_rows(program, universe, ws, k0))
    Q = orthonormal_free_basis(program.free_basis)
    F_t = None if Q is None else torch.as_tensor(Q, dtype=torch.float64, device=dev)
    y_t = torch.as_tensor(program.y, dtype=torch.float64, device=dev)
    ratio = POLISH_TOL_RATIO if solver.polish else IPM_TOL_RATIO
    ipm_tol = solver.ipm_tol if solver.ipm_tol is not None else solver.tol * ratio
    setup = time.perf_counter() - t0
    if solver.verbose:
        print(f"set-up {setup:.2f} s: {int(ws.numel())} of {M} blocks, {k0} rows per block")
    return Run(program, universe, store, Q, F_t, y_t, dev, M, k0, t0, setup, ws,
               fresh=torch.zeros(M, dtype=torch.bool, device=dev),  # blocks added last round
               exploring=bool(ws.numel() < M), ipm_tol=ipm_tol)


def _subproblem(solver, run: Run) -> None:
    """A new working set's subproblem, warm-started from the last one's iterate."""
    run.blocks = run.universe.subset(run.ws)
    if run.store is not None:
        run.blocks.rows, run.blocks.rmask = run.store.view(run.ws)
    run.prob = Subproblem(run.blocks, run.y_t, run.program.loss, run.program.beta, run.F_t)
    if run.previous is not None and solver.warm_start:
        run.state = warm_state(run.prob, run.ws, *run.previous)
    run.previous = None


def run_round(solver, run: Run, cache) -> str | None:
    """One round (module docstring); returns the final status, or None to go on."""
    run.rounds += 1
    program = run.program
    if run.state is None:
        _subproblem(solver, run)
    # a working set that is still growing is solved loosely: its dual point only has to
    # find the next blocks; the final set continues from there (same problem)
    tol_now = max(run.ipm_tol, solver.screen_tol) if run.exploring else run.ipm_tol
    ipm = InteriorPoint(tol=tol_now, max_iter=max(0, solver.max_iter - run.iters),
                        verbose=solver.verbose)
    separate = None
    if run.store is not None and solver.separate_add > 0:
        separate = solver._separator(run.store, run.blocks, run.ws, run.M)
    res = ipm.solve(run.prob, run.state,
                    time_limit=solver.time_limit - (time.perf_counter() - run.t0),
                    separate=separate)
    run.iters += res.iterations
    run.state = res.state
    sol = program.solution_from_blocks(run.blocks, run.state.v, run.state.a, run.Q)  # invert
    t_cert = time.perf_counter()
    hinge_lam = run.state.z_h[1].cpu().numpy() if run.prob.hinge else None
    cert = solver.certificate(program, run.universe, run.ws, run.blocks, run.state, sol,
                              hinge_lam, quick=run.exploring and (solver.quick_certificates
                                                                  or run.rounds == 1),
                              cache=cache)
    t_cert = time.perf_counter() - t_cert
    rel = cert.gap / max(1.0, abs(cert.primal))
    run.last = (sol, rel, cert)
    if run.best is None or (cert.violation <= 1e-9 and rel < run.best[1]):
        run.best = run.last
    ws_before = run.ws
    growth = solver._grow(program, run.universe, run.store, run.blocks, run.ws, run.state, cert,
                          run.fresh, run.exploring, tol_now, run.k0)
    run.ws, run.fresh = growth.ws, growth.fresh
    _record(solver, run, res, cert, rel, growth, t_cert)
    return _decide(solver, run, res, cert, rel, growth, ws_before)


def _record(solver, run: Run, res, cert, rel: float, growth, t_cert: float) -> None:
    run.history.append(dict(
        round=run.rounds, ipm=res.status, iterations=res.iterations, blocks=int(run.blocks.m),
        ipm_time=res.time, certificate_time=t_cert, primal=cert.primal, lower=cert.lower,
        rel_gap=rel, added_rows=growth.added_rows, added_blocks=growth.added_blocks,
        ipm_added_rows=res.rows_added, dropped_blocks=growth.dropped,
        time=time.perf_counter() - run.t0))
    if solver.verbose:
        print(f"round {run.rounds}: ipm {res.status} ({res.iterations} it, {run.blocks.m} blocks), "
              f"P={cert.primal:.10g} LB={cert.lower:.10g} rel.gap={rel:.2e} "
              f"s/beta-1={cert.s / run.program.beta - 1:.2e} +rows={growth.added_rows} "
              f"+blocks={growth.added_blocks}")


def _decide(solver, run: Run, res, cert, rel: float, growth, ws_before) -> str | None:
    """The status that ends the solve, or None (with the next round's set-up done)."""
    added = growth.added_rows or growth.added_blocks
    if not added and rel <= solver.tol:
        return OPTIMAL
    if run.iters >= solver.max_iter or time.perf_counter() - run.t0 > solver.time_limit:
        return ITERATION_LIMIT
    if added:
        run.previous = (run.state, ws_before, run.blocks)
        run.state = None  # a new working set
        run.exploring = bool(growth.added_blocks) and bool(run.ws.numel() < run.M)
        return None
    if run.exploring:
        run.exploring = False  # nothing to add: continue the same problem to ipm_tol
        if growth.shrink:
            run.previous = (run.state, ws_before, run.blocks)
            run.state = None
        return None
    if res.status in ("failed", "stalled"):
        # at the roundoff floor of the method: a feasible point with a certified but larger
        # gap is "inaccurate"; no finite certificate is a failure
        return INACCURATE if math.isfinite(cert.gap) and cert.violation <= 1e-6 else FAILED
    run.ipm_tol *= 0.1  # same set: continue to a more accurate point
    if run.ipm_tol < 1e-15:
        return INACCURATE if math.isfinite(cert.gap) else FAILED
    return None


def finish_run(run: Run, status: str) -> ConvexSolution:
    """The solution with its status, certificate and timings (the best certified point
    when the solve did not end optimal)."""
    sol, rel, cert = run.last
    if status != OPTIMAL and run.best is not None and run.best[1] < rel:
        sol, rel, cert = run.best
    program, store = run.program, run.store
    rows = store.total if store is not None else 0
    sol.status = status
    sol.solver = "working_set"
    sol.solver_status = (f"{status} ({run.rounds} rounds, {int(run.ws.numel())} of {run.M} "
                         f"blocks, {rows} cone rows)")
    sol.objective_reported = cert.primal
    sol.dual_bound = cert.lower
    sol.iterations = run.iters
    sol.setup_time = run.setup
    sol.solve_time = time.perf_counter() - run.t0 - run.setup
    sol.info.update(gap=cert.gap, rel_gap=rel, s_over_beta=cert.s / program.beta, rows=rows,
                    blocks=int(run.ws.numel()), all_blocks=run.M, rounds=run.rounds,
                    history=run.history, device=str(run.dev), constraint_violation=cert.violation)
    return sol


__all__ = ["IPM_TOL_RATIO", "POLISH_TOL_RATIO", "Run", "device", "finish_run", "run_round", "start_run"]
