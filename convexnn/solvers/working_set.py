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

Certificate (THEORY A.7 over *all* the program's blocks; stopping rule): with
:math:`\lambda = -\nabla\ell(\hat y)` (hinge: the method's own multipliers) projected onto
:math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}`, every block gets an upper bound

.. math::
    s_b = \max_{u\in K_b,\ \|u_\pi\|\le 1} \sigma_b\lambda^\top D_b\tilde X u
        = \min_{\gamma\ge0} \|(c_b + A_b^\top\gamma)_\pi\|
        \le \|(c_b + A_b^\top\gamma_b)_\pi\|,\qquad c_b = \sigma_b\tilde X^\top D_b\lambda,

from any :math:`\gamma_b \ge 0` (a free coordinate's equality
:math:`(c_b + A_b^\top\gamma_b)_{\bar\pi} = 0` made exact first): the free bound
:math:`\|c_b\|` (:math:`\gamma = 0`) where it suffices, else a batched projection onto
:math:`K_b` over all n rows (:mod:`convexnn.solvers.cone_projection`), warm-started from
the rows the interior-point solution is tight on.  With :math:`s = \max_b s_b`,
:math:`\lambda_s = \lambda\min(1, \beta/s)` is dual feasible,
:math:`\mathrm{LB} = -\ell^*(-\lambda_s)` is a lower bound on the optimum, and the
solver stops when the primal point is feasible for *every* row and
:math:`P - \mathrm{LB} \le \mathrm{tol}\cdot\max(1, |P|)`.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .._blas import matmul
from .._threads import limit_blas
from ..dual_points import project_dual
from ..exceptions import PatternBudgetError
from ..solution import FAILED, INACCURATE, ITERATION_LIMIT, OPTIMAL, ConvexSolution
from .blocks import BlockSet, append_rows, orthonormal_free_basis
from .cone_projection import project_cones, support_upper
from .ipm import InteriorPoint, IPMState, Subproblem, complementarity

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
INITIAL_ROWS = 4
MANY_ROWS_RATIO = 100
#: Interior-point tolerance relative to the certified gap ``tol``, without polish: the
#: certificate's gap tracks the method's complementarity gap closely (diabetes: 4.3e-6 /
#: 1.5e-7 against 4.3e-6 / 1.5e-7), and a point that does not certify is refined further.
IPM_TOL_RATIO = 0.25
#: The same with ``polish`` (the default): a point a hundred times more accurate than the
#: certified gap, so that zero blocks are zero to working precision and the recovered
#: network's objective equals the convex one to ~1e-8.
POLISH_TOL_RATIO = 0.01
#: Centring of a warm start, relative to sqrt(mu) of the previous iterate (:func:`warm_state`).
WARM_BUMP = 3.0
#: A zero working block whose dual constraint is slack by this fraction is idle (it
#: leaves the working set before the final solve).
IDLE_SLACK = 1e-2
#: Row scans of the certificate over at least this many (row, block) pairs use every
#: torch thread (synthetic benchmark: 5 projection steps over 2000 blocks x 10^4 rows take
#: 1.1 s on one thread, 0.8 s on two).
SCAN_THREADS_SIZE = 4_000_000
#: Floats of the (n, blocks) temporaries of one chunked scan.
CHUNK_ROWS = 8 * 1024**2


class MemoryBudgetError(PatternBudgetError, MemoryError):
    """The working-set solver's estimated memory exceeds its budget (raised before
    allocating)."""


def _torch():
    import torch

    return torch


def _device(device):
    torch = _torch()
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def available_memory() -> int:
    """Bytes of physical memory (a generous default budget is a fraction of it)."""
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 1024**3


# ---- rows --------------------------------------------------------------------------------
class RowStore:
    r"""The working cone rows of every block of the program (padded), with membership.

    A row j of block b is *violated* at :math:`v_b` when its normalized value
    :math:`\zeta_{jb} = (2D_{jb}-1)\tilde x_j^\top v_b / (\|\tilde x_j\|\|v_b\|)` is below
    ``-tol``.  The store holds O(nP) booleans plus the rows' indices, never their values.
    """

    def __init__(self, universe: BlockSet):
        torch = _torch()
        self.universe = universe
        dev = universe.Xt.device
        self.rows = torch.zeros(universe.m, 0, dtype=torch.long, device=dev)
        self.rmask = torch.zeros(universe.m, 0, dtype=torch.bool, device=dev)
        self.inset = torch.zeros(universe.m, universe.n, dtype=torch.bool, device=dev)  # a row per block
        self.row_norms = torch.linalg.norm(universe.Xt, dim=1).clamp(min=1e-300)
        self.XnT = (universe.Xt / self.row_norms[:, None]).T.contiguous()

    @property
    def total(self) -> int:
        return int(self.rmask.sum())

    def add(self, b_idx, j_idx) -> int:
        """Add rows (block index into the program's blocks, sample index); returns the
        number that were new."""
        torch = _torch()
        if b_idx.numel() == 0:
            return 0
        u = self.universe
        key = torch.unique(b_idx * u.n + j_idx)
        b_idx, j_idx = key // u.n, key % u.n
        keep = ~self.inset[b_idx, j_idx] & ~u.linear[b_idx]
        b_idx, j_idx = b_idx[keep], j_idx[keep]
        if b_idx.numel() == 0:
            return 0
        self.rows, self.rmask, b_idx, j_idx, _ = append_rows(self.rows, self.rmask, b_idx, j_idx)
        self.inset[b_idx, j_idx] = True
        return int(b_idx.numel())

    def view(self, ws):
        """(rows, rmask) of the blocks ``ws``, trimmed to their widest row count."""
        rm = self.rmask[ws]
        width = int(rm.sum(1).max()) if rm.numel() else 0
        return self.rows[ws][:, :width].contiguous(), rm[:, :width].contiguous()

    def violated(self, blocks: BlockSet, ws, V, tol: float, max_add: int):
        """(program block, sample) pairs of violated rows of the working blocks at V."""
        torch = _torch()
        vn = torch.linalg.norm(V, dim=1)
        live = (vn > 0) & ~blocks.linear
        U = V / vn.clamp(min=1e-300)[:, None]
        full = ws.numel() == self.universe.m  # ws sorted and unique: the identity
        out_b, out_j = [], []
        for sl in blocks._chunks():
            # a row per block: normalized row values (m, n), rows in the set excluded
            zeta = _rows_times(self.XnT, U[sl]).mul_(blocks.signs_t(sl))
            cand = (zeta < -tol) & ~(self.inset[sl] if full else self.inset[ws[sl]])
            rows = torch.nonzero(cand.any(1) & live[sl])[:, 0]  # usually few blocks
            if not rows.numel():
                continue
            z = torch.where(cand[rows], zeta[rows], math.inf)
            k = min(max_add, z.shape[1])
            vals, idx = torch.topk(z, k, dim=1, largest=False)
            ok = torch.isfinite(vals)
            bb = ws[sl][rows][:, None].expand(-1, k)
            out_b.append(bb[ok])
            out_j.append(idx[ok])
        if not out_b:
            return None
        return torch.cat(out_b), torch.cat(out_j)


def _rows_times(XT, U):
    r""":math:`U X^\top` for U (m, d), X^T (d, n): shape (m, n), C-contiguous (on the CPU by
    scipy's BLAS, several times faster than torch's matmul for these shapes)."""
    torch = _torch()
    if U.device.type != "cpu":
        return U @ XT
    # X U^T as a Fortran-ordered (n, m) array from Fortran views of both factors (no
    # copies); its transpose is the C-contiguous (m, n) result
    return torch.from_numpy(matmul(XT.numpy().T, U.contiguous().numpy().T).T)


def nearest_rows(program, universe: BlockSet, idx, k: int):
    r"""(block, sample) pairs: for each block of ``idx``, the k rows whose hyperplanes are
    nearest in angle to a point of its cone -- the pattern's gate when known, else
    :math:`\tilde X^\top(2D_i - 1)` (a ranking only).  At an optimum a block lies on a
    face of its cone, and these rows hold its facets with high probability; the rest are
    checked afterwards."""
    torch = _torch()
    Xt = universe.Xt
    idx = idx[~universe.linear[idx]]
    k = min(k, universe.n)
    if idx.numel() == 0 or k == 0:
        empty = torch.zeros(0, dtype=torch.long, device=Xt.device)
        return empty, empty
    G = program.patterns.gates
    rn = torch.linalg.norm(Xt, dim=1).clamp(min=1e-300)
    out_b, out_j = [], []
    step = max(1, CHUNK_ROWS // max(universe.n, 1))
    for lo in range(0, idx.numel(), step):
        b = idx[lo:lo + step]
        S = 2.0 * universe.D[:, universe.pat[b]].to(Xt.dtype) - 1.0
        if G is not None and G.shape == (program.n_patterns, Xt.shape[1]):
            U = torch.as_tensor(G, dtype=Xt.dtype, device=Xt.device)[universe.pat[b]]
        else:
            U = (S.T @ Xt) / universe.n
        zeta = (Xt @ U.T) * S / rn[:, None]
        _, j = torch.topk(zeta, k, dim=0, largest=False)  # (k, |b|)
        out_b.append(b[None, :].expand(k, -1).reshape(-1))
        out_j.append(j.reshape(-1))
    return torch.cat(out_b), torch.cat(out_j)


def warm_state(prob: Subproblem, ws, state: IPMState, ws_old, blocks_old: BlockSet,
               bump: float = WARM_BUMP) -> IPMState:
    r"""An interior starting point for the working set ``ws`` (subproblem ``prob``) from the
    iterate ``state`` of the previous set ``ws_old``.

    Blocks of both sets keep their iterate, and their rows keep their slots (the row store
    only appends), so they keep their slacks and multipliers; a new block starts at
    :math:`v = 0,\ t = \mathrm{median}(t)` with :math:`z = (\beta, 0)`, and a new row at
    :math:`s = \max(a^\top v, \sqrt\mu)`, :math:`z = \mu/s` (its primal residual is
    reduced like any other).  Finally every pair moves towards the centre,
    :math:`s_0 \mathrel{+}= \delta` (cones), :math:`s, z \mathrel{+}= \delta` (rows) with
    :math:`\delta = \mathrm{bump}\sqrt\mu`: a point close to the old, now too small
    boundary would allow only short steps (on the synthetic benchmark the grown sets then
    take 10-14 iterations instead of 25-28)."""
    torch = _torch()
    blocks = prob.blocks
    m, d = blocks.m, blocks.dim
    dt_, dev = blocks.Xt.dtype, blocks.Xt.device
    pos = torch.full((int(max(int(ws.max()), int(ws_old.max())) + 1),), -1, dtype=torch.long,
                     device=dev)
    pos[ws_old] = torch.arange(ws_old.numel(), device=dev)
    old_of_new = pos[ws]
    kn = torch.nonzero(old_of_new >= 0)[:, 0]
    ko = old_of_new[kn]
    rm_old = blocks_old.rmask
    tot, nu = complementarity(state, rm_old, prob.hinge)
    mu = tot / nu
    t0 = float(state.t.median()) if state.t.numel() else 1.0
    t = torch.full((m,), t0, dtype=dt_, device=dev)
    v = torch.zeros(m, d, dtype=dt_, device=dev)
    t[kn], v[kn] = state.t[ko], state.v[ko]
    s_soc = torch.zeros(m, d + 1, dtype=dt_, device=dev)
    z_soc = torch.zeros(m, d + 1, dtype=dt_, device=dev)
    s_soc[:, 0], z_soc[:, 0] = t0, prob.beta
    s_soc[kn], z_soc[kn] = state.s_soc[ko], state.z_soc[ko]
    rm = blocks.rmask
    r = rm.shape[1]
    if r:
        A = blocks.row_matrix()
        s_lin = torch.clamp((A @ v[:, :, None])[:, :, 0], min=math.sqrt(mu))
        z_lin = mu / s_lin
        w = min(r, rm_old.shape[1])
        keep = rm_old[ko, :w]
        s_lin[kn, :w] = torch.where(keep, state.s_lin[ko, :w], s_lin[kn, :w])
        z_lin[kn, :w] = torch.where(keep, state.z_lin[ko, :w], z_lin[kn, :w])
    else:
        s_lin = torch.ones(m, 0, dtype=dt_, device=dev)
        z_lin = torch.ones(m, 0, dtype=dt_, device=dev)
    delta = bump * math.sqrt(max(mu, 0.0))
    s_soc[:, 0] += delta
    s_lin = torch.where(rm, s_lin + delta, torch.ones_like(s_lin))
    z_lin = torch.where(rm, z_lin + delta, torch.ones_like(z_lin))
    s_h, z_h = state.s_h, state.z_h
    if prob.hinge:
        s_h, z_h = s_h + delta, z_h + delta
    return IPMState(t=t, v=v, a=state.a.clone(), xi=None if state.xi is None else state.xi.clone(),
                    s_soc=s_soc, z_soc=z_soc, s_lin=s_lin, z_lin=z_lin, s_h=s_h, z_h=z_h)


# ---- the solver ----------------------------------------------------------------------------
@dataclass
class Certificate:
    """Duality-gap certificate of a primal point (see the module docstring): primal value,
    lower bound, gap, the dual norm s over every block, the primal's cone violation, and
    per block the bound (``upper``) and projection rows (``active``, -1 padded)."""

    primal: float
    lower: float
    gap: float
    s: float
    violation: float
    upper: object = None
    active: object = None


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
        Rows per block to start with (default ``min(n, 4 d')``, ``8 d'`` when n > 100 d').
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
    num_threads : int or None, default=1
        torch intra-op threads during the solve (restored afterwards).  One thread keeps
        the many small batched operations from contending for cores on a shared machine;
        the large products run through BLAS.
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
                 device=None, num_threads: int | None = 1, memory_limit: int | None = None,
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
        self.num_threads = num_threads
        self.memory_limit = memory_limit
        self.time_limit = time_limit
        self.projection_steps = projection_steps
        self.verbose = verbose
        self._store = None
        self._active_cache = None

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
        """Initial cone rows per block: ``initial_rows``, default min(n, 4 d'), 8 d' when
        n > 100 d' (:data:`INITIAL_ROWS`)."""
        if program.model == "gated":
            return 0
        n, dp = program.Xt.shape
        if self.initial_rows is not None:
            return min(n, self.initial_rows)
        factor = INITIAL_ROWS * (2 if n > MANY_ROWS_RATIO * dp else 1)
        return min(n, factor * dp)

    def estimate_memory(self, program) -> int:
        """Bytes the solve needs at most: the data and patterns, the row store (O(nP)
        booleans), the block tensors of the working set, the Newton system of its size,
        and the chunked temporaries."""
        n, dp = program.Xt.shape
        P = program.n_patterns
        M = P if program.model == "gated" else 2 * P
        m = self._first_blocks(n, M, dp, program.loss.name == "squared", self._rows0(program))
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

    # -- set-up ---------------------------------------------------------------------------
    def _universe(self, program, dev) -> BlockSet:
        """Every block of the program: (pattern, sign) for C-ReLU -- the all-on pair as one
        linear block under a free bias -- and one per pattern for C-GReLU."""
        torch = _torch()
        n, dp = program.Xt.shape
        P = program.n_patterns
        D = program.D
        pen = np.zeros(dp)
        pen[program.penalized] = 1.0
        gated = program.model == "gated"
        allon = set(np.flatnonzero(D.all(axis=0)).tolist()) if program.bias == "free" else set()
        pats, signs, pens, linear = [], [], [], []
        for sign in ((1.0,) if gated else (1.0, -1.0)):
            for i in range(P):
                if i in allon:
                    if sign < 0:
                        continue  # the all-on pair is one linear block (module docstring)
                    pats.append(i), signs.append(1.0), pens.append(np.ones(dp)), linear.append(True)
                    continue
                pats.append(i), signs.append(sign), pens.append(pen if not gated else np.ones(dp))
                linear.append(False)
        m = len(pats)
        return BlockSet(
            Xt=torch.as_tensor(program.Xt, dtype=torch.float64, device=dev),
            D=torch.as_tensor(D, device=dev),
            pat=torch.as_tensor(np.array(pats, dtype=np.int64), device=dev),
            sign=torch.as_tensor(np.array(signs), dtype=torch.float64, device=dev),
            pen=torch.as_tensor(np.array(pens).reshape(m, dp), dtype=torch.float64, device=dev),
            rows=torch.zeros(m, 0, dtype=torch.long, device=dev),
            rmask=torch.zeros(m, 0, dtype=torch.bool, device=dev),
            linear=torch.as_tensor(np.array(linear, dtype=bool), device=dev))

    def _dual_point(self, program, yhat, hinge_lam=None):
        r""":math:`\lambda = -\nabla\ell(\hat y)` (hinge: ``hinge_lam`` y), projected onto
        :math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}\,\ell^*(-\cdot)`."""
        loss, y = program.loss, program.y
        if loss.name == "hinge":
            lam = np.clip(hinge_lam, 0.0, 1.0) * y
        else:
            lam = -loss.gradient(yhat, y)
        if loss.name in ("logistic", "hinge"):
            lo, hi = np.minimum(0.0, y), np.maximum(0.0, y)
        else:
            lo, hi = np.full(y.shape, -np.inf), np.full(y.shape, np.inf)
        return project_dual(lam, program.free_basis, lo, hi)

    def _screen(self, program, universe: BlockSet, k: int):
        """The k blocks with the largest dual norms at the zero network (free terms fitted
        for the squared loss): the first working set when not all blocks fit."""
        torch = _torch()
        y = program.y
        if program.loss.name == "squared" and program.free_basis is not None:
            Q = orthonormal_free_basis(program.free_basis)
            yhat = Q @ (Q.T @ y)
        else:
            yhat = np.zeros_like(y)
        lam = self._dual_point(program, yhat, np.ones_like(y))
        lam_t = torch.as_tensor(lam, dtype=universe.Xt.dtype, device=universe.Xt.device)
        C = universe.adjoint(lam_t)
        score = torch.linalg.norm(C * universe.pen, dim=1)
        cone = torch.nonzero(~universe.linear)[:, 0] if program.model == "relu" else None
        if cone is not None and cone.numel():
            free = universe.pen[cone[0]] < 0.5
            with self._scan_threads(universe.n * cone.numel()):
                proj = project_cones(universe.Xt, universe.D, universe.pat[cone], C[cone],
                                     free=free if bool(free.any()) else None,
                                     max_steps=self.screen_steps)  # a ranking only
            score[cone] = support_upper(proj.u, free if bool(free.any()) else None)
            self._active_cache = torch.full((universe.m, universe.dim), -1, dtype=torch.long,
                                            device=C.device)
            self._active_cache[cone] = proj.active
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

    @contextmanager
    def _scan_threads(self, size: int):
        """Every torch thread the caller had for a row scan over ``size`` (row, block)
        pairs of at least :data:`SCAN_THREADS_SIZE` (large products, unlike the
        interior-point method's many small ones); the solve's setting otherwise."""
        torch = _torch()
        inner = torch.get_num_threads()
        outer = getattr(self, "_outer_threads", inner)
        if size >= SCAN_THREADS_SIZE and outer > inner:
            torch.set_num_threads(outer)
        try:
            yield
        finally:
            torch.set_num_threads(inner)

    # -- certificate ----------------------------------------------------------------------
    def certificate(self, program, universe: BlockSet, ws, blocks: BlockSet, st: IPMState | None,
                    sol: ConvexSolution, hinge_lam=None, quick: bool = False) -> Certificate:
        r"""The duality-gap certificate of ``sol`` over every block of the program.

        Working blocks are projected warm-started from the rows the interior-point
        solution is tight on, stopping once the bound is below :math:`\beta(1 -`
        :data:`IDLE_SLACK`:math:`)` (only the support, :math:`s_b = \beta`, needs the
        exact value); the others first get the free bound :math:`\|c_b\|`
        (:math:`\gamma = 0`, no free coordinate) and are projected only where it exceeds
        :math:`\beta`, stopping as soon as the bound drops below it (after 2d' steps
        with ``quick``: valid but looser bounds, enough to pick the next blocks; used in
        the first round, whose projections start cold)."""
        torch = _torch()
        loss, y, beta = program.loss, program.y, program.beta
        lam = self._dual_point(program, program.predict(sol), hinge_lam)
        lam_t = torch.as_tensor(lam, dtype=universe.Xt.dtype, device=universe.Xt.device)
        C = universe.adjoint(lam_t)  # c_b = sigma_b Xt^T D_b lam, every block
        upper = torch.linalg.norm(C * universe.pen, dim=1)
        active = None
        if program.model == "relu":
            free = universe.pen[~universe.linear][:1] < 0.5
            free = free[0] if free.numel() else torch.zeros(universe.dim, dtype=torch.bool)
            has_free = bool(free.any())
            in_ws = torch.zeros(universe.m, dtype=torch.bool, device=C.device)
            in_ws[ws] = True
            need = ~universe.linear & (in_ws | has_free | (upper > beta))
            idx = torch.nonzero(need)[:, 0]
            if idx.numel():
                # warm starts: the rows the interior-point solution is tight on (working
                # blocks), the previous projection's active rows (the others)
                warm = None
                if self._active_cache is not None:
                    warm = self._active_cache[idx].clone()
                if st is not None and blocks.rows.shape[1]:
                    loc = torch.full((universe.m,), -1, dtype=torch.long, device=C.device)
                    loc[ws] = torch.arange(ws.numel(), device=C.device)
                    tight = _tight_rows(blocks, st)
                    if warm is None:
                        warm = torch.full((idx.numel(), universe.dim), -1, dtype=torch.long, device=C.device)
                    li = loc[idx]
                    warm[li >= 0] = -1
                    warm[li >= 0, :tight.shape[1]] = tight[li[li >= 0]]
                # any bound below beta certifies a block: only the support (s_b = beta)
                # needs the exact projection; working blocks stop a little lower so that
                # their bounds also tell idle blocks (s_b < beta (1 - IDLE_SLACK)) apart
                stop = None if has_free else torch.where(
                    in_ws[idx], torch.full_like(upper[idx], beta * (1 - IDLE_SLACK)),
                    torch.full_like(upper[idx], beta))
                steps = 2 * universe.dim if quick else self.projection_steps
                with self._scan_threads(universe.n * idx.numel()):
                    proj = project_cones(universe.Xt, universe.D, universe.pat[idx], C[idx],
                                         free=free if has_free else None, active0=warm,
                                         stop_below=stop, max_steps=steps)
                R = proj.u
                if has_free:
                    R = _polish_free(R, C[idx], universe, idx, free, proj.active)
                    R = _repair_free(R, universe, idx, free)
                upper[idx] = torch.linalg.norm(R * universe.pen[idx], dim=1)
                if has_free and not quick:
                    # the weighted projection's bound can be loose under a free coordinate
                    # (an ill-conditioned metric): blocks it leaves above beta get the exact
                    # equality-constrained NNLS bound of convexnn.cones
                    loose = idx[upper[idx] > beta]
                    if loose.numel():
                        upper[loose] = torch.minimum(
                            upper[loose], _exact_free_bounds(universe, loose, C[loose], free))
                active = torch.full((universe.m, universe.dim), -1, dtype=torch.long, device=C.device)
                active[idx] = proj.active
                if self._active_cache is None:
                    self._active_cache = active.clone()
                else:
                    self._active_cache[idx] = proj.active
        s = float(upper.max()) if upper.numel() else 0.0
        scale = min(1.0, beta / s) if s > 0 else 1.0
        lower = -loss.conjugate(-lam * scale, y)
        primal = program.objective(sol)
        viol = program.constraint_violation(sol)
        return Certificate(primal=primal, lower=lower, gap=primal - lower, s=s, violation=viol,
                           upper=upper, active=active)

    # -- the solve ------------------------------------------------------------------------
    def solve(self, program) -> ConvexSolution:
        """Solve ``program`` (a :class:`~convexnn.programs.two_layer.TwoLayerProgram`)."""
        torch = _torch()
        self._check_memory(program)
        threads = torch.get_num_threads()
        self._outer_threads = threads  # the certificate's large row scans use them all
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:  # BLAS pools too, below SMALL_SAMPLES (convexnn._threads: spinning under load)
            with limit_blas(self.num_threads, n_samples=program.n_samples):
                return self._solve(program)
        finally:
            torch.set_num_threads(threads)

    def _solve(self, program) -> ConvexSolution:
        torch = _torch()
        t0 = time.perf_counter()
        self._active_cache = None
        dev = _device(self.device)
        universe = self._universe(program, dev)
        n, dp, M = universe.n, universe.dim, universe.m
        k0 = self._rows0(program)
        m0 = self._first_blocks(n, M, dp, program.loss.name == "squared", k0)
        ws = torch.arange(M, device=dev) if m0 >= M else self._screen(program, universe, m0)
        store = RowStore(universe) if program.model == "relu" else None
        self._store = store
        if store is not None:
            store.add(*nearest_rows(program, universe, ws, k0))
        Q = orthonormal_free_basis(program.free_basis)
        F_t = None if Q is None else torch.as_tensor(Q, dtype=torch.float64, device=dev)
        y_t = torch.as_tensor(program.y, dtype=torch.float64, device=dev)
        ratio = POLISH_TOL_RATIO if self.polish else IPM_TOL_RATIO
        ipm_tol = self.ipm_tol if self.ipm_tol is not None else self.tol * ratio
        setup = time.perf_counter() - t0
        if self.verbose:
            print(f"set-up {setup:.2f} s: {int(ws.numel())} of {M} blocks, {k0} rows per block")
        state, iters, rounds = None, 0, 0
        previous = None  # (state, ws, blocks) of the last working set, for the warm start
        status, cert, sol, best = ITERATION_LIMIT, None, None, None
        history = []
        blocks = prob = None
        exploring = bool(ws.numel() < M)
        fresh = torch.zeros(M, dtype=torch.bool, device=dev)  # blocks added last round
        while True:
            rounds += 1
            if state is None:  # a new working set, warm-started from the last one's iterate
                blocks = universe.subset(ws)
                if store is not None:
                    blocks.rows, blocks.rmask = store.view(ws)
                prob = Subproblem(blocks, y_t, program.loss.name, program.beta, F_t)
                if previous is not None and self.warm_start:
                    state = warm_state(prob, ws, *previous)
                previous = None
            # a working set that is still growing is solved loosely: its dual point only has
            # to find the next blocks; the final set continues from there (same problem)
            tol_now = max(ipm_tol, self.screen_tol) if exploring else ipm_tol
            ipm = InteriorPoint(tol=tol_now, max_iter=max(0, self.max_iter - iters), verbose=self.verbose)
            separate = None
            if store is not None and self.separate_add > 0:
                separate = self._separator(store, blocks, ws, M)
            res = ipm.solve(prob, state, time_limit=self.time_limit - (time.perf_counter() - t0),
                            separate=separate)
            iters += res.iterations
            state = res.state
            sol = self._solution(program, blocks, state, Q)
            t_cert = time.perf_counter()
            cert = self.certificate(program, universe, ws, blocks, state, sol,
                                    state.z_h[1].cpu().numpy() if prob.hinge else None,
                                    quick=exploring and (self.quick_certificates or rounds == 1))
            t_cert = time.perf_counter() - t_cert
            rel = cert.gap / max(1.0, abs(cert.primal))
            if best is None or (cert.violation <= 1e-9 and rel < best[1]):
                best = (sol, rel, cert)
            # rows the working blocks violate, and blocks whose dual constraint fails
            added_rows = added_blocks = 0
            if store is not None:
                found = store.violated(blocks, ws, state.v, FEAS_RTOL, self.max_add)
                if found is not None:
                    added_rows = store.add(*found)
            viol_blocks = torch.nonzero(cert.upper > program.beta * (1 + 0.1 * self.tol))[:, 0]
            in_ws = torch.zeros(M, dtype=torch.bool, device=dev)
            in_ws[ws] = True
            ws_before = ws
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
            history.append(dict(round=rounds, ipm=res.status, iterations=res.iterations, blocks=int(blocks.m),
                                ipm_time=res.time, certificate_time=t_cert,
                                primal=cert.primal, lower=cert.lower, rel_gap=rel,
                                added_rows=added_rows, added_blocks=added_blocks,
                                ipm_added_rows=ipm.rows_added, dropped_blocks=int(idle.sum()) if shrink or new.numel() else 0,
                                time=time.perf_counter() - t0))
            if self.verbose:
                print(f"round {rounds}: ipm {res.status} ({res.iterations} it, {blocks.m} blocks), "
                      f"P={cert.primal:.10g} LB={cert.lower:.10g} rel.gap={rel:.2e} "
                      f"s/beta-1={cert.s / program.beta - 1:.2e} +rows={added_rows} +blocks={added_blocks}")
            if added_rows == 0 and added_blocks == 0 and rel <= self.tol:
                status = OPTIMAL
                break
            if iters >= self.max_iter or time.perf_counter() - t0 > self.time_limit:
                status = ITERATION_LIMIT
                break
            if added_rows or added_blocks:
                previous = (state, ws_before, blocks)
                state = None  # a new working set
                exploring = bool(added_blocks) and bool(ws.numel() < M)
                continue
            if exploring:
                exploring = False  # nothing to add: continue the same problem to ipm_tol
                if shrink:
                    previous = (state, ws_before, blocks)
                    state = None
                continue
            if res.status in ("failed", "stalled"):
                # at the roundoff floor of the method: a feasible point with a certified
                # but larger gap is "inaccurate"; no finite certificate is a failure
                status = INACCURATE if math.isfinite(cert.gap) and cert.violation <= 1e-6 else FAILED
                break
            ipm_tol = ipm_tol * 0.1  # same set: continue to a more accurate point
            if ipm_tol < 1e-15:
                status = INACCURATE if math.isfinite(cert.gap) else FAILED
                break
        if status != OPTIMAL and best is not None and best[1] < rel:
            sol, rel, cert = best
        sol.status = status
        sol.solver = "working_set"
        sol.solver_status = f"{status} ({rounds} rounds, {int(ws.numel())} of {M} blocks, " \
                            f"{store.total if store is not None else 0} cone rows)"
        sol.objective_reported = cert.primal
        sol.dual_bound = cert.lower
        sol.iterations = iters
        sol.setup_time = setup
        sol.solve_time = time.perf_counter() - t0 - setup
        sol.info.update(gap=cert.gap, rel_gap=rel, s_over_beta=cert.s / program.beta,
                        rows=store.total if store is not None else 0, blocks=int(ws.numel()),
                        all_blocks=M, rounds=rounds, history=history, device=str(dev),
                        constraint_violation=cert.violation)
        return sol

    def _solution(self, program, blocks: BlockSet, st: IPMState, Q) -> ConvexSolution:
        """Map the working-set iterate to the program's (V, W, skip, c)."""
        P, dp = program.n_patterns, blocks.dim
        d = program.X.shape[1]
        v = st.v.cpu().numpy()
        pat = blocks.pat.cpu().numpy()
        sign = blocks.sign.cpu().numpy()
        linear = blocks.linear.cpu().numpy()
        V = np.zeros((P, dp))
        W = None if program.model == "gated" else np.zeros((P, dp))
        skip, c = np.zeros(d), 0.0
        if Q is not None:
            # free terms: F coef = Q a  (F = [X if skip, 1 if constant])
            coef = np.linalg.lstsq(program.free_basis, Q @ st.a.cpu().numpy(), rcond=None)[0]
            k = 0
            if program.skip:
                skip, k = coef[:d].copy(), d
            if program.has_free_constant:
                c = float(coef[k])
        for b in range(blocks.m):
            vb = v[b]
            if linear[b]:
                # linear unit Xu + b0 (penalty ||(u, b0)||, b0 = 0 at an optimum): the
                # all-on ReLU block (u, b') with b' = -min(Xu) >= its feasibility bound,
                # and the constant b0 - b' moved into c
                u = vb[:d]
                shift = -float(np.min(program.X @ u)) if np.any(u) else 0.0
                V[pat[b], :d] = u
                V[pat[b], d] = shift
                c += vb[d] - shift
            elif sign[b] > 0:
                V[pat[b]] = vb
            else:
                W[pat[b]] = vb
        return ConvexSolution(V, W, skip, c)


def _tight_rows(blocks: BlockSet, st: IPMState):
    """Per working block, the rows an interior-point solution is tight on (z > s, sorted
    by z/s), padded with -1: the warm start of the projections."""
    torch = _torch()
    rm = blocks.rmask
    ratio = torch.where(rm, st.z_lin / st.s_lin.clamp(min=1e-300), torch.zeros_like(st.s_lin))
    k = min(blocks.dim - 1, ratio.shape[1])
    vals, order = torch.topk(ratio, k, dim=1)
    rows = blocks.rows.gather(1, order)
    return torch.where(vals > 1.0, rows, torch.full_like(rows, -1))


def _exact_free_bounds(blocks: BlockSet, idx, C, free):
    r"""Upper bounds :math:`\min_{\gamma\ge0}\|(c_b + A_b^\top\gamma)_\pi\|` s.t. the free
    equality, block by block with :func:`convexnn.cones.cone_support` (NNLS in numpy, an
    exact equality-constrained polish on its active set, a bounded-least-squares repair
    otherwise); any gamma it returns meets the equality, so the bound is valid."""
    torch = _torch()
    from ..cones import cone_support

    Xt = blocks.Xt.cpu().numpy()
    D = blocks.D.cpu().numpy()
    pats = blocks.pat[idx].cpu().numpy()
    Cn = C.cpu().numpy()
    mask = free.cpu().numpy()
    out = np.empty(len(pats))
    for k, (i, c) in enumerate(zip(pats, Cn)):
        A = np.where(D[:, i], 1.0, -1.0)[:, None] * Xt
        out[k] = cone_support(A, c, free=mask)[0]
    return torch.as_tensor(out, dtype=C.dtype, device=C.device)


def _polish_free(R, C, blocks: BlockSet, idx, free, active):
    r"""Re-solve each projection on its active rows W with the free equality exact:

    .. math::
        \min_{\gamma_W} \|(c + A_W^\top\gamma_W)_\pi\|^2 \ \text{ s.t. }\
        (c + A_W^\top\gamma_W)_{\bar\pi} = 0

    (KKT: :math:`A_{W\pi}A_{W\pi}^\top\gamma + a_{W\bar\pi}\nu = -A_{W\pi}c_\pi`,
    :math:`a_{W\bar\pi}^\top\gamma = -c_{\bar\pi}`).  Where the solution has
    :math:`\gamma \ge 0` it replaces the weighted projection's point (whose free residual is
    only :math:`O(\rho)`); elsewhere the point is kept."""
    torch = _torch()
    Xt = blocks.Xt
    k, d = active.shape
    valid = active >= 0
    rows = active.clamp(min=0)
    sg = 2.0 * blocks.D[rows, blocks.pat[idx][:, None].expand_as(rows)].to(Xt.dtype) - 1.0
    A = sg[:, :, None] * Xt[rows] * valid[:, :, None]  # (k, d, dim)
    pen = (~free).to(Xt.dtype)
    Ap = A * pen
    af = (A * free.to(Xt.dtype)).sum(2)  # (k, d): the rows' free entries
    cf = (C * free.to(Xt.dtype)).sum(1)
    K = torch.zeros(k, d + 1, d + 1, dtype=Xt.dtype, device=Xt.device)
    K[:, :d, :d] = Ap @ Ap.transpose(1, 2) + torch.diag_embed((~valid).to(Xt.dtype))
    K[:, :d, d] = af
    K[:, d, :d] = af
    rhs = torch.cat([-(Ap @ (C * pen)[:, :, None])[:, :, 0], -cf[:, None]], 1)
    sol = torch.linalg.lstsq(K, rhs[:, :, None]).solution[:, :, 0]
    gam = sol[:, :d] * valid
    newR = C + (A.transpose(1, 2) @ gam[:, :, None])[:, :, 0]
    scale = torch.linalg.norm(C, dim=1).clamp(min=1e-300)
    ok = (gam >= -1e-12 * scale[:, None]).all(1) & valid.any(1) & torch.isfinite(newR).all(1)
    return torch.where(ok[:, None], newR, R)


def _repair_free(R, blocks: BlockSet, idx, free):
    r"""Make the free equality :math:`(c_b + A_b^\top\gamma_b)_{\bar\pi} = 0` exact.

    The free coordinate is the bias, whose entry in row j of a cone is
    :math:`2D_{jb} - 1 = \pm 1`; a residual e is cancelled by raising the multiplier of
    the row with entry :math:`-\mathrm{sign}(e)` that is cheapest in the penalized norm by
    :math:`|e|` (every pattern here has rows of both signs: the all-on one is a linear
    block).  Any :math:`\gamma \ge 0` gives a valid bound, so this keeps it valid."""
    torch = _torch()
    Xt = blocks.Xt
    pen = (~free).to(Xt.dtype)
    e = (R * free).sum(1)
    S = 2.0 * blocks.D[:, blocks.pat[idx]].to(Xt.dtype) - 1.0  # (n, k): free entries of the rows
    cost = torch.linalg.norm(Xt * pen, dim=1)[:, None].expand_as(S)
    ok = S * e[None, :] < 0
    cost = torch.where(ok, cost, torch.full_like(cost, math.inf))
    j = torch.argmin(cost, dim=0)
    has = torch.isfinite(cost.gather(0, j[None, :])[0])
    a = S.gather(0, j[None, :])[0][:, None] * Xt[j]  # (k, d) the chosen rows
    delta = torch.where(has, e.abs(), torch.zeros_like(e))
    R = R + delta[:, None] * a
    R[~has & (e != 0)] = math.inf  # no repair possible: no bound
    return R


def solve_working_set(program, *, verbose: bool = False, tol: float | None = None,
                      **options) -> ConvexSolution:
    """``SOLVERS["working_set"]``: :class:`WorkingSetSolver` with ``options`` as its
    hyper-parameters (``tol`` is the certified relative gap, default 1e-6)."""
    solver = WorkingSetSolver(tol=DEFAULT_TOL if tol is None else tol, verbose=verbose, **options)
    return solver.solve(program)
