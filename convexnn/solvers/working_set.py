r"""Working-set interior-point solver of the two-layer convex programs, with a certified gap.

C-ReLU (C-GReLU drops the cone rows and the :math:`w_i`; THEORY A.2, B):

.. math::
    \min_{v_i, w_i}\ \ell\Big(\sum_i D_i\tilde X(v_i - w_i) + Fa\Big)
        + \beta\sum_i\big(\|v_{i,\pi}\| + \|w_{i,\pi}\|\big)
    \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\ (2D_i - I)\tilde Xw_i \ge 0.

Each cone :math:`K_i` has n rows but only a few facets (about 2d' for a cell of a
hyperplane arrangement), and at an optimum a block touches at most d' - 1 of them.  The
solver therefore works on a *working set* of rows per block:

1. start from the rows nearest to the pattern's gate (the k closest hyperplanes);
2. run the structured interior-point method (:class:`~convexnn.solvers.ipm.InteriorPoint`),
   adding, between iterations, every row that the current iterate violates
   (:class:`RowOracle`; an infeasible-start method absorbs new rows without a restart);
3. at the interior-point optimum check every row of every cone, and certify.

Certificate (THEORY A.7 over the program's patterns; stopping rule): with
:math:`\lambda = -\nabla\ell(\hat y)` (hinge: the method's own multipliers) projected onto
:math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}`, the interior-point multipliers
:math:`\gamma_b \ge 0` of the working rows give, for every block,

.. math::
    s_b = \max_{u\in K_b,\ \|u_\pi\|\le 1} \sigma_b\lambda^\top D_b\tilde X u
        \le \|(c_b + A_b^\top\gamma_b)_\pi\|,\qquad c_b = \sigma_b\tilde X^\top D_b\lambda

(conic duality; a free coordinate's equality :math:`(c_b + A_b^\top\gamma_b)_{\bar\pi} = 0`
is repaired exactly first).  With :math:`s = \max_b s_b`, :math:`\lambda_s =
\lambda\min(1, \beta/s)` is dual feasible, :math:`\mathrm{LB} = -\ell^*(-\lambda_s)` is a
lower bound on the optimum, and the solver stops when the primal point is feasible for
*every* row and :math:`P - \mathrm{LB} \le \mathrm{tol}\cdot\max(1, |P|)`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..exceptions import PatternBudgetError
from ..solution import FAILED, INACCURATE, ITERATION_LIMIT, OPTIMAL, ConvexSolution
from .blocks import BlockSet, orthonormal_free_basis
from .cone_projection import project_cones
from .ipm import InteriorPoint, IPMState, Subproblem

#: Default relative duality-gap tolerance of the certificate.
DEFAULT_TOL = 1e-6
#: Rows violated by more than this (relative to ||x_j|| ||v_b||) count as infeasible.
FEAS_RTOL = 1e-9


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
class RowSet:
    r"""Membership of cone rows in the working set, and the search for violated rows.

    A row j of block b is *violated* at V when its normalized value
    :math:`\zeta_{jb} = (2D_{jb}-1)\tilde x_j^\top v_b / (\|\tilde x_j\|\|v_b\|)` is below
    ``-tol``; :meth:`violated` returns the worst ``max_add`` per block.
    """

    def __init__(self, blocks: BlockSet, inset):
        torch = _torch()
        self.blocks = blocks
        self.inset = inset  # (n, m) bool
        self.row_norms = torch.linalg.norm(blocks.Xt, dim=1).clamp(min=1e-300)

    def violated(self, V, tol: float, max_add: int):
        """(block, row) index tensors of violated rows not in the set, or None."""
        torch = _torch()
        blocks = self.blocks
        vn = torch.linalg.norm(V, dim=1)
        live = (vn > 0) & ~blocks.linear
        out_b, out_j = [], []
        for sl in blocks._chunks():
            zeta = blocks.row_values(V, sl) / (self.row_norms[:, None] * vn[sl].clamp(min=1e-300)[None, :])
            cand = (zeta < -tol) & ~self.inset[:, sl] & live[sl][None, :]
            if not bool(cand.any()):
                continue
            zeta = torch.where(cand, zeta, torch.full_like(zeta, math.inf))
            k = min(max_add, zeta.shape[0])
            vals, idx = torch.topk(zeta, k, dim=0, largest=False)
            ok = torch.isfinite(vals)
            bb = torch.arange(sl.start, sl.stop, device=V.device)[None, :].expand(k, -1)
            out_b.append(bb[ok])
            out_j.append(idx[ok])
        if not out_b:
            return None
        return torch.cat(out_b), torch.cat(out_j)

    def add(self, b_idx, j_idx) -> int:
        """Add rows (skipping those already in); returns how many were new."""
        torch = _torch()
        blocks = self.blocks
        keep = ~self.inset[j_idx, b_idx]
        b_idx, j_idx = b_idx[keep], j_idx[keep]
        if b_idx.numel() == 0:
            return 0
        # deduplicate (block, row) pairs
        key = torch.unique(b_idx * blocks.n + j_idx)
        b_idx, j_idx = key // blocks.n, key % blocks.n
        new_rows = [[] for _ in range(blocks.m)]
        for b, j in zip(b_idx.tolist(), j_idx.tolist()):
            new_rows[b].append(j)
        blocks.add_rows([torch.tensor(r, dtype=torch.long, device=blocks.Xt.device) for r in new_rows])
        self.inset[j_idx, b_idx] = True
        return int(b_idx.numel())


# ---- the solver ----------------------------------------------------------------------------
@dataclass
class Certificate:
    """Duality-gap certificate of a primal point (see the module docstring)."""

    primal: float
    lower: float
    gap: float
    s: float
    violation: float


class WorkingSetSolver:
    r"""Certified working-set interior-point solver (see the module docstring).

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality gap to certify: :math:`P - \mathrm{LB} \le \mathrm{tol}\max(1,|P|)`.
    max_iter : int, default=200
        Total interior-point iterations over all rounds.
    ipm_tol : float, optional
        Tolerance of the interior-point method (default ``tol / 100``).
    initial_rows : int, optional
        Rows per block to start with (default ``2 d'``).
    max_add : int, default=4
        Rows added per block and interior-point iteration.
    device : str or None
        torch device ("cpu", "cuda"; default: cuda when available).
    num_threads : int or None
        torch intra-op threads during the solve (restored afterwards).  The default 1
        keeps the many small batched operations from contending for cores; the large
        products run through BLAS.
    memory_limit : int or None
        Bytes; refuse (:class:`MemoryBudgetError`) problems estimated above it
        (default: half of the physical memory).
    time_limit : float, default=inf
        Seconds.
    verbose : bool, default=False
    """

    def __init__(self, tol: float = DEFAULT_TOL, max_iter: int = 200, ipm_tol: float | None = None,
                 initial_rows: int | None = None, max_add: int = 4, device=None,
                 num_threads: int | None = 1, memory_limit: int | None = None,
                 time_limit: float = math.inf, projection_steps: int | None = None,
                 verbose: bool = False):
        self.projection_steps = projection_steps
        self.tol = tol
        self.max_iter = max_iter
        self.ipm_tol = ipm_tol
        self.initial_rows = initial_rows
        self.max_add = max_add
        self.device = device
        self.num_threads = num_threads
        self.memory_limit = memory_limit
        self.time_limit = time_limit
        self.verbose = verbose

    # -- memory ---------------------------------------------------------------------------
    def estimate_memory(self, program) -> int:
        """Bytes the solve needs at most (data, working set, n- or variable-space matrix)."""
        n, dp = program.Xt.shape
        P = program.n_patterns
        m = P if program.model == "gated" else 2 * P
        rows = 0 if program.model == "gated" else (self.initial_rows or 2 * dp) + 8 * self.max_add
        N = m * dp
        kkt = 8 * min(n, N) ** 2 * 3
        blocks = 8 * m * (dp * dp * 6 + rows * (dp + 6))
        inset = n * m  # booleans
        data = 8 * n * dp * 2 + n * P
        return int(kkt + blocks + inset + data + 4 * 64 * 1024**2)

    def _check_memory(self, program) -> None:
        need = self.estimate_memory(program)
        limit = self.memory_limit if self.memory_limit is not None else available_memory() // 2
        if need > limit:
            n, P = program.n_samples, program.n_patterns
            raise MemoryBudgetError(
                f"the working-set solver needs about {need / 1024**3:.2f} GiB for n={n} samples "
                f"and P={P} patterns, above its memory limit of {limit / 1024**3:.2f} GiB; use "
                "fewer patterns (or samples), raise memory_limit, or use solver='scs'")

    # -- set-up ---------------------------------------------------------------------------
    def _blocks(self, program, dev):
        torch = _torch()
        n, dp = program.Xt.shape
        P = program.n_patterns
        D = program.D
        pen = np.zeros(dp)
        pen[program.penalized] = 1.0
        gated = program.model == "gated"
        allon = np.flatnonzero(D.all(axis=0)) if program.bias == "free" else np.zeros(0, int)
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
        Xt = torch.as_tensor(program.Xt, dtype=torch.float64, device=dev)
        blocks = BlockSet(
            Xt=Xt, D=torch.as_tensor(D, device=dev),
            pat=torch.as_tensor(np.array(pats, dtype=np.int64), device=dev),
            sign=torch.as_tensor(np.array(signs), dtype=torch.float64, device=dev),
            pen=torch.as_tensor(np.array(pens).reshape(m, dp), dtype=torch.float64, device=dev),
            rows=torch.zeros(m, 0, dtype=torch.long, device=dev),
            rmask=torch.zeros(m, 0, dtype=torch.bool, device=dev),
            linear=torch.as_tensor(np.array(linear, dtype=bool), device=dev))
        return blocks

    def _initial_rows(self, program, blocks, k):
        r"""The k rows per block nearest (in angle) to a point of the cone: the pattern's
        gate when known, else :math:`\tilde X^\top(2D_i - 1)` (only a ranking)."""
        torch = _torch()
        if program.model == "gated" or k == 0:
            return torch.zeros(blocks.n, blocks.m, dtype=torch.bool, device=blocks.Xt.device)
        Xt = blocks.Xt
        G = program.patterns.gates
        S = blocks.signs()
        if G is not None and G.shape[1] == Xt.shape[1] and G.shape[0] == program.n_patterns:
            U = torch.as_tensor(G, dtype=Xt.dtype, device=Xt.device)[blocks.pat]
        else:
            U = (S.T @ Xt) / blocks.n
        zeta = (Xt @ U.T) * S / torch.linalg.norm(Xt, dim=1).clamp(min=1e-300)[:, None]
        zeta = torch.where(blocks.linear[None, :], torch.full_like(zeta, math.inf), zeta)
        k = min(k, blocks.n)
        _, idx = torch.topk(zeta, k, dim=0, largest=False)  # (k, m)
        rows = idx.T.contiguous()
        rmask = ~blocks.linear[:, None].expand(-1, k).clone()
        blocks.rows, blocks.rmask = rows, rmask
        inset = torch.zeros(blocks.n, blocks.m, dtype=torch.bool, device=Xt.device)
        inset.scatter_(0, idx, rmask.T)
        return inset

    # -- certificate ----------------------------------------------------------------------
    def certificate(self, program, blocks: BlockSet, st: IPMState, sol: ConvexSolution,
                    hinge_lam=None) -> tuple[Certificate, object]:
        """The duality-gap certificate of ``sol`` (module docstring) and the cone
        projections behind it (their active rows)."""
        torch = _torch()
        loss = program.loss
        y = program.y
        yhat = program.predict(sol)
        if loss.name == "hinge":
            lam = np.clip(hinge_lam, 0.0, 1.0) * y
        else:
            lam = -loss.gradient(yhat, y)
        if loss.name in ("logistic", "hinge"):
            lo, hi = np.minimum(0.0, y), np.maximum(0.0, y)
        else:
            lo, hi = np.full(y.shape, -np.inf), np.full(y.shape, np.inf)
        lam = project_dual(lam, program.free_basis, lo, hi)
        lam_t = torch.as_tensor(lam, dtype=blocks.Xt.dtype, device=blocks.Xt.device)
        C = blocks.adjoint(lam_t)  # c_b = sigma_b Xt^T D_b lam
        proj = None
        R = C
        cone = ~blocks.linear if program.model == "relu" else torch.zeros_like(blocks.linear)
        if bool(cone.any()):
            idx = torch.nonzero(cone)[:, 0]
            free = (blocks.pen[idx[0]] < 0.5)
            proj = project_cones(blocks.Xt, blocks.signs()[:, idx], C[idx],
                                 free=free if bool(free.any()) else None,
                                 active0=_tight_rows(blocks, st, idx), max_steps=self.projection_steps)
            R = C.clone()
            R[idx] = proj.u
            if bool(free.any()):
                R[idx] = _repair_free(R[idx], blocks, idx, free)
        upper = torch.linalg.norm(R * blocks.pen, dim=1)
        s = float(upper.max()) if upper.numel() else 0.0
        beta = program.beta
        scale = min(1.0, beta / s) if s > 0 else 1.0
        lower = -loss.conjugate(-lam * scale, y)
        primal = program.objective(sol)
        viol = program.constraint_violation(sol)
        return Certificate(primal=primal, lower=lower, gap=primal - lower, s=s, violation=viol), proj

    # -- the solve ------------------------------------------------------------------------
    def solve(self, program) -> ConvexSolution:
        """Solve ``program`` (a :class:`~convexnn.programs.two_layer.TwoLayerProgram`)."""
        torch = _torch()
        self._check_memory(program)
        threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            return self._solve(program)
        finally:
            torch.set_num_threads(threads)

    def _solve(self, program) -> ConvexSolution:
        torch = _torch()
        t0 = time.perf_counter()
        dev = _device(self.device)
        blocks = self._blocks(program, dev)
        dp = blocks.dim
        k0 = self.initial_rows if self.initial_rows is not None else min(blocks.n, 16 * dp)
        rowset = RowSet(blocks, self._initial_rows(program, blocks, k0)) if program.model == "relu" else None
        Q = orthonormal_free_basis(program.free_basis)
        F_t = None if Q is None else torch.as_tensor(Q, dtype=torch.float64, device=dev)
        y_t = torch.as_tensor(program.y, dtype=torch.float64, device=dev)
        prob = Subproblem(blocks, y_t, program.loss.name, program.beta, F_t)
        ipm_tol = self.ipm_tol if self.ipm_tol is not None else self.tol * 1e-2
        setup = time.perf_counter() - t0
        state, iters, rounds = None, 0, 0
        status, cert, sol = ITERATION_LIMIT, None, None
        history = []
        while True:
            rounds += 1
            ipm = InteriorPoint(tol=ipm_tol, max_iter=max(0, self.max_iter - iters), verbose=self.verbose)
            left = self.time_limit - (time.perf_counter() - t0)
            res = ipm.solve(prob, state, time_limit=left)
            iters += res.iterations
            state = res.state
            sol = self._solution(program, blocks, state, Q)
            # 1) primal feasibility on every row of every cone
            added = 0
            if rowset is not None:
                found = rowset.violated(state.v, FEAS_RTOL, self.max_add)
                if found is not None:
                    added = rowset.add(*found)
            # 2) the certificate (its projections' active rows also join the set)
            cert, proj = self.certificate(program, blocks, state, sol,
                                          state.z_h[1].cpu().numpy() if prob.hinge else None)
            rel = cert.gap / max(1.0, abs(cert.primal))
            history.append(dict(round=rounds, ipm=res.status, iterations=res.iterations,
                                primal=cert.primal, lower=cert.lower, rel_gap=rel,
                                violated_rows=added, time=time.perf_counter() - t0))
            if self.verbose:
                print(f"round {rounds}: ipm {res.status} ({res.iterations} it), P={cert.primal:.10g} "
                      f"LB={cert.lower:.10g} rel.gap={rel:.2e} s/beta-1={cert.s / program.beta - 1:.2e} "
                      f"violated rows={added} rows={int(blocks.rmask.sum())}")
            if added == 0 and rel <= self.tol:
                status = OPTIMAL
                break
            if res.status in ("failed", "stalled") and not added:
                # at the roundoff floor of the method: a feasible point with a certified
                # but larger gap is "inaccurate"; no finite certificate is a failure
                status = INACCURATE if math.isfinite(cert.gap) and cert.violation <= 1e-6 else FAILED
                break
            if iters >= self.max_iter or time.perf_counter() - t0 > self.time_limit:
                status = ITERATION_LIMIT
                break
            if added:
                if proj is not None:
                    rowset.add(*_active_pairs(proj, blocks))
                state = None  # a new working set: restart (interior points warm-start badly)
            else:
                ipm_tol = ipm_tol * 1e-2  # same set: continue to a more accurate point
                if ipm_tol < 1e-15:
                    status = INACCURATE if math.isfinite(cert.gap) else FAILED
                    break
        sol.status = status
        sol.solver = "working_set"
        sol.solver_status = f"{status} ({rounds} rounds, {int(blocks.rmask.sum())} cone rows)"
        sol.objective_reported = cert.primal
        sol.dual_bound = cert.lower
        sol.iterations = iters
        sol.setup_time = setup
        sol.solve_time = time.perf_counter() - t0 - setup
        sol.info.update(gap=cert.gap, rel_gap=cert.gap / max(1.0, abs(cert.primal)),
                        s_over_beta=cert.s / program.beta, rows=int(blocks.rmask.sum()),
                        blocks=blocks.m, rounds=rounds, history=history,
                        kkt="n-space" if blocks.n <= blocks.m * dp else "variable-space",
                        device=str(dev), constraint_violation=cert.violation)
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


def _box_primitive(t, lo, hi):
    """:math:`h(t) = \int_0^t \mathrm{clip}(\tau, lo, hi)\,d\tau` (0 lies in [lo, hi])."""
    c = np.clip(t, lo, hi)
    return 0.5 * c * c + c * (t - c)


def project_dual(lam, F, lo, hi, *, max_iter: int = 100):
    r"""Euclidean projection of :math:`\lambda` onto :math:`\{F^\top\lambda = 0\}\cap[lo, hi]`.

    It is :math:`\mathrm{clip}(\lambda + Qa)` with Q an orthonormal basis of range(F) and a
    the minimizer of the convex :math:`\psi(a) = \sum_j h_j(\lambda_j + (Qa)_j)`
    (:math:`\nabla\psi = Q^\top\mathrm{clip}(\lambda + Qa)`), found by damped semismooth
    Newton; without bounds it is :math:`\lambda - QQ^\top\lambda`.  At an optimum of the
    program the multiplier already satisfies both, so the projection moves it by the
    solver's accuracy only.
    """
    lam = np.clip(lam, lo, hi)
    Q = orthonormal_free_basis(F)
    if Q is None:
        return lam
    if not (np.isfinite(lo).any() or np.isfinite(hi).any()):
        return lam - Q @ (Q.T @ lam)
    a = np.zeros(Q.shape[1])
    scale = max(float(np.linalg.norm(lam)), 1.0)
    for _ in range(max_iter):
        t = lam + Q @ a
        g = Q.T @ np.clip(t, lo, hi)
        if np.linalg.norm(g) <= 1e-15 * scale:
            break
        inside = ((t > lo) & (t < hi)).astype(np.float64)
        H = Q.T @ (inside[:, None] * Q) + 1e-12 * np.eye(Q.shape[1])
        step = -np.linalg.lstsq(H, g, rcond=None)[0]
        psi0, slope, eta = float(np.sum(_box_primitive(t, lo, hi))), float(g @ step), 1.0
        while eta > 1e-12:  # Armijo backtracking on psi
            if np.sum(_box_primitive(lam + Q @ (a + eta * step), lo, hi)) <= psi0 + 1e-4 * eta * slope:
                break
            eta *= 0.5
        a = a + eta * step
    return np.clip(lam + Q @ a, lo, hi)


def _tight_rows(blocks: BlockSet, st: IPMState, idx):
    """Per block (of ``idx``), the working rows an interior-point solution is tight on
    (z > s, sorted by z/s), padded with -1: the warm start of the projections."""
    torch = _torch()
    if st is None or blocks.rows.shape[1] == 0:
        return None
    rm = blocks.rmask[idx]
    ratio = torch.where(rm, st.z_lin[idx] / st.s_lin[idx].clamp(min=1e-300), torch.zeros_like(st.s_lin[idx]))
    k = min(blocks.dim - 1, ratio.shape[1])
    vals, order = torch.topk(ratio, k, dim=1)
    rows = blocks.rows[idx].gather(1, order)
    return torch.where(vals > 1.0, rows, torch.full_like(rows, -1))


def _active_pairs(proj, blocks: BlockSet):
    """(block, row) pairs of the projections' active sets (all relu blocks)."""
    torch = _torch()
    idx = torch.nonzero(~blocks.linear)[:, 0]
    b, k = torch.nonzero(proj.active >= 0, as_tuple=True)
    return idx[b], proj.active[b, k]


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
    S = blocks.signs()[:, idx]  # (n, k): free entries of the rows
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
