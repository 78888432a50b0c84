r"""The two-layer programs as blocks for the working-set solver (apply and invert).

*Apply*: every (pattern, sign) of C-ReLU -- the all-on pair as one linear block under a
free bias -- and every pattern of C-GReLU becomes a block b with prediction
:math:`M_bv_b = \sigma_bD_{i_b}\tilde Xv_b`, group norm :math:`\|v_{b,\pi}\|` and (C-ReLU)
cone rows :math:`(2D_{i_b} - I)\tilde Xv_b \ge 0` (:class:`convexnn.solvers.blocks.BlockSet`).
*Invert*: block variables back to the program's :math:`(V, W, w_0, c)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.lazy import torch_module as _torch
from ..core.solution import ConvexSolution

if TYPE_CHECKING:
    from ..solvers.blocks import BlockSet
    from .program import TwoLayerProgram


def two_layer_blocks(program: TwoLayerProgram, dev) -> BlockSet:
    """Every block of the program: (pattern, sign) for C-ReLU -- the all-on pair as one
    linear block under a free bias -- and one per pattern for C-GReLU."""
    from ..solvers.blocks import BlockSet

    torch = _torch()
    n, dp = program.Xt.shape
    P = program.n_patterns
    D = program.D
    pen = np.zeros(dp)
    pen[program.penalized] = 1.0
    gated = not program.has_cone_rows
    allon = set(np.flatnonzero(D.all(axis=0)).tolist()) if program.variant.free_bias else set()
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


def two_layer_solution(program: TwoLayerProgram, blocks: BlockSet, v, a, Q) -> ConvexSolution:
    r"""Invert: the block variables v (m, d') and free coefficients a (in the orthonormal
    basis Q of F) as the program's (V, W, skip, c)."""
    P, dp = program.n_patterns, blocks.dim
    d = program.X.shape[1]
    v = v.cpu().numpy()
    pat = blocks.pat.cpu().numpy()
    sign = blocks.sign.cpu().numpy()
    linear = blocks.linear.cpu().numpy()
    V = np.zeros((P, dp))
    W = None if not program.has_cone_rows else np.zeros((P, dp))
    skip, c = np.zeros(d), 0.0
    if Q is not None:
        # free terms: F coef = Q a  (F = [X if skip, 1 if constant])
        coef = np.linalg.lstsq(program.free_basis, Q @ a.cpu().numpy(), rcond=None)[0]
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

