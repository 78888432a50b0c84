r"""Second-order-cone algebra for the interior-point method, batched over blocks.

For a cone :math:`\mathcal Q = \{(x_0, x_1): x_0 \ge \|x_1\|\}` the Jordan product is
:math:`u\circ v = (u^\top v,\ u_0v_1 + v_0u_1)` with identity :math:`e = (1, 0)`;
the Nesterov-Todd scaling :math:`W` maps the cone onto itself with :math:`Wz = W^{-1}s`
(Vandenberghe, "The CVXOPT linear and quadratic cone program solvers", 2010, section 4).
"""

from __future__ import annotations

import math

from ..core.lazy import torch_module as _torch


def nt_scaling(s, z):
    r"""Nesterov-Todd scaling point of SOC pairs: returns (eta, w) with
    :math:`W = \eta\begin{pmatrix} w_0 & w_1^\top\\ w_1 & I + w_1w_1^\top/(1+w_0)\end{pmatrix}`,
    :math:`W z = W^{-1}s = \lambda` (CVXOPT notes, section 4.3)."""
    torch = _torch()

    def jnorm(x):
        return torch.sqrt(torch.clamp(x[:, 0] ** 2 - (x[:, 1:] ** 2).sum(1), min=1e-300))

    ns, nz = jnorm(s), jnorm(z)
    sb, zb = s / ns[:, None], z / nz[:, None]
    gam = torch.sqrt(torch.clamp((1 + (sb * zb).sum(1)) / 2, min=1e-300))
    w = torch.cat([sb[:, :1] + zb[:, :1], sb[:, 1:] - zb[:, 1:]], 1) / (2 * gam[:, None])
    return torch.sqrt(ns / nz), w


class NTScaling:
    r"""The NT scaling :math:`W` of :func:`nt_scaling`, applied without forming it:
    :math:`Wx = \eta\,(w_0x_0 + w_1^\top x_1,\ x_1 + (x_0 + c)w_1)` and
    :math:`W^{-1}x = \eta^{-1}(w_0x_0 - w_1^\top x_1,\ x_1 + (c - x_0)w_1)`,
    :math:`c = w_1^\top x_1/(1 + w_0)`: O(mk) per product where the dense (m, k, k)
    matrices cost O(mk^2) and stream twice the memory."""

    def __init__(self, eta, w):
        self.eta, self.w0, self.w1 = eta[:, None], w[:, :1], w[:, 1:]
        self.inv1w0 = 1.0 / (1.0 + self.w0)

    def apply(self, x, inverse: bool = False):
        """:math:`Wx` (or :math:`W^{-1}x`) for x of shape (m, k)."""
        torch = _torch()
        x0, x1 = x[:, :1], x[:, 1:]
        p = (self.w1 * x1).sum(1, keepdim=True)
        if inverse:
            out = torch.cat([self.w0 * x0 - p, x1 + (p * self.inv1w0 - x0) * self.w1], 1)
            return out / self.eta
        out = torch.cat([self.w0 * x0 + p, x1 + (p * self.inv1w0 + x0) * self.w1], 1)
        return out * self.eta

    def inverse(self, x):
        """:math:`W^{-1}x`."""
        return self.apply(x, inverse=True)


def jordan_product(u, v):
    r"""Jordan product :math:`u\circ v = (u^\top v,\ u_0v_1 + v_0u_1)`."""
    torch = _torch()
    return torch.cat([(u * v).sum(1, keepdim=True), u[:, :1] * v[:, 1:] + v[:, :1] * u[:, 1:]], 1)


def jordan_divide(lam, r):
    r"""x with :math:`\lambda\circ x = r`."""
    torch = _torch()
    det = lam[:, 0] ** 2 - (lam[:, 1:] ** 2).sum(1)
    x0 = (lam[:, 0] * r[:, 0] - (lam[:, 1:] * r[:, 1:]).sum(1)) / det
    x1 = (r[:, 1:] - x0[:, None] * lam[:, 1:]) / lam[:, :1]
    return torch.cat([x0[:, None], x1], 1)


def soc_step(x, d):
    r"""Largest :math:`\alpha` with :math:`x + \alpha d_k` in the SOC for every cone and
    every direction :math:`d_k` (x interior, shape (m, k); d of shape (..., m, k)).

    With :math:`\bar x = x/\|x\|_J` and the Lorentz transformation L mapping
    :math:`\bar x` to :math:`e = (1, 0)`, :math:`\rho = Ld/\|x\|_J` and
    :math:`\alpha = 1/\max(0, \|\rho_1\| - \rho_0)` (CVXOPT notes, section 4.3)."""
    torch = _torch()
    if x.shape[0] == 0:
        return math.inf
    nx = torch.sqrt(torch.clamp(x[:, 0] ** 2 - (x[:, 1:] ** 2).sum(1), min=1e-300))
    xb = x / nx[:, None]
    x0, x1 = xb[:, 0], xb[:, 1:]
    d0, d1 = d[..., 0], d[..., 1:]
    x1d1 = (x1 * d1).sum(-1)
    rho0 = x0 * d0 - x1d1
    rho1 = d1 + x1 * (x1d1 / (1.0 + x0) - d0)[..., None]
    worst = float(((torch.linalg.vector_norm(rho1, dim=-1) - rho0) / nx).max())
    return 1.0 / worst if worst > 0 else math.inf


def lin_step(s, d):
    """Largest alpha with s + alpha d_k >= 0 (s > 0) for every direction d_k (d of shape
    (..., *s.shape); entries with d = 0, e.g. masked ones, never bind)."""
    if s.numel() == 0:
        return math.inf
    worst = float((-d / s).max())
    return 1.0 / worst if worst > 0 else math.inf

