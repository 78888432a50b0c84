r"""One step of the interior-point method: residuals, Nesterov-Todd scalings, Newton
directions and step lengths.

An iterate :math:`(x, s, z)` has residuals :math:`r_p = Gx - s` (per cone) and
:math:`r_d = \nabla f(x) + c - G^\top z`; a direction solves the linearized system with the
complementarity right-hand side :math:`\lambda\circ(\tilde{ds} + \tilde{dz}) = r_c` in the
scaled space :math:`\tilde{ds} = W^{-1}\Delta s`, :math:`\tilde{dz} = W\Delta z`
(Vandenberghe 2010, sections 3-4).
"""

from __future__ import annotations

import math

from ..core.lazy import torch_module as _torch
from .cone_rows import RowOps
from .kkt import KKTSolver
from .soc import NTScaling, jordan_divide, jordan_product, lin_step, nt_scaling, soc_step
from .subproblem import IPMState, Subproblem


# -- residuals --------------------------------------------------------------------
def residuals(prob: Subproblem, st: IPMState, A: RowOps) -> dict:
    r"""Residuals of an iterate: dual :math:`r_{d,t} = \beta - z_{soc,0}`,
    :math:`r_{d,v} = M^\top g - \pi\circ z_{soc,1:} - A^\top z_{lin}` (g the loss gradient,
    hinge: :math:`-y\circ z_{h,1}`), :math:`r_{d,a} = F^\top g`; primal
    :math:`r_p = Gx - s` per cone; the primal objective and the loss Hessian diagonal."""
    torch = _torch()
    blocks = prob.blocks
    pen = blocks.pen
    yhat = prob.predict(st.v, st.a)
    fval, grad, hess = prob.loss.torch_terms(yhat, prob.y)
    g = grad - (prob.y * st.z_h[1] if prob.hinge else 0.0)
    rd_t = prob.beta - st.z_soc[:, 0]
    Mg = blocks.adjoint(g)
    rd_v = Mg - pen * st.z_soc[:, 1:]
    # the dual residual is a difference of terms this large (its roundoff floor)
    rd_scale = max(prob.beta, abs_max(Mg))
    if A.width:
        Az = A.adjoint(st.z_lin * A.mask)
        rd_v = rd_v - Az
        rd_scale = max(rd_scale, abs_max(Az))
    rd_a = prob.F.T @ g if prob.q else None
    rd_xi = (1.0 - st.z_h[0] - st.z_h[1]) if prob.hinge else None
    rp_soc = torch.cat([st.t[:, None], st.v * pen], 1) - st.s_soc
    rp_lin = (A.apply(st.v) - st.s_lin) * A.mask
    rp_h = None
    if prob.hinge:
        rp_h = torch.stack([st.xi - st.s_h[0], st.xi + prob.y * yhat - 1.0 - st.s_h[1]])
    pobj = fval + prob.beta * float(st.t.sum()) + (float(st.xi.sum()) if prob.hinge else 0.0)
    return dict(yhat=yhat, hess=hess, rd_t=rd_t, rd_v=rd_v, rd_a=rd_a, rd_xi=rd_xi,
                rp_soc=rp_soc, rp_lin=rp_lin, rp_h=rp_h, pobj=pobj, rd_scale=rd_scale)


