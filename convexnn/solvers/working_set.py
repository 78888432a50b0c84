r"""Working-set interior-point solver of the two-layer convex programs, with a certified gap.

C-ReLU (C-GReLU drops the cone rows and the :math:`w_i`; THEORY A.2, B):

.. math::
    \min_{v_i, w_i}\ \ell\Big(\sum_i D_i\tilde X(v_i - w_i) + Fa\Big)
        + \beta\sum_i\big(\|v_{i,\pi}\| + \|w_{i,\pi}\|\big)
    \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\ (2D_i - I)\tilde Xw_i \ge 0.

Two working sets keep the interior-point method (:mod:`convexnn.solvers.ipm`) small:

* **rows** -- each cone :math:`K_i` has n rows but only a few facets (35-48 of 442 on the
  diabetes benchmark, d' = 11), and an optimal block lies on a face of at most d' - 1
  of them.  Redundant rows slow the interior-point method down (diabetes: 25
  iterations with about 45 rows per block, 35 with 176, 55 with all 442).  Each block
  starts with the ``4 d'`` rows whose hyperplanes are nearest (in angle) to its gate;
  rows that an iterate violates join *during* the method (``separate_add`` per block
  and iteration, :meth:`InteriorPoint.add_rows`), and rows the final point violates
  start a new round;
* **blocks** -- at most n blocks are active at an optimum.  When one interior-point
  iteration over all blocks is cheap (:data:`ALL_BLOCKS_FLOPS`) every block is in;
  otherwise the set starts with the blocks of largest dual norm at the zero network, and
  blocks whose dual constraint fails (:math:`s_b > \beta`) are added, largest first
  (at most doubling the set), while idle ones (zero, slack dual constraint) leave.

A changed working set restarts the interior-point method (interior points warm-start
badly); a growing one is solved to ``screen_tol`` only, the final one continues from
there to ``ipm_tol``.

Certificate (THEORY A.7 over *all* the program's blocks; the stopping rule): the dual
point :math:`\lambda = -\nabla\ell(\hat y)`, scaled into the dual feasible set by the
largest block bound :math:`s = \max_b s_b`, gives the lower bound; the solver stops when
the primal point is feasible for every row and the relative gap is at most ``tol``
(:mod:`convexnn.solvers.gap_certificate` has the bounds and how they are computed).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..core.lazy import torch_module as _torch
from ..core.solution import ConvexSolution
from ..core.threads import allow_wide_products, limit_blas, limit_torch, solve_threads
from ..core.validation import check_num_threads
from ..exceptions import PatternBudgetError
from .blocks import BlockSet, orthonormal_free_basis
from .cone_projection import project_cones, support_upper
from .gap_certificate import (
    IDLE_SLACK,
    GapCertificate,
    SolveCache,
    certify,
    dual_point,
    scan_threads,
)
from .rounds import finish_run, run_round, start_run
from .row_store import CHUNK_ROWS, RowStore, nearest_rows

#: Default relative duality-gap tolerance of the certificate.
DEFAULT_TOL = 1e-6
#: Rows violated by more than this (relative to ||x_j|| ||v_b||) count as infeasible.
FEAS_RTOL = 1e-9
#: All blocks start in the working set when one interior-point iteration over them
#: costs at most this many flops (about half a second on two cores).
ALL_BLOCKS_FLOPS = 1.5e10
#: ... and at most this many blocks, however cheap the Newton system (tiny n with a huge
#: arrangement, 14 x 13 data: 32,762 blocks; the per-block work then dominates).
MAX_FIRST_BLOCKS = 8192
#: Initial cone rows per block, times d' (the rest join when violated, during the
#: interior-point method: redundant rows slow it down, see :class:`WorkingSetSolver`);
#: twice as many for many samples per dimension (n > MANY_ROWS_RATIO d'), whose cones
#: have more facets near any direction.  Measured: diabetes (n = 40 d') 21 iterations
#: with 4 d', 24 with 8 d'; breast cancer (n = 18 d') 8.2 s with 4 d', 9.6 s with 8 d';
#: synthetic (n = 196 d') 45 s with 8 d', 64 s with 4 d', 128 s with 16 d'.
#: At most INITIAL_ROWS_CAP rows (but at least 2 d'): a row's share of every iteration
#: grows like d'^2 (the block matrices A^T Theta A and the many batched row products).
#: Breast cancer (d' = 31, 344 blocks), interior-point time of the master, 3 runs each:
#: squared 1.96-2.18 s with 4 d' = 124 rows, 1.48-1.60 s with 62, 1.51-1.58 s with 93;
#: logistic 1.91-2.33 s with 124, 1.53-1.79 s with 62, 1.64-1.73 s with 31.
INITIAL_ROWS = 4
INITIAL_ROWS_CAP = 48
MANY_ROWS_RATIO = 100
class Growth(NamedTuple):
    """The working set after a round (:meth:`WorkingSetSolver._grow`)."""

    ws: object  # sorted block indices
    fresh: object  # (M,) bool: the blocks that joined in this round
    added_rows: int
    added_blocks: int
    dropped: int  # idle blocks that left
    shrink: bool  # the set shrank to its support (no block joined)


class MemoryBudgetError(PatternBudgetError, MemoryError):
    """The working-set solver's estimated memory exceeds its budget (raised before
    allocating)."""



def available_memory() -> int:
    """Bytes of physical memory (a generous default budget is a fraction of it)."""
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 1024**3


class WorkingSetSolver:
    r"""Certified working-set interior-point solver (see the module docstring).

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality gap to certify: :math:`P - \mathrm{LB} \le \mathrm{tol}\max(1,|P|)`.
    max_iter : int, default=300
        Total interior-point iterations over all rounds.
    ipm_tol : float, optional
        Tolerance of the interior-point method (default ``tol / 100`` with ``polish``,
        else ``tol / 4``; ten times smaller per refinement of a point that does not
        certify).
    warm_start : bool, default=True
        Start the interior-point method of a grown working set from the last one's
        iterate (:func:`warm_state`) rather than from scratch.
    polish : bool, default=True
        Solve to ``tol / 100`` rather than stop at the first point certified within
        ``tol``: the certificate is the same, but zero blocks are zero to working
        precision (the recovered network has no spurious tiny neurons and its objective
        equals the convex optimum to ~1e-8).  ``False`` is the fastest way to a certified
        ``tol`` (the benchmark's time-to-gap).
    initial_rows : int, optional
        Rows per block to start with (default ``4 d'``, ``8 d'`` when n > 100 d', capped
        at 48 but at least ``2 d'``; at most n).
    max_add : int, default=4
        Violated rows added per block and round.
    separate_add : int, default=2
        Violated rows added per block and interior-point iteration (0: only between
        rounds, each of which restarts the method).
    initial_blocks : int or "auto", default="auto"
        Size of the first block working set: every block when an interior-point
        iteration over all of them is cheap (:data:`ALL_BLOCKS_FLOPS`), else the blocks
        with the largest dual norms at the zero network.
    device : str or None
        torch device ("cpu", "cuda"; default: cuda when available).
    num_threads : int, None or "auto", default="auto"
        torch intra-op threads during the solve, and BLAS threads for fewer than
        :data:`convexnn.core.threads.SMALL_SAMPLES` samples (restored afterwards).  One thread
        keeps the many small batched operations from contending for cores on a shared
        machine.  "auto": one thread, except that the dense Schur-complement products of
        at least :data:`convexnn.core.threads.WIDE_FLOPS` use the process's BLAS threads on a
        machine with :data:`~convexnn.core.threads.WIDE_MIN_CORES` cores (by size and
        machine, never by load: :func:`convexnn.core.threads.wide_products`); None: no cap.
    memory_limit : int or None
        Bytes; refuse (:class:`MemoryBudgetError`) problems estimated above it
        (default: half of the physical memory).
    time_limit : float, default=inf
        Seconds.
    projection_steps : int, optional
        Active-set steps of the cone projections (default 8 d').
    screen_tol : float, default=1e-3
        Interior-point tolerance of the rounds whose block working set is still growing.
    screen_steps : int, default=5
        Projection steps of the first ranking of the blocks (when not all fit).
    quick_certificates : bool, default=False
        In every growing round (not only the first), bound the blocks outside the working
        set with 2d' projection steps only (cheaper certificates, but looser bounds add
        more blocks).
    verbose : bool, default=False

    Notes
    -----
    Rounds: solve on the working set (cold interior-point start: interior points
    warm-start badly), certify over *all* blocks, then add the violated rows and the
    blocks with :math:`s_b > \beta(1 + \mathrm{tol}/10)` (largest first, at most doubling
    the set), until the gap certificate holds with nothing to add.
    """

    def __init__(self, tol: float = DEFAULT_TOL, max_iter: int = 300, ipm_tol: float | None = None,
                 initial_rows: int | None = None, max_add: int = 4, initial_blocks="auto",
                 device=None, num_threads: int | str | None = "auto", memory_limit: int | None = None,
                 time_limit: float = math.inf, projection_steps: int | None = None,
                 screen_tol: float = 1e-3, quick_certificates: bool = False,
                 screen_steps: int = 5, separate_add: int = 2, polish: bool = True,
                 warm_start: bool = True, verbose: bool = False):
        self.polish = polish
        self.warm_start = warm_start
        self.separate_add = separate_add
        self.screen_steps = screen_steps
        self.screen_tol = screen_tol
        self.quick_certificates = quick_certificates
        self.tol = tol
        self.max_iter = max_iter
        self.ipm_tol = ipm_tol
        self.initial_rows = initial_rows
        self.max_add = max_add
        self.initial_blocks = initial_blocks
        self.device = device
        self.num_threads = check_num_threads(num_threads)
        self.memory_limit = memory_limit
        self.time_limit = time_limit
        self.projection_steps = projection_steps
        self.verbose = verbose

    # -- sizes and memory -----------------------------------------------------------------
    @staticmethod
    def iteration_flops(n: int, m: int, dim: int, constant_hessian: bool = False,
                        rows: int = 0) -> float:
        """Flops of one interior-point iteration on m blocks: the cheaper of the n-space
        (:math:`n^2 d'm + n^3/3`) and variable-space (:math:`(d'm)^3/3 + n(d'm)^2`, the
        second term once per working set when the loss Hessian is constant) systems, plus
        the cone rows' block matrices (:math:`4 m r d'^2`)."""
        N = m * dim
        return (min(n * n * N + n ** 3 / 3, N ** 3 / 3 + (0 if constant_hessian else n * N * N))
                + 4 * m * rows * dim * dim)

    def _first_blocks(self, n: int, M: int, dim: int, constant_hessian: bool = False,
                      rows: int = 0) -> int:
        if self.initial_blocks != "auto":
            return max(1, min(M, int(self.initial_blocks)))
        flops = lambda m: self.iteration_flops(n, m, dim, constant_hessian, rows)  # noqa: E731
        if flops(M) <= ALL_BLOCKS_FLOPS and M <= MAX_FIRST_BLOCKS:
            return M
        m = 1
        while m < min(M, MAX_FIRST_BLOCKS) and flops(2 * m) <= ALL_BLOCKS_FLOPS:
            m *= 2
        return max(min(M, m), min(M, 8))

    def _rows0(self, program) -> int:
        """Initial cone rows per block: ``initial_rows``, default 4 d' (8 d' when
        n > 100 d'), capped at :data:`INITIAL_ROWS_CAP` but at least 2 d', and at most n
        (:data:`INITIAL_ROWS`)."""
        if not program.has_cone_rows:
            return 0
        n, dp = program.Xt.shape
        if self.initial_rows is not None:
            return min(n, self.initial_rows)
        factor = INITIAL_ROWS * (2 if n > MANY_ROWS_RATIO * dp else 1)
        return min(n, max(min(factor * dp, INITIAL_ROWS_CAP), 2 * dp))

    def estimate_memory(self, program) -> int:
        """Bytes the solve needs at most: the data and patterns, the row store (O(nP)
        booleans), the block tensors of the working set, the Newton system of its size,
        and the chunked temporaries."""
        n, dp = program.Xt.shape
        P = program.n_patterns
        M = P if not program.has_cone_rows else 2 * P
        m = self._first_blocks(n, M, dp, program.loss.constant_hessian, self._rows0(program))
        m = min(M, 2 * m)  # one doubling round ahead
        rows = self._rows0(program) + 4 * self.max_add
        N = m * dp
        kkt = 8 * min(n * n, N * N) * 3 + (8 * n * N if N < n else 0)
        blocks = 8 * m * (dp * dp * 8 + rows * (dp + 8))
        store = n * M + 8 * M * rows + 8 * M * dp * 4
        data = 8 * n * dp * 2 + n * P
        return int(kkt + blocks + store + data + 4 * CHUNK_ROWS * 8)

    def _check_memory(self, program) -> None:
        need = self.estimate_memory(program)
        limit = self.memory_limit if self.memory_limit is not None else available_memory() // 2
        if need > limit:
            n, P = program.n_samples, program.n_patterns
            raise MemoryBudgetError(
                f"the working-set solver needs about {need / 1024**3:.2f} GiB for n={n} samples "
                f"and P={P} patterns, above its memory limit of {limit / 1024**3:.2f} GiB; use "
                "fewer patterns (or samples), or raise memory_limit")

    def _screen(self, program, universe: BlockSet, k: int, cache: SolveCache):
        """The k blocks with the largest dual norms at the zero network (free terms fitted
        for the squared loss): the first working set when not all blocks fit."""
        torch = _torch()
        y = program.y
        if program.loss.constant_hessian and program.free_basis is not None:  # squared: fit F
            Q = orthonormal_free_basis(program.free_basis)
            yhat = Q @ (Q.T @ y)
        else:
            yhat = np.zeros_like(y)
        lam = dual_point(program, yhat, np.ones_like(y))
        lam_t = torch.as_tensor(lam, dtype=universe.Xt.dtype, device=universe.Xt.device)
        C = universe.adjoint(lam_t)
        score = torch.linalg.norm(C * universe.pen, dim=1)
        cone = torch.nonzero(~universe.linear)[:, 0] if program.has_cone_rows else None
        if cone is not None and cone.numel():
            free = universe.pen[cone[0]] < 0.5
            with scan_threads(cache, universe.n_rows * cone.numel()):
                proj = project_cones(universe.Xt, universe.D, universe.pat[cone], C[cone],
                                     free=free if bool(free.any()) else None,
                                     max_steps=self.screen_steps)  # a ranking only
            score[cone] = support_upper(proj.u, free if bool(free.any()) else None)
            cache.active = torch.full((universe.m, universe.dim), -1, dtype=torch.long,
                                            device=C.device)
            cache.active[cone] = proj.active
        return torch.sort(torch.topk(score, k).indices).values

    def _separator(self, store: RowStore, blocks: BlockSet, ws, M: int):
        """The interior-point method's row oracle: up to ``separate_add`` rows per
        working block that v violates (most violated first), recorded in ``store``, as
        (local block, sample) pairs."""
        torch = _torch()
        loc = torch.full((M,), -1, dtype=torch.long, device=ws.device)
        loc[ws] = torch.arange(ws.numel(), device=ws.device)

        def separate(v):
            found = store.violated(blocks, ws, v, FEAS_RTOL, self.separate_add)
            if found is None:
                return None
            store.add(*found)
            return loc[found[0]], found[1]

        return separate

    def certificate(self, program, universe: BlockSet, ws, blocks: BlockSet, st, sol: ConvexSolution,
                    hinge_lam=None, quick: bool = False, cache: SolveCache | None = None) -> GapCertificate:
        """The duality-gap certificate of ``sol`` over every block of the program
        (:func:`convexnn.solvers.gap_certificate.certify` with this solver's settings)."""
        return certify(program, universe, ws, blocks, st, sol, hinge_lam, quick=quick,
                       projection_steps=self.projection_steps, cache=cache)

    def _grow(self, program, universe: BlockSet, store: RowStore | None, blocks: BlockSet, ws,
              state, cert: GapCertificate, fresh, exploring: bool, tol_now: float, k0: int) -> Growth:
        """The next working set after a round: the rows the working blocks violate join
        the store, the blocks whose dual constraint fails join the set (largest bound
        first, at most doubling it), and idle blocks leave."""
        torch = _torch()
        M, dev = universe.m, ws.device
        # rows the working blocks violate, and blocks whose dual constraint fails
        added_rows = added_blocks = 0
        if store is not None:
            found = store.violated(blocks, ws, state.v, FEAS_RTOL, self.max_add)
            if found is not None:
                added_rows = store.add(*found)
        viol_blocks = torch.nonzero(cert.upper > program.beta * (1 + 0.1 * self.tol))[:, 0]
        in_ws = torch.zeros(M, dtype=torch.bool, device=dev)
        in_ws[ws] = True
        new = viol_blocks[~in_ws[viol_blocks]]
        # blocks that are (nearly) zero with a slack dual constraint leave the set, so
        # that the Newton systems stay the size of the support (a growing set is solved
        # to screen_tol only: "zero" is relative to that); one that is needed after all
        # fails its dual constraint later and comes back
        vn = torch.linalg.norm(state.v, dim=1)
        zero_tol = max(tol_now, 1e-9) * float(vn.max().clamp(min=1e-300))
        idle = (vn <= zero_tol) & (cert.upper[ws] <= program.beta * (1 - IDLE_SLACK)) & ~fresh[ws]
        shrink = False
        if exploring and not new.numel() and not added_rows and int(idle.sum()) > ws.numel() // 4:
            # the set stopped growing with many idle blocks: the final, accurate solve
            # is cheaper on the support alone (a cold restart, as for a new set)
            shrink = True
            ws = ws[~idle]
            fresh = torch.zeros(M, dtype=torch.bool, device=dev)
        if new.numel():
            order = torch.argsort(cert.upper[new], descending=True)
            new = new[order[:max(ws.numel(), 8)]]
            added_blocks = int(new.numel())
            if store is not None:
                store.add(*nearest_rows(program, universe, new, k0))
                if cert.active is not None:
                    act = cert.active[new]
                    ok = act >= 0
                    store.add(new[:, None].expand_as(act)[ok], act[ok])
            fresh = torch.zeros(M, dtype=torch.bool, device=dev)
            fresh[new] = True
            ws = torch.sort(torch.cat([ws[~idle], new])).values
        dropped = int(idle.sum()) if shrink or new.numel() else 0
        return Growth(ws, fresh, added_rows, added_blocks, dropped, shrink)

    # -- the solve ------------------------------------------------------------------------
    def solve(self, program) -> ConvexSolution:
        """Solve ``program`` (a :class:`~convexnn.core.protocol.BlockProgram`, e.g. a
        :class:`~convexnn.two_layer.program.TwoLayerProgram`)."""
        torch = _torch()
        self._check_memory(program)
        # per-solve state lives here, not on the solver (which can be reused); the
        # certificate's large scans use every thread the caller had
        cache = SolveCache(outer_threads=torch.get_num_threads())
        # BLAS pools too, below SMALL_SAMPLES (convexnn.core.threads: spinning under load)
        threads = solve_threads(self.num_threads)
        with limit_torch(threads), limit_blas(threads, n_samples=program.n_samples), \
                allow_wide_products(self.num_threads == "auto"):
            return self._solve(program, cache)

    def _solve(self, program, cache: SolveCache) -> ConvexSolution:
        """Rounds until the working set's solution is certified over every block, a budget
        ends, or the method reaches its roundoff floor (:mod:`convexnn.solvers.rounds`)."""
        run = start_run(self, program, cache)
        status = None
        while status is None:
            status = run_round(self, run, cache)
        return finish_run(run, status)


def solve_working_set(program, *, verbose: bool = False, tol: float | None = None,
                      **options) -> ConvexSolution:
    """``SOLVERS["working_set"]``: :class:`WorkingSetSolver` with ``options`` as its
    hyper-parameters (``tol`` is the certified relative gap, default 1e-6)."""
    solver = WorkingSetSolver(tol=DEFAULT_TOL if tol is None else tol, verbose=verbose, **options)
    return solver.solve(program)
