r"""Batched projections onto the pattern cones, and the cone support bounds they give (torch).

For blocks b with cone :math:`K_b = \{u : A_bu \ge 0\}`, :math:`A_b = (2D_{i_b} - I)\tilde X`
(n rows, in operator form), and vectors :math:`c_b`, solve

.. math::
    \Pi_{K_b}(c_b) = \arg\min_{A_bu \ge 0} \tfrac12\|u - c_b\|^2,
    \qquad s_b = \max_{u\in K_b,\|u\|\le1} c_b^\top u = \|\Pi_{K_b}(c_b)\|

(Moreau; THEORY A.6) for all blocks at once with the dual active-set method of
Goldfarb & Idnani (Math. Programming 27, 1983) specialised to the identity Hessian.  It
keeps :math:`u = c + A_W^\top\gamma_W` with :math:`\gamma_W \ge 0` on a linearly
independent active set W (at most d' rows), adds the most violated row, and takes
partial steps that drop a row whose multiplier reaches zero.  Hence at *every* step

* :math:`\|u\| = \|c + A^\top\gamma\| \ge s_b` is a valid **upper bound** (any
  :math:`\gamma \ge 0`), and
* when no row is violated, u is the projection and :math:`s_b = \|u\|` exactly (a
  feasible maximizer is :math:`u/\|u\|`); its active rows are the facets the optimal
  neuron of the block lies on.

A free (unpenalized) coordinate, :math:`s_b = \max\{c^\top u : u\in K_b, \|u_\pi\|\le1\}`,
is handled by weighting it with :math:`\rho^{-1/2}` (the projection in the metric
:math:`\mathrm{diag}(1_\pi, \rho)`, whose dual penalizes the free residual by
:math:`1/\rho`), after which the caller repairs the free equality exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..core.lazy import torch_module as _torch


class Projection(NamedTuple):
    """Result of :func:`project_cones`: per block the point u = c + A^T gamma, its active
    rows (padded with -1), their multipliers, whether u is feasible (exact projection),
    and the number of steps taken."""

    u: object
    active: object
    gamma: object
    exact: object
    steps: int


def project_cones(Xt, D, pat, C, *, max_steps: int | None = None, tol: float = 1e-12,
                  free=None, rho: float = 1e-8, active0=None, stop_below=None,
                  chunk_bytes: int = 64 * 1024**2) -> Projection:
    r"""Project each :math:`c_b` onto :math:`\{u : (2D_{:,i_b} - 1)\circ(\tilde Xu) \ge 0\}`.

    Blocks are processed in chunks whose (n, blocks) row values fit ``chunk_bytes``; each
    active-set step scans all n rows of the chunk's unfinished blocks with one matrix
    product (rows pre-normalized, signs applied by a select).

    Parameters
    ----------
    Xt : Tensor (n, d)
        Rows :math:`\tilde x_j` (the cone rows are :math:`\pm\tilde x_j`).
    D : Tensor bool (n, P)
        Patterns; block b uses column ``pat[b]`` (row signs :math:`2D_{j,i_b} - 1`).
    pat : Tensor long (m,)
    C : Tensor (m, d)
        Points to project.
    max_steps : int, optional
        Active-set steps per chunk (default 8 d); the upper bounds are valid at any stop.
    tol : float
        A row is violated when :math:`a_j^\top u < -\mathrm{tol}\,\|a_j\|\|u\|`.
    free : Tensor bool (d,), optional
        Free coordinates (weighted by ``rho``, see the module docstring).
    active0 : Tensor long (m, k), optional
        Warm start: candidate active rows per block (-1 = none), e.g. the rows an
        interior-point solution is tight on.  Rows whose least-squares multipliers are
        negative (or that are linearly dependent) are dropped first, which leaves a valid
        dual-feasible starting point.
    stop_below : Tensor (m,), optional
        Stop a block as soon as its upper bound :math:`\|u\|` is at most this (a
        certificate needs no more).
    chunk_bytes : int
        Memory budget of one chunk's temporaries.

    Returns
    -------
    Projection
    """
    torch = _torch()
    n, d = Xt.shape
    m = C.shape[0]
    dt_, dev = Xt.dtype, Xt.device
    if free is not None and bool(free.any()):
        w = torch.where(free, torch.full((d,), rho ** -0.5, dtype=dt_, device=dev),
                        torch.ones(d, dtype=dt_, device=dev))
        Xs = Xt * w  # rows in the metric diag(1, rho): A G^{-1/2}
        res = project_cones(Xs, D, pat, C * w, max_steps=max_steps, tol=tol, active0=active0,
                            stop_below=stop_below, chunk_bytes=chunk_bytes)
        return Projection(res.u / w, res.active, res.gamma, res.exact, res.steps)
    max_steps = 8 * d if max_steps is None else max_steps
    step = max(1, chunk_bytes // (8 * (3 * n + 2 * d * d + 8 * d)))
    Xn = Xt / torch.linalg.norm(Xt, dim=1).clamp(min=1e-300)[:, None]
    outs = []
    for lo in range(0, m, step):
        sl = slice(lo, min(m, lo + step))
        outs.append(_project_chunk(
            Xt, Xn, D, pat[sl], C[sl], max_steps=max_steps, tol=tol,
            active0=None if active0 is None else active0[sl],
            stop_below=None if stop_below is None else stop_below[sl]))
    if len(outs) == 1:
        return outs[0]
    return Projection(torch.cat([o.u for o in outs]), torch.cat([o.active for o in outs]),
                      torch.cat([o.gamma for o in outs]), torch.cat([o.exact for o in outs]),
                      max(o.steps for o in outs))


@dataclass
class _Chunk:
    """The active-set iteration's state for one chunk of blocks (:func:`_project_chunk`)."""

    Xt: Any
    XnT: Any  # row-normalized data, transposed
    DcT: Any  # (m, n) bool: the chunk's patterns, a row per block
    SgT: Any  # the row signs 2 D - 1, one in-place product per scan
    u: Any
    act: Any  # (m, d) active row indices (-1: empty slot)
    gam: Any  # (m, d) their multipliers
    Aw: Any  # (m, d, d) active rows (zero when empty)
    pending: Any  # (m,) row being added (-1: none)
    gp: Any  # its multiplier so far
    done: Any

    def signs(self, rows, blk):
        """2 D[row, pat[blk]] - 1, elementwise."""
        return 2.0 * self.DcT[blk, rows].to(self.Xt.dtype) - 1.0


