r"""The node linear program in its dual form, for nodes with more rays than constraints.

The dual of the node LP of :mod:`convexnn.duality.node_lp` is

.. math::
    \min_{t,\zeta}\ h^\top\zeta \quad\text{s.t.}\quad
    W - V^\top t + R^\top\zeta \le 0,\quad 0 \le t \le c,\quad \zeta \ge 0,

one inequality per ray: its Newton systems have the order k + q of (t, zeta) instead
of the number M of rays, which is smaller where a
node's region has many extreme rays.  The iterations are Mehrotra's predictor-corrector
method for :math:`\min f^\top x` s.t. :math:`Gx \le g` from a strictly feasible start, so
every iterate is feasible and its objective is a valid bound; the multipliers of the ray
inequalities are the LP's primal point a.
"""

from __future__ import annotations

import numpy as np

from .node_lp_bound import STEP, batched_inverse, certified_bound, lp_value
from .node_lp_bound import max_step as _max_step
from .node_lp_bound import mv as _mv


class DualBatch:
    """Iterates (x, slacks s, multipliers z) of the dual form for a batch; G x <= g with
    row blocks [rays (M), t <= c (k), -t <= 0 (k), -zeta <= 0 (q)]."""

    def __init__(self, W, R, h, V, c, x, z):
        self.W, self.R, self.h, self.V, self.c = W, R, h, V, c
        B, k, M = V.shape
        q = R.shape[1]
        self.k, self.q, self.M = k, q, M
        self.GA = np.concatenate([-V.transpose(0, 2, 1), R.transpose(0, 2, 1)], axis=2)
        self.gA = -W
        self.f = np.concatenate([np.zeros((B, k)), h], axis=1)
        self.x, self.z = x, z

    @classmethod
    def start(cls, W, R, h, V, c) -> DualBatch:
        B, k, M = V.shape
        q = R.shape[1]
        t, zeta = 0.5 * c, np.full((B, q), 1e-2)
        w = W - _mv(V.transpose(0, 2, 1), t) + _mv(R.transpose(0, 2, 1), zeta)
        # strictly feasible: the first cut's multiplier covers every ray (R_0 < 0)
        zeta[:, 0] += np.maximum((w / -R[:, 0, :]).max(axis=1), 0.0) + 1.0
        x = np.concatenate([t, zeta], axis=1)
        z = np.ones((B, M + 2 * k + q))
        return cls(W, R, h, V, c, x, z)

    def take(self, idx) -> DualBatch:
        return DualBatch(self.W[idx], self.R[idx], self.h[idx], self.V[idx], self.c[idx],
                         self.x[idx], self.z[idx])

    def slack(self, x):
        k = self.k
        t, zeta = x[:, :k], x[:, k:]
        return np.concatenate([self.gA - _mv(self.GA, x), self.c - t, t, zeta], axis=1)

    def gt(self, y):
        """G^T y for y (B, M + 2k + q)."""
        k, M = self.k, self.M
        out = _mv(self.GA.transpose(0, 2, 1), y[:, :M])
        out[:, :k] += y[:, M:M + k] - y[:, M + k:M + 2 * k]
        out[:, k:] -= y[:, M + 2 * k:]
        return out

    def g(self, dx):
        """G dx."""
        k = self.k
        return np.concatenate([_mv(self.GA, dx), dx[:, :k], -dx[:, :k], -dx[:, k:]], axis=1)

    @property
    def a(self):
        """The LP point: the ray multipliers, scaled into the cuts (h + R a >= 0)."""
        a = np.maximum(self.z[:, :self.M], 0.0)
        cut = self.h > 0
        load = np.where(cut, -_mv(self.R, a) / np.where(cut, self.h, 1.0), 0.0).max(axis=1)
        return a / np.maximum(load, 1.0)[:, None]

    def t_ratio(self):
        return np.clip(self.x[:, :self.k] / self.c, 0.0, 1.0)

    def bounds(self):
        k = self.k
        ub = certified_bound(self.W, self.R, self.h, self.V, self.c, self.x[:, :k], self.x[:, k:])
        a = self.a
        feas = (self.h + _mv(self.R, a) >= 0).all(axis=1)
        val = np.where(feas, lp_value(self.W, self.V, self.c, a), -np.inf)
        return np.where(np.isfinite(ub), ub, np.inf), val

    def finite(self):
        return np.isfinite(self.x).all(axis=1) & np.isfinite(self.z).all(axis=1)

    def iterate(self) -> None:
        """One predictor-corrector step (the start is strictly feasible, so the primal
        residual stays 0)."""
        x, z = self.x, self.z
        s = self.slack(x)
        mu = np.einsum("bi,bi->b", s, z) / s.shape[1]
        rd = self.f + self.gt(z)
        d = z / s
        n = x.shape[1]
        H = np.matmul(self.GA.transpose(0, 2, 1) * d[:, None, :self.M], self.GA)
        k, M = self.k, self.M
        diag = np.concatenate([d[:, M:M + k] + d[:, M + k:M + 2 * k], d[:, M + 2 * k:]], axis=1)
        H[:, np.arange(n), np.arange(n)] += diag
        Hinv = batched_inverse(H)

        def newton(rc):
            dx = _mv(Hinv, -rd - self.gt(rc / s))
            ds = -self.g(dx)
            return dx, ds, rc / s + d * self.g(dx)

        dx, ds, dz = newton(-s * z)
        ap, ad = _max_step(s, ds), _max_step(z, dz)
        mu_aff = np.einsum("bi,bi->b", s + ap[:, None] * ds, z + ad[:, None] * dz) / s.shape[1]
        sigma = np.clip(mu_aff / mu, 0.0, 1.0) ** 3
        dx, ds, dz = newton((sigma * mu)[:, None] - s * z - ds * dz)
        ap, ad = STEP * _max_step(s, ds), STEP * _max_step(z, dz)
        self.x = x + ap[:, None] * dx
        self.z = z + ad[:, None] * dz

