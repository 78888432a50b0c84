r"""Warm start of the interior-point method on a grown working set of blocks."""

from __future__ import annotations

import math

from ..core.lazy import torch_module as _torch
from .blocks import BlockSet
from .subproblem import IPMState, Subproblem, complementarity

#: Centring of a warm start, relative to sqrt(mu) of the previous iterate (:func:`warm_state`).
WARM_BUMP = 3.0


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

