r"""The weak-duality lower bound of a vector-output network at one dual point (THEORY A.7, C).

For predictions :math:`\hat Z` (n, c):

1. :math:`\Lambda = -\nabla\ell(\hat Z)` (squared: :math:`Y - \hat Z`; cross-entropy:
   :math:`Y - \mathrm{softmax}(\hat Z)`), projected onto :math:`F^\top\Lambda = 0` (the free
   terms) -- :func:`dual_point`;
2. :math:`s \ge \max_{\|u_\pi\|\le1}\|\Lambda^\top P(\tilde Xu)_+\|_2`
   (:func:`convexnn.neurons.pricing.dual_norm` on :math:`(\tilde X, P^\top\Lambda)`): exact by
   face enumeration where the arrangement is small, else a closed-form bound;
3. :math:`\Lambda_s = \Lambda\min(1, \beta/s)` is dual feasible and
   :math:`-\ell^*(-\Lambda_s) \le p^\star` (the conjugate's domain is star-shaped about 0 for
   both losses) -- :func:`lower_bound`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.losses import Loss
from ..duality.certificate import Certificate
from .pricing import dual_norm

#: A network is refuted when a direction beats beta by this relative margin (or the free
#: terms' projection moved its dual point by as much).
REFUTE_RTOL = 1e-3


@dataclass
class DualBound:
    """What one dual point gives: the lower bound, the bound ``s`` of the dual norm, the
    largest value ``found`` by a direction, the scaling, whether ``s`` is exact, the method
    and the number of candidates checked."""

    lower: float
    s: float
    found: float
    scale: float
    exhaustive: bool
    method: str
    n_checked: int
    moved: float = 0.0
    source: str = "network"


def dual_point(loss: Loss, Z: np.ndarray, Y: np.ndarray, Q: np.ndarray | None
               ) -> tuple[np.ndarray, float]:
    r"""(:math:`\Lambda`, relative move of the projection): :math:`-\nabla\ell(\hat Z)`
    with the span of Q (an orthonormal basis of the free terms) removed."""
    raw = -loss.gradient(Z, Y)
    lam = raw if Q is None else raw - Q @ (Q.T @ raw)
    moved = float(np.linalg.norm(lam - raw) / max(float(np.linalg.norm(raw)), 1e-300))
    return lam, moved


def lower_bound(Xt: np.ndarray, lam: np.ndarray, Y: np.ndarray, *, loss: Loss, beta: float,
                pen: np.ndarray, pool: int = 1, exact: bool | None = None, seed: Any = 0,
                starts: np.ndarray | None = None) -> DualBound:
    r""":math:`-\ell^*(-\Lambda\min(1, \beta/s))` with s the dual norm of Λ on the lifted
    rows Xt (nK, d') pooled by K = ``pool`` (module docstring)."""
    lam_t = lam if pool == 1 else np.tile(lam, (pool, 1))
    pr = dual_norm(Xt, lam_t, pen, exact=exact, seed=seed, starts=starts)
    scale = 1.0 if pr.s <= beta else beta / pr.s
    lower = -loss.conjugate(-scale * lam, Y)  # s = inf: scale 0, LB = -l*(0), valid
    return DualBound(float(lower), float(pr.s), float(pr.found), float(scale),
                     bool(pr.exhaustive), pr.method, int(pr.n_candidates))


def certificate_of(bounds: list[DualBound], upper: float, *, beta: float, loss: Loss,
                   tol: float, t0: float) -> Certificate:
    r"""The certificate of a network with objective ``upper`` from the bounds of its dual
    points (the first is the network's own, which alone can refute it): the best lower
    bound is kept; certified iff its s is exact and the relative gap
    :math:`(P(\theta) - \mathrm{LB})/\max(1, |P(\theta)|)` is at most ``tol``."""
    own = bounds[0]
    best = max(bounds, key=lambda b: b.lower)
    gap = upper - best.lower
    rel = gap / max(1.0, abs(upper))
    refuted = bool(own.found > beta * (1 + REFUTE_RTOL) or own.moved > REFUTE_RTOL)
    return Certificate(lower_bound=best.lower, upper_bound=upper, gap=float(gap),
                       relative_gap=float(rel), certified=bool(best.exhaustive and rel <= tol),
                       exhaustive=best.exhaustive, s=best.s, s_found=best.found, beta=beta,
                       scale=best.scale, refuted=refuted, most_violated=None,
                       n_patterns_checked=own.n_checked, time=time.perf_counter() - t0,
                       method=best.method, loss=loss.name, free_residual=own.moved, tol=tol,
                       dual_point=best.source)


__all__ = ["REFUTE_RTOL", "DualBound", "certificate_of", "dual_point", "lower_bound"]