# -- one Newton solve -------------------------------------------------------------
def scalings(prob: Subproblem, st: IPMState, A: RowOps, hess, regularization: float):
    r"""NT scalings and the stable pieces of :math:`B_b = (E\Theta E)_b + A_b^\top
    \Theta_{lin} A_b`: with :math:`\Theta = W^{-2} = \eta^{-2}\bar W^{-2}`,
    :math:`\Theta_{tt} = (2w_0^2 - 1)/\eta^2`, :math:`\Theta_{vt} = -2w_0w_1/\eta^2`,
    and the Schur complement of t is :math:`[(W^2)_{vv}]^{-1} =
    \eta^{-2}(I + 2w_1w_1^\top)^{-1} = \eta^{-2}\big((I - \hat w\hat w^\top) +
    \hat w\hat w^\top/(1 + 2\|w_1\|^2)\big)` -- no cancellation near the boundary."""
    torch = _torch()
    blocks = prob.blocks
    d = blocks.dim
    dt_, dev = blocks.Xt.dtype, blocks.Xt.device
    eta, w = nt_scaling(st.s_soc, st.z_soc)
    W = NTScaling(eta, w)
    lam_soc = W.apply(st.z_soc)
    w0, w1 = w[:, 0], w[:, 1:]
    ie2 = 1.0 / eta ** 2
    pen = blocks.pen
    btt = (2 * w0 ** 2 - 1) * ie2
    bvt = -2 * (w0 * ie2)[:, None] * w1 * pen
    nw2 = (w1 ** 2).sum(1)
    what = w1 / torch.sqrt(torch.clamp(nw2, min=1e-300))[:, None]
    eye = torch.eye(d, dtype=dt_, device=dev)
    P = eye[None] - what[:, :, None] * what[:, None, :] * (1 - 1 / (1 + 2 * nw2))[:, None, None]
    Bs = P * ie2[:, None, None] * pen[:, :, None] * pen[:, None, :]
    rm = blocks.rmask
    sl = torch.where(rm, st.s_lin, torch.ones_like(st.s_lin))
    zl = torch.where(rm, st.z_lin, torch.ones_like(st.z_lin))
    th_lin = zl / sl * A.mask
    if A.width:
        Bs = Bs + A.gram(th_lin)
    scale = torch.clamp(Bs.diagonal(dim1=1, dim2=2).abs().amax(1), min=1e-300)
    Bs = Bs + (regularization * scale)[:, None, None] * eye
    H = hess.clone()
    th_h = lam_h = None
    if prob.hinge:
        th_h = st.z_h / st.s_h
        H = H + th_h[0] * th_h[1] / (th_h[0] + th_h[1])
        lam_h = torch.sqrt(st.s_h * st.z_h)
    sc = dict(W=W, lam_soc=lam_soc, th_lin=th_lin, lam_lin=torch.sqrt(sl * zl),
              rl=torch.sqrt(zl / sl) * A.mask, th_h=th_h, lam_h=lam_h,
              rh=torch.sqrt(st.z_h / st.s_h) if prob.hinge else None)
    return (btt, bvt, Bs), H, sc


def direction(prob: Subproblem, st: IPMState, A: RowOps, res, sc: dict, kkt: KKTSolver,
              rc_soc, rc_lin, rc_h, refine_reduced: int = 2) -> dict:
    r"""Newton direction for residuals ``res`` (None: all zero; entries may be None)
    and complementarity right-hand sides ``rc`` (None: zero) in the scaled space
    :math:`\lambda\circ(\tilde{ds} + \tilde{dz}) = rc`,
    :math:`\tilde{ds} = W^{-1}\Delta s`, :math:`\tilde{dz} = W\Delta z`.  Zero parts
    are skipped (the combined direction and the correctors have no residuals)."""
    torch = _torch()
    blocks = prob.blocks
    y = prob.y
    rm = A.mask
    Wi, rl, pen = sc["W"].inverse, sc["rl"], blocks.pen
    res = res or {}
    rp_soc, rp_lin, rd_t, rd_v = (res.get(k) for k in ("rp_soc", "rp_lin", "rd_t", "rd_v"))
    # u = W^{-1}(q - W^{-1} r_p) with q = lambda \ rc
    q_soc = None if rc_soc is None else jordan_divide(sc["lam_soc"], rc_soc)
    w_soc = q_soc if rp_soc is None else (-Wi(rp_soc) if q_soc is None else q_soc - Wi(rp_soc))
    u_soc = None if w_soc is None else Wi(w_soc)
    q_lin = None if rc_lin is None else rc_lin / sc["lam_lin"] * rm
    w_lin = q_lin if rp_lin is None else (-rl * rp_lin if q_lin is None else q_lin - rl * rp_lin)
    rt = torch.zeros_like(st.t) if u_soc is None else u_soc[:, 0].clone()
    rv = torch.zeros_like(st.v) if u_soc is None else pen * u_soc[:, 1:]
    if rd_t is not None:
        rt -= rd_t
    if rd_v is not None:
        rv -= rd_v
    if A.width and w_lin is not None:
        rv += A.adjoint(rl * w_lin)
    ra = None
    if prob.q:
        ra = -res["rd_a"] if res.get("rd_a") is not None else torch.zeros(prob.q, dtype=rt.dtype,
                                                                           device=rt.device)
    h = None
    if prob.hinge:
        h = _hinge_elimination(prob, sc, res, rc_h)
        rv = rv + blocks.adjoint(h["extra"])
        if prob.q:
            ra = ra + prob.F.T @ h["extra"]
    dt, dv, da = _solve_refined(kkt, prob, rt, rv, ra,
                                refine_reduced if (kkt.mode == "n" and prob.hinge) else 0)
    # scaled slack and dual directions
    gs_soc = torch.cat([dt[:, None], dv * pen], 1)
    if rp_soc is not None:
        gs_soc += rp_soc
    dst_soc = Wi(gs_soc)
    dzt_soc = -dst_soc if q_soc is None else q_soc - dst_soc
    gs_lin = A.apply(dv) if A.width else torch.zeros_like(st.s_lin)
    if rp_lin is not None:
        gs_lin += rp_lin
    gs_lin *= rm
    dst_lin = rl * gs_lin
    dzt_lin = -dst_lin if q_lin is None else (q_lin - dst_lin) * rm
    out = dict(t=dt, v=dv, a=da, xi=None, s_soc=gs_soc, z_soc=Wi(dzt_soc),
               s_lin=gs_lin, z_lin=rl * dzt_lin, s_h=None, z_h=None,
               dst_soc=dst_soc, dzt_soc=dzt_soc, dst_lin=dst_lin, dzt_lin=dzt_lin)
    if h is not None:
        dyhat = blocks.predict(dv)
        if prob.q:
            dyhat = dyhat + prob.F @ da
        ydy = y * dyhat
        th0, th1, tot_h, rp0, rp1, base = (h[k] for k in ("th0", "th1", "tot", "rp0", "rp1", "base"))
        gs_h = torch.stack([base + th1 / tot_h * (rp0 - rp1 - ydy),
                            base + th0 / tot_h * (ydy + rp1 - rp0)])
        dst_h = sc["rh"] * gs_h
        dzt_h = h["q"] - dst_h
        out.update(xi=gs_h[0] - rp0, s_h=gs_h, z_h=sc["rh"] * dzt_h, dst_h=dst_h, dzt_h=dzt_h)
    return out