def _project_chunk(Xt, Xn, D, pat, C, *, max_steps, tol, active0, stop_below):
    """:func:`project_cones` on one chunk of blocks (see there)."""
    torch = _torch()
    d = Xt.shape[1]
    m = C.shape[0]
    dt_, dev = Xt.dtype, Xt.device
    DcT = D[:, pat].T.contiguous()
    st = _Chunk(Xt, Xn.T.contiguous(), DcT, 2.0 * DcT.to(dt_) - 1.0, C.clone(),
                torch.full((m, d), -1, dtype=torch.long, device=dev),
                torch.zeros(m, d, dtype=dt_, device=dev),
                torch.zeros(m, d, d, dtype=dt_, device=dev),
                torch.full((m,), -1, dtype=torch.long, device=dev),
                torch.zeros(m, dtype=dt_, device=dev),
                torch.zeros(m, dtype=torch.bool, device=dev))
    if active0 is not None and active0.numel():
        st.act, st.gam, st.Aw, st.u = _warm_start(Xt, st.signs, C, active0, d)
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 (the count is returned)
        unorm = torch.linalg.norm(st.u, dim=1)
        if stop_below is not None:
            st.done |= (st.pending < 0) & (unorm <= stop_below)
        _pick(st, unorm, tol)
        live = (st.pending >= 0) & ~st.done
        if not bool(live.any()):
            break
        _step(st, torch.nonzero(live)[:, 0])
    exact = (st.pending < 0) & st.done
    if stop_below is not None:
        exact = exact & (torch.linalg.norm(st.u, dim=1) > stop_below)  # stopped early: a bound only
    return Projection(st.u, st.act, st.gam, exact, steps)


def _pick(st: _Chunk, unorm, tol: float) -> None:
    """1) blocks without a pending row pick the most violated row: one product."""
    torch = _torch()
    pick = (st.pending < 0) & ~st.done
    if not bool(pick.any()):
        return
    m = st.u.shape[0]
    idx = torch.nonzero(pick)[:, 0]
    # (k, n) values / ||x_j||, a row per block (contiguous reductions)
    Z = st.u[idx] @ st.XnT
    Z.mul_(st.SgT if idx.numel() == m else st.SgT[idx])
    a_idx = st.act[idx]
    valid = a_idx >= 0
    blk = torch.arange(idx.numel(), device=Z.device)[:, None].expand_as(a_idx)
    Z[blk[valid], a_idx[valid]] = math.inf  # active rows hold with equality
    val, prow = Z.min(1)
    viol = val < -tol * unorm[idx].clamp(min=1e-300)
    st.pending[idx[viol]] = prow[viol]
    st.gp[idx[viol]] = 0.0
    st.done[idx[~viol]] = True


