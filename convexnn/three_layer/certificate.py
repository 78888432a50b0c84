r"""The certificate of a parallel three-layer network (THEORY E.1) by weak duality: with :math:`\lambda = -\nabla\ell(\hat y)` and

.. math::  s = \max_g \max_{\pm}\ \max\{\pm\lambda^\top D_{2,g}h_g(z) : z \text{ feasible for } g,\ \rho(z) \le 1\},

:math:`\lambda_s = \lambda\min(1, \beta/s)` is dual feasible and
:math:`\mathrm{LB} = -\ell^*(-\lambda_s) \le p^\star` (one small SOCP per group and sign;
exact only when the groups are exhaustive, i.e. tiny n).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_X_y
from ..duality.certificate import Certificate
from ..duality.cones import cone_support
from ..exceptions import SolverError
from ..networks.parallel import ParallelNetwork
from ..solvers.cvxpy_backend import solve_problem
from .groups import Groups, cone_matrix, lifted_matrix

CERT_TOL = 1e-6


def parallel_certificate(lower: float, upper: float, s: float, beta: float, *, proven: bool,
                         tol: float, n_groups: int, t0: float, loss: str,
                         method: str = "exact groups") -> Certificate:
    r"""The :class:`~convexnn.duality.certificate.Certificate` of a parallel network: weak
    duality :math:`\mathrm{LB} \le p^\star \le P(\theta)`; ``proven``: s bounds the dual
    norm over every sub-network (exhaustive groups, or a relaxation)."""
    gap = upper - lower
    rel = gap / max(1.0, abs(upper))
    return Certificate(lower_bound=lower, upper_bound=upper, gap=gap, relative_gap=rel,
                       certified=bool(proven and rel <= tol), exhaustive=bool(proven), s=s,
                       s_found=s, beta=beta, scale=min(1.0, beta / s) if s > 0 else 1.0,
                       n_patterns_checked=n_groups, time=time.perf_counter() - t0, method=method,
                       loss=loss, tol=tol)


#: Kept for old code: a parallel network's certificate is a Certificate.
ParallelCertificate = Certificate


def group_supports(X: np.ndarray, lam: np.ndarray, groups: Groups, path: str) -> np.ndarray:
    r""":math:`\max\{\pm\lambda^\top D_{2,g}h_g : z \text{ feasible},\ \rho(z)\le1\}` for every
    group, shape (G, 2) (upper bounds: the cone-support dual for l2, a conic solve for l1)."""
    G = groups.n_groups
    out = np.zeros((G, 2))
    if G == 0:
        return out
    if path == "l2":
        for g in range(G):
            M = lifted_matrix(X, groups.D1, groups.pattern[g], groups.sign[g])
            A = np.vstack([cone_matrix(X, groups.D1, groups.pattern[g]),
                           (2.0 * groups.D2[g] - 1.0)[:, None] * M])
            c = M.T @ (groups.D2[g] * lam)
            for k, sgn in enumerate((1.0, -1.0)):
                out[g, k] = cone_support(A, sgn * c)[1]
        return out
    return _l1_supports(X, lam, groups)


def _l1_supports(X: np.ndarray, lam: np.ndarray, groups: Groups) -> np.ndarray:
    import cvxpy as cp

    n, d = X.shape
    m = groups.blocks
    pat, sgn = groups.pattern[0], groups.sign[0]
    z = cp.Variable((m, d))
    S2 = cp.Parameter(n)
    C = cp.Parameter((m, d))
    Dm = groups.D1[:, pat].astype(float)
    XZ = X @ z.T
    h = cp.sum(cp.multiply(Dm * sgn, XZ), axis=1)
    prob = cp.Problem(cp.Maximize(cp.sum(cp.multiply(C, z))),
                      [cp.multiply(2.0 * Dm - 1.0, XZ) >= 0, cp.multiply(S2, h) >= 0,
                       cp.sum(cp.norm(z, 2, axis=1)) <= 1])
    out = np.zeros((groups.n_groups, 2))
    for g in range(groups.n_groups):
        S2.value = 2.0 * groups.D2[g] - 1.0
        cg = (Dm * sgn * (groups.D2[g] * lam)[:, None]).T @ X  # (m, d): d/dz_j of lam^T D2 h
        for k, s in enumerate((1.0, -1.0)):
            C.value = s * cg
            res = solve_problem(prob, solver="clarabel", what="the certificate's group SOCP")
            if not res.ok:
                raise SolverError(f"certificate SOCP returned {res.solver_status!r}")
            # dual value is an upper bound up to solver tolerance; pad it
            out[g, k] = max(res.value, 0.0) * (1 + 1e-7) + 1e-12
    return out


def certify_parallel(network: ParallelNetwork, X: Any, y: Any, *, beta: float,
                     groups: Groups, loss: str | Loss = "squared",
                     tol: float = CERT_TOL) -> ParallelCertificate:
    r"""Weak-duality certificate of any parallel three-layer network (see module docstring).

    ``groups`` must be those of the program whose optimum is bounded (for ``path="l2"``
    sub-networks of first-layer width at most ``groups.blocks``).
    """
    t0 = time.perf_counter()
    X, y = check_X_y(X, y)
    loss = get_loss(loss)
    path = network.path
    if path == "l2" and network.width > groups.blocks:
        nz = int((np.abs(network.c) > 0).sum(axis=1).max(initial=0))
        if nz > groups.blocks:
            raise ValueError(f"network has first-layer width {nz} > m1={groups.blocks} of the groups")
    yhat = network.predict(X)
    P = float(loss.value(yhat, y) + beta * network.penalty())
    lam = -loss.gradient(yhat, y)
    sup = group_supports(X, lam, groups, path)
    s = float(sup.max(initial=0.0))
    scale = 1.0 if s <= beta else beta / s
    lb = float(-loss.conjugate(-scale * lam, y))
    return parallel_certificate(lb, P, s, beta, proven=groups.exhaustive, tol=tol,
                                n_groups=groups.n_groups, t0=t0, loss=loss.name)


__all__ = ["certify_parallel", "ParallelCertificate", "group_supports", "parallel_certificate"]
