r"""Exact leaves of the branch and bound: nodes on which :math:`f_\sigma` is concave.

A node with no free positive row left (every row with :math:`\omega_i > 0` is decided or
sign-constrained) has, on its region :math:`K = \{v : Av \ge 0\}` (the simplicial cone's
facets :math:`E^{-1}` and the sign constraints :math:`\phi_in_i`),

.. math:: f_\sigma(v) = c_0^\top v - \sum_{j}|\omega_j|(n_j^\top v)_+,

a concave function, so its maximum over :math:`K \cap \{\|v\| \le 1\}` is a convex
problem with no relaxation gap.  Weak duality with :math:`-(x)_+ \le -t_jx`,
:math:`t_j\in[0,1]`, and the cone support :math:`\max_{v\in K,\|v\|\le1}q^\top v \le
\|q + A^\top\gamma\|` (:math:`\gamma \ge 0`, THEORY A.6) gives

.. math:: \max f_\sigma \le \min_{t\in[0,1]^k,\ \gamma\ge0}\
          \Big\|c_0 - \sum_j t_j|\omega_j|n_j + A^\top\gamma\Big\|,

a bounded-variable least-squares problem (scipy's BVLS), with equality at its solution;
the bound is evaluated at the (clipped) solution, so it holds whatever the solver's
accuracy, and the normalized residual is a feasible maximizer (an attained value).
Without a gap, the search resolves the maximum to any relative tolerance here, where the
linear program's ball cut and tolerance could not.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear

from .bb_nodes import NodeSet, Rows

#: Relative tolerance of the feasibility check of the maximizer.
FEAS_TOL = 1e-10


def concave_leaf(rows: Rows, ns: NodeSet, b: int) -> tuple[float, float, np.ndarray]:
    r"""(upper, lower, v) for node b of ``ns`` (module docstring): a proven upper bound of
    the node's maximum, a value attained by the unit direction v (0 and v = 0 if the
    maximizer fails the feasibility check)."""
    sl = slice(ns.ptr[b], ns.ptr[b + 1])
    idx, fix = ns.rows[sl], ns.fix[sl]
    omega = ns.sign[b] * rows.w[idx]
    normals = rows.N[idx]
    con = fix != 0
    c0 = ns.c[b] + (omega * (fix > 0)) @ normals
    A = np.vstack([np.linalg.inv(ns.E[b]), fix[con, None] * normals[con]])
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    hinge = ~con & (omega < 0)
    F = np.hstack([-(np.abs(omega[hinge])[:, None] * normals[hinge]).T, A.T])
    k = int(hinge.sum())
    lo = np.zeros(F.shape[1])
    hi = np.concatenate([np.ones(k), np.full(A.shape[0], np.inf)])
    x = np.clip(lsq_linear(F, -c0, bounds=(lo, hi), method="bvls").x, lo, hi)
    res = F @ x + c0
    upper = float(np.linalg.norm(res))
    if upper <= 0.0:
        return 0.0, 0.0, np.zeros_like(c0)
    v = res / upper
    if np.any(A @ v < -FEAS_TOL):
        return upper, 0.0, np.zeros_like(c0)
    value = float(c0 @ v + omega[hinge] @ np.maximum(normals[hinge] @ v, 0.0))
    return upper, max(value, 0.0), v


def leaf_bounds(rows: Rows, ns: NodeSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, lower, v) per node of ``ns`` (all concave leaves)."""
    out = [concave_leaf(rows, ns, b) for b in range(ns.size)]
    return (np.array([o[0] for o in out]), np.array([o[1] for o in out]),
            np.array([o[2] for o in out]).reshape(ns.size, -1))