def _hinge_elimination(prob: Subproblem, sc: dict, res: dict, rc_h) -> dict:
    r"""The hinge loss's slack :math:`\xi` eliminated: :math:`(\theta_0 + \theta_1)d\xi +
    \theta_1 y\,d\hat y = r_\xi`, written so that no two large (:math:`\theta`-scaled) terms
    are subtracted; the right-hand side's extra term and what the back-substitution needs."""
    torch = _torch()
    y = prob.y
    rd_xi = res.get("rd_xi") if res.get("rd_xi") is not None else torch.zeros_like(y)
    rp_h = res.get("rp_h") if res.get("rp_h") is not None else torch.zeros_like(sc["lam_h"])
    th0, th1 = sc["th_h"][0], sc["th_h"][1]
    tot = th0 + th1
    q = (rc_h / sc["lam_h"]) if rc_h is not None else torch.zeros_like(sc["lam_h"])
    aq = sc["rh"] * q  # a_i q_i
    rp0, rp1 = rp_h[0], rp_h[1]
    harm = th0 * th1 / tot
    extra = y * ((th0 * aq[1] - th1 * aq[0] + th1 * rd_xi) / tot - harm * (rp1 - rp0))
    return dict(extra=extra, base=(-rd_xi + aq[0] + aq[1]) / tot, q=q, rp0=rp0, rp1=rp1,
                th0=th0, th1=th1, tot=tot)


def _solve_refined(kkt: KKTSolver, prob: Subproblem, rt, rv, ra, refine: int):
    """``kkt.solve`` plus up to ``refine`` steps of iterative refinement (while they help)."""
    dt, dv, da = kkt.solve(rt, rv, ra)
    last = math.inf
    for _ in range(refine):
        kt, kv, ka = kkt.apply(dt, dv, da)
        et, ev = rt - kt, rv - kv
        ea = (ra - ka) if prob.q else None
        err = abs_max(et, ev, ea)
        if err <= 1e-15 * max(abs_max(rt, rv, ra), 1e-300) or not err < 0.5 * last:
            break  # converged, or refinement stopped helping
        last = err
        ct, cv, ca = kkt.solve(et, ev, ea)
        dt, dv = dt + ct, dv + cv
        if prob.q:
            da = da + ca
    return dt, dv, da


