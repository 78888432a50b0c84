r"""The node linear program (:mod:`convexnn.duality.node_lp_bound`) in its primal form.

Mehrotra's predictor-corrector method on the inequality form (slacks y, multipliers
z > 0), with the hinge variables s eliminated, so that each step solves one M x M
system per node (M rays): the form of choice when the rays are fewer than the rows.
"""

from __future__ import annotations

import numpy as np

from .node_lp_bound import STEP, batched_inverse, certified_bound, lp_value
from .node_lp_bound import max_step as _max_step
from .node_lp_bound import mv as _mv


class PrimalBatch:
    """Data and iterates of the active nodes.  Blocks of y and z (columns): a (r), the
    rows of (h, R) (q), the hinges s - Va (k), s (k)."""

    def __init__(self, W, R, h, V, c, a, s, yR, z):
        self.W, self.R, self.h, self.V, self.c = W, R, h, V, c
        self.Rt = np.ascontiguousarray(R.transpose(0, 2, 1))
        self.Vt = np.ascontiguousarray(V.transpose(0, 2, 1))
        self.a, self.s, self.yR, self.z = a, s, yR, z
        r, q, k = W.shape[1], R.shape[1], V.shape[1]
        self.cut = np.cumsum([0, r, q, k, k])

    @classmethod
    def start(cls, W, R, h, V, c) -> PrimalBatch:
        B, r = W.shape
        a = np.full((B, r), 0.5) / (r * (-R[:, 0, :]).max(axis=1))[:, None]
        Va = np.matmul(V, a[:, :, None])[:, :, 0]
        s = np.maximum(Va, 0.0) + 0.5 * np.abs(V).max(axis=2, initial=0.0) / r + 1e-3
        yR = np.maximum(h + np.matmul(R, a[:, :, None])[:, :, 0], 1e-2)
        z = np.concatenate([np.ones((B, r + R.shape[1])), 0.5 * c + 1e-3, 0.5 * c + 1e-3], axis=1)
        return cls(W, R, h, V, c, a, s, yR, z)

    def take(self, idx) -> PrimalBatch:
        return PrimalBatch(self.W[idx], self.R[idx], self.h[idx], self.V[idx], self.c[idx],
                      self.a[idx], self.s[idx], self.yR[idx], self.z[idx])

    def blocks(self, x):
        i = self.cut
        return x[:, i[0]:i[1]], x[:, i[1]:i[2]], x[:, i[2]:i[3]], x[:, i[3]:i[4]]

    def bounds(self):
        """(certified bound, LP value at a or -inf where a is not feasible)."""
        _, zR, zh, _ = self.blocks(self.z)
        ub = certified_bound(self.W, self.R, self.h, self.V, self.c, zh, zR)
        feas = ((self.a >= 0).all(axis=1)
                & (self.h + np.matmul(self.R, self.a[:, :, None])[:, :, 0] >= 0).all(axis=1))
        val = np.where(feas, lp_value(self.W, self.V, self.c, self.a), -np.inf)
        return np.where(np.isfinite(ub), ub, np.inf), val

    def t_ratio(self):
        """The hinge multipliers over their costs, in [0, 1]."""
        return np.clip(self.blocks(self.z)[2] / self.c, 0.0, 1.0)

    def finite(self):
        return np.isfinite(self.a).all(axis=1) & np.isfinite(self.z).all(axis=1)

    def iterate(self) -> None:
        iterate(self)


def _normal_solver(bt: PrimalBatch, da_, dR, e):
    r"""A solver of :math:`S x = b`, :math:`S = D_a + R^\top D_RR + V^\top D_eV` (the
    reduced Newton system), by LAPACK's batched inverse (NaN where singular: the caller
    drops those nodes)."""
    M = da_.shape[1]
    S = np.matmul(bt.Rt * dR[:, None, :], bt.R) + np.matmul(bt.Vt * e[:, None, :], bt.V)
    S[:, np.arange(M), np.arange(M)] += da_
    Sinv = batched_inverse(S)
    return lambda rhs: _mv(Sinv, rhs)


def iterate(bt: PrimalBatch) -> None:
    """One predictor-corrector step for every node of the batch (in place)."""
    a, s = bt.a, bt.s
    Va = _mv(bt.V, a)
    y = np.concatenate([a, bt.yR, s - Va, s], axis=1)
    z = bt.z
    za, zR, zh, zs = bt.blocks(z)
    mu = np.einsum("bi,bi->b", y, z) / y.shape[1]
    rp = bt.h + _mv(bt.R, a) - bt.yR  # primal residual of the (h, R) rows
    rda = -bt.W - za - _mv(bt.Rt, zR) + _mv(bt.Vt, zh)
    rds = bt.c - zh - zs
    d = z / y
    da_, dR, dh, ds_ = bt.blocks(d)
    _, _, yh, ys = bt.blocks(y)
    e = 1.0 / (yh / zh + ys / zs)
    solve = _normal_solver(bt, da_, dR, e)
    Hss = dh + ds_

    def newton(rc):
        q = rc / y
        qa, qR, qh, qs = bt.blocks(q)
        gs = qh + qs - rds
        rhs = qa + _mv(bt.Rt, qR - dR * rp) - _mv(bt.Vt, qh) - rda + _mv(bt.Vt, dh * gs / Hss)
        dlt_a = solve(rhs)
        Vda = _mv(bt.V, dlt_a)
        dlt_s = (gs + dh * Vda) / Hss
        dy = np.concatenate([dlt_a, _mv(bt.R, dlt_a) + rp, dlt_s - Vda, dlt_s], axis=1)
        return dlt_a, dlt_s, dy, q - d * dy

    dlt_a, dlt_s, dy, dz = newton(-y * z)
    ap, ad = _max_step(y, dy), _max_step(z, dz)
    mu_aff = np.einsum("bi,bi->b", y + ap[:, None] * dy, z + ad[:, None] * dz) / y.shape[1]
    sigma = np.clip(mu_aff / mu, 0.0, 1.0) ** 3
    dlt_a, dlt_s, dy, dz = newton((sigma * mu)[:, None] - y * z - dy * dz)
    ap, ad = STEP * _max_step(y, dy), STEP * _max_step(z, dz)
    bt.a = a + ap[:, None] * dlt_a
    bt.s = s + ap[:, None] * dlt_s
    bt.yR = bt.yR + ap[:, None] * bt.blocks(dy)[1]
    bt.z = z + ad[:, None] * dz


