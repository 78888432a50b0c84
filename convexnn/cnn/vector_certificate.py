r"""Dual certificates of vector-output two-layer ReLU CNNs (THEORY A.7, C, D).

For a CNN with predictions :math:`\hat Z` (n, c), :math:`\Lambda = -\nabla\ell(\hat Z)`
projected onto :math:`1^\top\Lambda = 0` (a free output constant) is feasible after scaling
by :math:`\min(1, \beta/s)` where

.. math:: s \ge \max_{\|u\|\le1}\|\Lambda^\top P(Zu)_+\|_2
           = \max_{\|u\|\le1}\|(P^\top\Lambda)^\top(Zu)_+\|_2 ,

the dense vector dual norm on the stacked patches (:mod:`convexnn.neurons.bound`): exact by
face enumeration when the arrangement of Z is small (short 1-D patches), else a closed-form
bound -- the lower bound :math:`-\ell^*(-\Lambda_s) \le p^\star` is then valid but loose, and
the ascent's value can only refute.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..core.conv import Conv
from ..core.losses import Loss, get_loss
from ..core.validation import check_positive
from ..core.variant import Variant
from ..duality.certificate import TOL, Certificate
from ..networks.conv import ConvNetwork
from ..neurons.bound import certificate_of, dual_point, lower_bound
from ..solvers.group_fista import free_projector
from .certificate import network_variant


def certify_conv_vector(network: ConvNetwork, X: np.ndarray, Y: np.ndarray, *, beta: float,
                        loss: Loss, variant: Variant, exact: bool | None = None,
                        tol: float = TOL, seed: Any = 0,
                        extra_predictions: tuple = ()) -> Certificate:
    """The certificate on validated images (n, C, H, W) and targets Y (n, c) (one-hot for
    cross-entropy), from the network's own dual point and those of ``extra_predictions``
    (module docstring)."""
    t0 = time.perf_counter()
    Z = network.conv.stacked(X, bias=variant.has_bias)
    K = network.conv.n_patches(X.shape[1:])
    Q = free_projector(variant.free_basis(np.empty((X.shape[0], 0))))
    pen = np.ones(Z.shape[1], bool)
    upper = float(network.objective(X, Y, beta=beta, loss=loss))
    starts = network.lifted_directions(variant.has_bias)
    bounds = []
    for k, pred in enumerate((network.predict(X), *extra_predictions)):
        lam, moved = dual_point(loss, pred, Y, Q)
        b = lower_bound(Z, lam, Y, loss=loss, beta=beta, pen=pen, pool=K, exact=exact,
                        seed=seed, starts=starts if starts.shape[0] else None)
        b.moved, b.source = moved, "network" if k == 0 else "convex solution"
        bounds.append(b)
    return certificate_of(bounds, upper, beta=beta, loss=loss, tol=tol, t0=t0)


def certify_vector_conv_fit(result, *, tol: float = TOL) -> Certificate:
    """The certificate of a vector-output :func:`convexnn.fit` CNN result (the recovered
    network's and the convex solution's dual points)."""
    p = result.program
    return certify_conv_vector(result.network, p.X, p.y, beta=p.beta, loss=p.loss,
                               variant=p.variant, exact=p.exact, tol=tol,
                               extra_predictions=(p.predict(result.solution),))


def certify_conv_vector_public(network: ConvNetwork, X: Any, y: Any, *, beta: float,
                               loss: str | Loss = "squared", bias: str | None = None,
                               output_bias: bool | None = None, patterns: Any = None,
                               seed: Any = 0, tol: float = TOL, **_ignored) -> Certificate:
    """:func:`convexnn.certify` for a vector-output CNN: validates the images and targets
    (an (n, c) matrix for squared loss; labels or one-hot rows for cross-entropy, classes
    in sorted order as :func:`convexnn.fit` uses), then :func:`certify_conv_vector`.
    ``patterns``: None/"auto" (exact pricing when small), "exact" (force), an int (ascent
    only); ``bias``/``output_bias`` default to the network's training settings."""
    from ..core.spec import check_data
    from ..neurons.pricer import exact_pricing

    if not isinstance(network, ConvNetwork):
        raise TypeError(f"network must be a ConvNetwork; got {type(network).__name__}")
    loss = get_loss(loss)
    if not loss.multi_output:
        raise ValueError("vector-output CNN certificates support loss 'squared' or "
                         f"'cross_entropy'; got {loss.name!r}")
    beta = check_positive("beta", beta)
    data = check_data(X, y, loss, network.conv)
    if data.y.shape[1] != network.n_outputs:
        raise ValueError(f"network has {network.n_outputs} outputs; the targets have "
                         f"{data.y.shape[1]} columns (classes)")
    variant = network_variant(network, bias, output_bias)
    return certify_conv_vector(network, Conv.images(data.X), data.y, beta=beta, loss=loss,
                               variant=variant, exact=exact_pricing(
                                   "auto" if patterns is None else patterns),
                               tol=tol, seed=seed)


__all__ = ["certify_conv_vector", "certify_conv_vector_public", "certify_vector_conv_fit"]