def dual_equation(prob: Subproblem, A: RowOps, res: dict, dd: dict) -> dict:
    r"""Residual of the linearized dual equation
    :math:`r_d + \nabla^2 f\,\Delta x - G^\top\Delta z` of a direction, per variable."""
    blocks = prob.blocks
    dy = blocks.predict(dd["v"])
    if prob.q:
        dy = dy + prob.F @ dd["a"]
    g = res["hess"] * dy
    if prob.hinge:
        g = g - prob.y * dd["z_h"][1]
    e_t = res["rd_t"] - dd["z_soc"][:, 0]
    e_v = res["rd_v"] + blocks.adjoint(g) - blocks.pen * dd["z_soc"][:, 1:]
    if A.width:
        e_v = e_v - A.adjoint(dd["z_lin"] * A.mask)
    e_a = (res["rd_a"] + prob.F.T @ g) if prob.q else None
    e_xi = (res["rd_xi"] - dd["z_h"][0] - dd["z_h"][1]) if prob.hinge else None
    return dict(rd_t=e_t, rd_v=e_v, rd_a=e_a, rd_xi=e_xi)


def max_step(prob: Subproblem, sc: dict, dd: dict) -> float:
    """Largest step keeping the scaled iterates lambda + a*ds~, lambda + a*dz~ in the
    cones (equivalent to s + a ds, z + a dz, since W maps the cone onto itself)."""
    torch = _torch()
    a = min(soc_step(sc["lam_soc"], torch.stack([dd["dst_soc"], dd["dzt_soc"]])),
            lin_step(sc["lam_lin"], torch.stack([dd["dst_lin"], dd["dzt_lin"]])))
    if prob.hinge:
        a = min(a, lin_step(sc["lam_h"], torch.stack([dd["dst_h"], dd["dzt_h"]])))
    return a


def add_directions(d1, d2):
    """Sum of two directions (dicts of tensors, None entries kept)."""
    return {k: (None if d1[k] is None else d1[k] + d2[k]) for k in d1}


def _clip_target(p, lo, hi):
    """Gondzio's correction of a product p towards [lo, hi], large reductions capped."""
    torch = _torch()
    v = torch.clamp(p, min=lo, max=hi) - p
    return torch.clamp(v, min=-hi)


def gondzio_rhs(sc, dd, target, mu_t, rmask, hinge, beta_min=0.1, beta_max=10.0):
    r"""Complementarity right-hand sides of a centrality corrector: the products at the
    trial step, :math:`(\lambda + \tilde\alpha\tilde{ds})\circ(\lambda + \tilde\alpha\tilde{dz})`,
    moved into :math:`[\beta_{min}\mu_t, \beta_{max}\mu_t]` (for a second-order cone,
    its two spectral values)."""
    torch = _torch()
    lo, hi = beta_min * mu_t, beta_max * mu_t
    lam = sc["lam_soc"]
    p = jordan_product(lam + target * dd["dst_soc"], lam + target * dd["dzt_soc"])
    n1 = torch.linalg.norm(p[:, 1:], dim=1)
    u = p[:, 1:] / n1.clamp(min=1e-300)[:, None]
    l1, l2 = p[:, 0] - n1, p[:, 0] + n1
    c1, c2 = _clip_target(l1, lo, hi), _clip_target(l2, lo, hi)
    v_soc = torch.cat([(0.5 * (c1 + c2))[:, None], (0.5 * (c2 - c1))[:, None] * u], 1)
    ll = sc["lam_lin"]
    pl = (ll + target * dd["dst_lin"]) * (ll + target * dd["dzt_lin"])
    v_lin = _clip_target(pl, lo, hi) * rmask
    v_h = None
    if hinge:
        lh = sc["lam_h"]
        v_h = _clip_target((lh + target * dd["dst_h"]) * (lh + target * dd["dzt_h"]), lo, hi)
    return v_soc, v_lin, v_h


def abs_max(*tensors) -> float:
    """Largest absolute entry over tensors (None and empty ones skipped)."""
    return max((float(x.abs().max()) for x in tensors if x is not None and x.numel()), default=0.0)


def step_state(st: IPMState, dd, alpha) -> IPMState:
    r"""The iterate :math:`x + \alpha\Delta x` (every primal, slack and dual part)."""
    def upd(x, dx):
        return None if x is None else (x if dx is None else x + alpha * dx)

    return IPMState(t=upd(st.t, dd["t"]), v=upd(st.v, dd["v"]), a=upd(st.a, dd["a"]),
                    xi=upd(st.xi, dd["xi"]), s_soc=upd(st.s_soc, dd["s_soc"]),
                    z_soc=upd(st.z_soc, dd["z_soc"]), s_lin=upd(st.s_lin, dd["s_lin"]),
                    z_lin=upd(st.z_lin, dd["z_lin"]), s_h=upd(st.s_h, dd["s_h"]),
                    z_h=upd(st.z_h, dd["z_h"]))