def _step(st: _Chunk, li) -> None:
    """2) a step of the live blocks ``li`` towards satisfying their pending row p: the
    whole way (p joins the active set) or until a multiplier reaches zero (its row
    leaves)."""
    torch = _torch()
    dt_ = st.Xt.dtype
    p = st.pending[li]
    ap = st.signs(p, li)[:, None] * st.Xt[p]  # (k, d)
    Awl = st.Aw[li]
    empty = st.act[li] < 0
    Gw = Awl @ Awl.transpose(1, 2) + torch.diag_embed(empty.to(dt_))
    r, info = torch.linalg.solve_ex(Gw, (Awl @ ap[:, :, None]))  # dual direction
    r = r[:, :, 0]
    broken = (info > 0) | ~torch.isfinite(r).all(1)  # numerically dependent active rows
    r = torch.where(empty | broken[:, None], torch.zeros_like(r), r)
    z = ap - (Awl.transpose(1, 2) @ r[:, :, None])[:, :, 0]  # primal direction
    zz = (z * z).sum(1)
    indep = zz > 1e-20 * (ap * ap).sum(1)
    t1 = torch.where(indep, -(ap * st.u[li]).sum(1) / torch.where(indep, zz, torch.ones_like(zz)),
                     torch.full_like(zz, math.inf))
    ratio = torch.where((r > 0) & ~empty, st.gam[li] / torch.where(r > 0, r, torch.ones_like(r)),
                        torch.full_like(r, math.inf))
    t2, kdrop = ratio.min(1)
    t = torch.minimum(t1, t2)
    stuck = ~torch.isfinite(t) | broken  # stop there: u = c + A^T gamma stays a bound
    t = torch.where(stuck, torch.zeros_like(t), t)
    st.u[li] = st.u[li] + t[:, None] * torch.where(indep[:, None], z, torch.zeros_like(z))
    st.gam[li] = torch.where(empty, st.gam[li], st.gam[li] - t[:, None] * r)
    st.gp[li] = st.gp[li] + t
    full = (t1 <= t2) & ~stuck
    fi = li[full]  # full step: p joins the active set in the first empty slot
    if fi.numel():
        slot = torch.argmax((st.act[fi] < 0).to(torch.int8), dim=1)
        st.act[fi, slot] = st.pending[fi]
        st.gam[fi, slot] = st.gp[fi]
        st.Aw[fi, slot] = st.signs(st.pending[fi], fi)[:, None] * st.Xt[st.pending[fi]]
        st.pending[fi] = -1
    di = li[~full & ~stuck]  # partial step: drop the row whose multiplier reached zero
    if di.numel():
        k = kdrop[~full & ~stuck]
        st.act[di, k] = -1
        st.gam[di, k] = 0.0
        st.Aw[di, k] = 0.0
    st.done[li[stuck]] = True


def _warm_start(Xt, signs, C, active0, d):
    r"""Dual-feasible start on the candidate rows W: :math:`\gamma_W = -(A_WA_W^\top)^{-1}A_Wc`,
    :math:`u = c + A_W^\top\gamma_W` (the projection onto :math:`\{A_Wu = 0\}`);
    repeatedly drop the most negative multiplier (and rows with a tiny pivot, i.e.
    dependent ones) until every multiplier is >= 0."""
    torch = _torch()
    m = C.shape[0]
    dt_, dev = Xt.dtype, Xt.device
    k = min(active0.shape[1], d - 1) if d > 1 else 0
    if k == 0:  # no candidate rows (e.g. d = 1): start from u = c with no active row
        return (torch.full((m, d), -1, dtype=torch.long, device=dev),
                torch.zeros(m, d, dtype=dt_, device=dev),
                torch.zeros(m, d, d, dtype=dt_, device=dev), C.clone())
    cand = active0[:, :k].clone()
    ar = torch.arange(m, device=dev)[:, None]
    for _ in range(k + 1):
        valid = cand >= 0
        rows = cand.clamp(min=0)
        Aw = signs(rows, ar.expand_as(rows))[:, :, None] * Xt[rows] * valid[:, :, None]  # (m, k, d)
        Gw = Aw @ Aw.transpose(1, 2)
        scale = Gw.diagonal(dim1=1, dim2=2).amax(1).clamp(min=1e-300)
        Gw = Gw + torch.diag_embed((~valid).to(dt_)) + 1e-12 * scale[:, None, None] * torch.eye(k, dtype=dt_, device=dev)
        rhs = -(Aw @ C[:, :, None])[:, :, 0]
        L, info = torch.linalg.cholesky_ex(Gw)
        gam = torch.cholesky_solve(rhs[:, :, None], L)[:, :, 0] * valid
        # a dependent row shows up as a tiny pivot: treat its multiplier as negative
        piv = L.diagonal(dim1=1, dim2=2) ** 2
        dep = valid & (piv < 1e-10 * scale[:, None])
        bad = torch.where(dep, torch.full_like(gam, -math.inf), gam)
        worst, j = bad.min(1)
        drop = (worst < 0) | (info > 0)
        if not bool(drop.any()):
            break
        cand[drop, j[drop]] = -1
    valid = cand >= 0
    u = C + (Aw.transpose(1, 2) @ gam[:, :, None])[:, :, 0]
    act = torch.full((m, d), -1, dtype=torch.long, device=dev)
    g = torch.zeros(m, d, dtype=dt_, device=dev)
    A = torch.zeros(m, d, d, dtype=dt_, device=dev)
    act[:, :k] = torch.where(valid, cand, torch.full_like(cand, -1))
    g[:, :k] = gam * valid
    A[:, :k] = Aw * valid[:, :, None]
    return act, g, A, u


def support_upper(u, free=None):
    r"""Upper bounds :math:`\|(c + A^\top\gamma)_\pi\|` from a projection's u (no free
    coordinate: :math:`\|u\|`)."""
    torch = _torch()
    if free is None or not bool(free.any()):
        return torch.linalg.norm(u, dim=1)
    return torch.linalg.norm(u[:, ~free], dim=1)
