r"""The duality-gap certificate of the working-set solver, over every block of the program.

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
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..core.lazy import torch_module as _torch
from ..core.solution import ConvexSolution
from ..duality.dual_points import project_dual
from .blocks import BlockSet
from .cone_projection import project_cones
from .row_store import tight_rows
from .subproblem import IPMState

#: A zero working block whose dual constraint is slack by this fraction is idle (it
#: leaves the working set before the final solve).
IDLE_SLACK = 1e-2
#: Row scans of the certificate over at least this many (row, block) pairs use every
#: torch thread (synthetic benchmark: 5 projection steps over 2000 blocks x 10^4 rows take
#: 1.1 s on one thread, 0.8 s on two).
SCAN_THREADS_SIZE = 4_000_000


@dataclass
class SolveCache:
    """Per-solve state the certificates share: the last projection's active rows per
    block (``active``, (M, d') long, -1 padded; their warm start) and the torch threads
    the caller had (``outer_threads``; the large row scans use them all)."""

    active: object = None
    outer_threads: int = 0


@dataclass
class GapCertificate:
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


def dual_point(program, yhat, hinge_lam=None):
    r""":math:`\lambda = -\nabla\ell(\hat y)` (hinge: ``hinge_lam`` y), projected onto
    :math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}\,\ell^*(-\cdot)`."""
    loss, y = program.loss, program.y
    if loss.epigraph_lp:  # the method's multipliers of the epigraph rows xi + y yhat >= 1
        lam = np.clip(hinge_lam, 0.0, 1.0) * y
    else:
        lam = -loss.gradient(yhat, y)
    lo, hi = loss.dual_box(y)
    return project_dual(lam, program.free_basis, lo, hi)


@contextmanager
def scan_threads(cache: SolveCache, size: int):
    """Every torch thread the caller had for a row scan over ``size`` (row, block)
    pairs of at least :data:`SCAN_THREADS_SIZE` (large products, unlike the
    interior-point method's many small ones); the solve's setting otherwise."""
    torch = _torch()
    inner = torch.get_num_threads()
    outer = cache.outer_threads or inner
    if size >= SCAN_THREADS_SIZE and outer > inner:
        torch.set_num_threads(outer)
    try:
        yield
    finally:
        torch.set_num_threads(inner)


def certify(program, universe: BlockSet, ws, blocks: BlockSet, st: IPMState | None,
            sol: ConvexSolution, hinge_lam=None, *, quick: bool = False,
            projection_steps: int | None = None, cache: SolveCache | None = None) -> GapCertificate:
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
    cache = SolveCache() if cache is None else cache
    loss, y, beta = program.loss, program.y, program.beta
    lam = dual_point(program, program.predict(sol), hinge_lam)
    lam_t = torch.as_tensor(lam, dtype=universe.Xt.dtype, device=universe.Xt.device)
    C = universe.adjoint(lam_t)  # c_b = sigma_b Xt^T D_b lam, every block
    upper = torch.linalg.norm(C * universe.pen, dim=1)
    active = None
    if program.has_cone_rows:
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
            if cache.active is not None:
                warm = cache.active[idx].clone()
            if st is not None and blocks.rows.shape[1]:
                loc = torch.full((universe.m,), -1, dtype=torch.long, device=C.device)
                loc[ws] = torch.arange(ws.numel(), device=C.device)
                tight = tight_rows(blocks, st)
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
            steps = 2 * universe.dim if quick else projection_steps
            with scan_threads(cache, universe.n_rows * idx.numel()):
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
                # equality-constrained NNLS bound of convexnn.duality.cones
                loose = idx[upper[idx] > beta]
                if loose.numel():
                    upper[loose] = torch.minimum(
                        upper[loose], _exact_free_bounds(universe, loose, C[loose], free))
            active = torch.full((universe.m, universe.dim), -1, dtype=torch.long, device=C.device)
            active[idx] = proj.active
            if cache.active is None:
                cache.active = active.clone()
            else:
                cache.active[idx] = proj.active
    s = float(upper.max()) if upper.numel() else 0.0
    scale = min(1.0, beta / s) if s > 0 else 1.0
    lower = -loss.conjugate(-lam * scale, y)
    primal = program.objective(sol)
    viol = program.constraint_violation(sol)
    return GapCertificate(primal=primal, lower=lower, gap=primal - lower, s=s, violation=viol,
                       upper=upper, active=active)


def _exact_free_bounds(blocks: BlockSet, idx, C, free):
    r"""Upper bounds :math:`\min_{\gamma\ge0}\|(c_b + A_b^\top\gamma)_\pi\|` s.t. the free
    equality, block by block with :func:`convexnn.duality.cones.cone_support` (NNLS in numpy, an
    exact equality-constrained polish on its active set, a bounded-least-squares repair
    otherwise); any gamma it returns meets the equality, so the bound is valid."""
    torch = _torch()
    from ..duality.cones import cone_support

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

