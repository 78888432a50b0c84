r"""Pricing of the three-layer dual constraint over sub-networks (THEORY E.1).

The dual constraint of a group and output sign :math:`\sigma` is
:math:`\sigma\lambda^\top(h)_+ \le \beta R` for every sub-network
:math:`h = \sum_j c_j(Xw_j)_+` of path norm R.  This module evaluates it
(:func:`subnetwork_values`), climbs it by the two-level fixed-point ascent
(:func:`ascend_subnetworks`, :func:`price_subnetworks`), computes a group's exact maximum
(:func:`group_support`), and bounds it globally by a relaxation
(:func:`relaxed_dual_norm`, :func:`relaxed_certificate`).  The column-generation loop that
uses them is :mod:`convexnn.three_layer.generation`.
"""

from __future__ import annotations

import time

import numpy as np

from ..core.losses import Loss
from ..duality.cones import cone_support
from ..networks.parallel import ParallelNetwork
from .groups import Groups, cone_matrix, lifted_matrix

PRICING_STEPS = 30
#: Relative tolerance of the branch and bound of the relaxed dual norm.
BB_RTOL = 1e-6


def _normalize(W: np.ndarray, c: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit first-layer rows, c scaled to path norm 1 (zero rows and zero c stay zero)."""
    nw = np.linalg.norm(W, axis=2, keepdims=True)
    W = np.where(nw > 0, W / np.where(nw > 0, nw, 1.0), 0.0)
    c = c * (nw[..., 0] > 0)
    nc = np.abs(c).sum(axis=1, keepdims=True) if path == "l1" else np.linalg.norm(c, axis=1, keepdims=True)
    return W, np.where(nc > 0, c / np.where(nc > 0, nc, 1.0), 0.0)


def subnetwork_values(X: np.ndarray, lam: np.ndarray, W: np.ndarray, c: np.ndarray,
                      path: str) -> np.ndarray:
    r""":math:`\lambda^\top(h)_+ / R` of sub-networks (W (S, m, d), c (S, m)), with
    :math:`h = \sum_j c_j (Xw_j)_+`; 0 for a zero sub-network."""
    pre = np.einsum("nd,smd->smn", X, W)
    h = np.einsum("smn,sm->sn", np.maximum(pre, 0.0), c)
    prod = np.linalg.norm(W, axis=2) * np.abs(c)
    R = prod.sum(axis=1) if path == "l1" else np.linalg.norm(prod, axis=1)
    val = np.maximum(h, 0.0) @ lam
    return np.where(R > 0, val / np.where(R > 0, R, 1.0), 0.0)


def ascend_subnetworks(X: np.ndarray, lam: np.ndarray, W0: np.ndarray, c0: np.ndarray, *,
                       path: str, steps: int = PRICING_STEPS
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Best :math:`\lambda^\top(h)_+/R` found from each start (W0 (S, m, d), c0 (S, m)) by
    the two-level fixed-point ascent of the module docstring; returns (values, W, c) with
    unit rows and path-norm-one c.  The best point seen per start is kept, so a start is
    never made worse."""
    W, c = _normalize(np.array(W0, dtype=float), np.array(c0, dtype=float), path)
    best = np.full(W.shape[0], -np.inf)
    bestW, bestc = W.copy(), c.copy()
    for _ in range(steps + 1):
        pre = np.einsum("nd,smd->smn", X, W)
        A = pre > 0
        h = np.einsum("smn,sm->sn", pre * A, c)
        D2 = h > 0
        val = (h * D2) @ lam  # R = 1 after _normalize
        imp = val > best
        best[imp], bestW[imp], bestc[imp] = val[imp], W[imp], c[imp]
        mu = lam * D2  # (S, n)
        # 1) first layer: the two-layer fixed point for weight sign(c_j) mu
        G = np.einsum("sn,smn,nd->smd", mu, A * np.sign(c)[:, :, None], X)
        gn = np.linalg.norm(G, axis=2, keepdims=True)
        W = np.where(gn > 0, G / np.where(gn > 0, gn, 1.0), W)
        # 2) second layer: c_j = mu^T (X w_j)_+, the gradient of the linearization in c
        a = np.einsum("sn,smn->sm", mu, np.maximum(np.einsum("nd,smd->smn", X, W), 0.0))
        c_new = np.where(np.abs(a).sum(axis=1, keepdims=True) > 0, a, c)
        W, c = _normalize(W, c_new, path)
    return best, bestW, bestc


def price_subnetworks(X: np.ndarray, lam: np.ndarray, W0: np.ndarray, c0: np.ndarray, *,
                      path: str, steps: int = PRICING_STEPS
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both output signs: (values, W, c, sigma), sorted by decreasing value."""
    vp, Wp, cp_ = ascend_subnetworks(X, lam, W0, c0, path=path, steps=steps)
    vm, Wm, cm = ascend_subnetworks(X, -lam, W0, c0, path=path, steps=steps)
    vals = np.concatenate([vp, vm])
    order = np.argsort(-vals, kind="stable")
    sig = np.concatenate([np.ones(vp.size), -np.ones(vm.size)])
    return vals[order], np.concatenate([Wp, Wm])[order], np.concatenate([cp_, cm])[order], sig[order]


def group_support(X: np.ndarray, lam: np.ndarray, groups: Groups, g: int, sigma: float
                  ) -> tuple[float, float]:
    r"""(upper, lower) of :math:`\max\{\sigma\lambda^\top D_2h : z\in C_g,\ \|z\|_2\le1\}`
    for one l2-path group (the cone support, THEORY A.6)."""
    M = lifted_matrix(X, groups.D1, groups.pattern[g], groups.sign[g])
    A = np.vstack([cone_matrix(X, groups.D1, groups.pattern[g]),
                   (2.0 * groups.D2[g] - 1.0)[:, None] * M])
    up, lo, _ = cone_support(A, sigma * (M.T @ (groups.D2[g] * lam)))
    return up, lo


def _combine(a: float, b: float, c: float) -> float:
    r""":math:`\max_{p+q\le1}\min(pa,\ pb + qc)`: b if c <= b, else :math:`ac/(a - b + c)`
    (nondecreasing in a, b, c, so upper bounds in give an upper bound out)."""
    return b if c <= b else a * c / (a - b + c)


def relaxed_dual_norm(X: np.ndarray, lam: np.ndarray, *, path: str, m1: int,
                      time_limit: float = 20.0) -> tuple[float, bool]:
    r"""An upper bound on :math:`\max_{R(\theta)\le1}|\lambda^\top(h_\theta)_+|` over all
    sub-networks; returns (bound, whether every branch-and-bound search completed).

    With :math:`h = P - N`, :math:`P = \sum_{c_j>0}c_j(Xw_j)_+`,
    :math:`N = \sum_{c_j<0}|c_j|(Xw_j)_+`, :math:`p = \sum_{c_j>0}c_j`,
    :math:`q = \sum_{c_j<0}|c_j|` and unit :math:`w_j`:

    .. math::
        \lambda^\top(h)_+ \le \lambda^{+\top}P \le p\,\nu(\lambda^+),\qquad
        \lambda^\top(h)_+ \le \lambda^{+\top}P - \lambda^{-\top}(P - N) \le p\,\nu(\lambda) + q\,\nu(\lambda^-)

    (:math:`0 \le (h)_+ \le P` and :math:`(h)_+ \ge h`), with :math:`p + q \le \kappa`
    (:math:`\kappa = 1` for the l1 path, :math:`\sqrt{m_1}` for l2), so
    :math:`s \le \kappa\max(F(\nu(\lambda^+), \nu(\lambda), \nu(\lambda^-)),
    F(\nu(\lambda^-), \nu(-\lambda), \nu(\lambda^+)))` with F of :func:`_combine`
    (the second for :math:`\sigma = -1`); it is never above :math:`\kappa\max(\nu(\lambda^+),
    \nu(\lambda^-))`.  Each :math:`\nu(\mu) = \max_{\|u\|\le1}\mu^\top(Xu)_+` is bounded
    from above by branch and bound.
    """
    from ..duality.branch_bound import maximize_relu

    kappa = 1.0 if path == "l1" else float(np.sqrt(m1))
    ups, complete = [], True
    for mu in (np.maximum(lam, 0.0), lam, np.maximum(-lam, 0.0), -lam):
        r = maximize_relu(X, mu, floor=0.0, rtol=BB_RTOL, time_limit=time_limit / 4)
        ups.append(max(r.upper, 0.0))
        complete &= r.complete
    a, b, c, b_neg = ups
    return kappa * max(_combine(a, b, c), _combine(c, b_neg, a)), complete


def best_scaled_dual(loss: Loss, y: np.ndarray, lam: np.ndarray, t_max: float,
                     iters: int = 80) -> tuple[float, float]:
    r""":math:`\max_{0\le t\le t_{max}} -\ell^*(-t\lambda)` (concave in t) by golden
    section; returns (value, t).  Every such t gives a valid weak-duality bound."""
    def g(t: float) -> float:
        v = -loss.conjugate(-t * lam, y)
        return v if np.isfinite(v) else -np.inf

    a, b = 0.0, float(t_max)
    phi = (np.sqrt(5.0) - 1) / 2
    x1, x2 = b - phi * (b - a), a + phi * (b - a)
    f1, f2 = g(x1), g(x2)
    for _ in range(iters):
        if f1 < f2:
            a, x1, f1 = x1, x2, f2
            x2 = a + phi * (b - a)
            f2 = g(x2)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - phi * (b - a)
            f1 = g(x1)
    cands = [(g(t), t) for t in (0.0, float(t_max), x1, x2)]
    return max(cands)


def relaxed_certificate(network: ParallelNetwork, X: np.ndarray, y: np.ndarray, *,
                        beta: float, m1: int, loss: Loss, tol: float = 1e-6,
                        time_limit: float = 20.0):
    r"""A valid global weak-duality bound for any parallel network (module docstring):
    :math:`\lambda = -\nabla\ell(\hat y)`, :math:`s \ge` its dual norm by the relaxation,
    :math:`\mathrm{LB} = \max_{t\le\beta/s} -\ell^*(-t\lambda) \le p^\star \le P(\theta)`."""
    from .certificate import parallel_certificate

    t0 = time.perf_counter()
    yhat = network.predict(X)
    P = float(loss.value(yhat, y) + beta * network.penalty())
    lam = -loss.gradient(yhat, y)
    s, complete = relaxed_dual_norm(X, lam, path=network.path, m1=m1, time_limit=time_limit)
    t_max = 1.0 if s <= 0 else beta / s
    lb, _ = best_scaled_dual(loss, y, lam, t_max)
    return parallel_certificate(lb, P, s, beta, proven=True, tol=tol, n_groups=0, t0=t0,
                                loss=loss.name, method="relaxed dual norm (valid global bound)"
                                + ("" if complete else ", branch and bound budget hit"))


__all__ = ["ascend_subnetworks", "best_scaled_dual", "group_support", "price_subnetworks",
           "relaxed_certificate", "relaxed_dual_norm", "subnetwork_values"]
