r"""Dual certificates for vector-output two-layer networks (THEORY C, A.7).

For a network with predictions :math:`\hat Z` (n, c) and objective
:math:`P(\theta) = \ell(\hat Z) + \tfrac\beta2\|\theta\|^2`:

1. :math:`\Lambda = -\nabla\ell(\hat Z)` (squared: :math:`Y - \hat Z`; cross-entropy:
   :math:`Y - \mathrm{softmax}(\hat Z)`), projected onto :math:`F^\top\Lambda = 0` (free
   skip / output constant);
2. :math:`s = \max_{\|u_\pi\|\le1}\|\Lambda^\top(\tilde Xu)_+\|_2`, exact by face
   enumeration where the arrangement is small (:mod:`convexnn.neurons.pricing`), else a
   closed-form upper bound (then *not certified*; the ascent's value can still refute);
   for a gated network :math:`s = \max_i\|\tilde X^\top D_i\Lambda\|_2` over its gates;
3. :math:`\Lambda_s = \Lambda\min(1, \beta/s)`, :math:`\mathrm{LB} = -\ell^*(-\Lambda_s)`
   (the conjugate's domain is star-shaped about 0 for both losses), and
   :math:`\mathrm{gap} = P(\theta) - \mathrm{LB} \ge P(\theta) - p^\star`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_choice, check_positive
from ..core.variant import BIASES, Variant
from ..duality.certificate import TOL, Certificate
from ..networks.two_layer import Network
from ..neurons.bound import DualBound, certificate_of, dual_point, lower_bound
from ..solvers.group_fista import free_projector


def _gate_dual_norm(D: np.ndarray, Xt: np.ndarray, lam: np.ndarray) -> float:
    r""":math:`\max_i\|\tilde X^\top D_i\Lambda\|_2` over the gate patterns D (n, P)."""
    C = np.einsum("nk,np,nc->pkc", Xt, D.astype(np.float64), lam)
    return float(np.max(np.linalg.svd(C, compute_uv=False)[:, 0], initial=0.0))


def _check_network(network: Network, d: int, c: int, variant: Variant) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"network must be a convexnn Network; got {type(network).__name__}")
    if network.input_dim != d:
        raise ValueError(f"network expects {network.input_dim} features; X has {d}")
    if network.n_outputs != c or np.ndim(network.W2) != 2:
        raise ValueError(f"network has {network.n_outputs} outputs; the targets have {c} columns")
    if not variant.has_bias and np.any(network.b1 != 0):
        raise ValueError("bias='none' but the network has nonzero hidden biases b1; pass "
                         "bias='regularized' or 'free'")
    if not variant.skip and np.any(network.skip != 0):
        raise ValueError("the network has a skip term; pass skip=True")
    if not variant.has_free_constant and np.any(np.asarray(network.c0) != 0):
        raise ValueError("the network has an output bias c0; pass output_bias=True (or bias='free')")


def certify_vector(network: Network, X: np.ndarray, Y: np.ndarray, *, beta: float,
                   loss: str | Loss = "squared", bias: str = "none", skip: bool = False,
                   output_bias: bool = False, exact: bool | None = None, tol: float = TOL,
                   seed: Any = 0, extra_predictions: tuple = (),
                   gate_patterns: np.ndarray | None = None) -> Certificate:
    r"""Certificate of a vector-output network on validated data (Y: (n, c), one-hot for
    cross-entropy); see the module docstring.  ``exact``: None = face enumeration when the
    arrangement is small, True = force it, False = ascent only (never certifies).
    ``gate_patterns``: for a gated network, the gate set the optimality refers to
    (default: the network's own gates)."""
    t0 = time.perf_counter()
    beta = check_positive("beta", beta)
    bias = check_choice("bias", bias, BIASES)
    loss = get_loss(loss)
    variant = Variant(bias=bias, skip=bool(skip), output_bias=bool(output_bias))
    _check_network(network, X.shape[1], Y.shape[1], variant)
    Xt, free = variant.lift(X)
    pen = ~free
    Q = free_projector(variant.free_basis(X))
    net = replace(network, regularize_bias=variant.regularized_bias)
    upper = float(net.objective(X, Y, beta=beta, loss=loss))
    gated = network.gates is not None
    bounds = []
    for k, Z in enumerate((network.predict(X), *extra_predictions)):
        lam, moved = dual_point(loss, Z, Y, Q)
        if gated:
            D = network.activation_patterns(X) if gate_patterns is None else gate_patterns
            s = _gate_dual_norm(D, Xt, lam)
            scale = 1.0 if s <= beta else beta / s
            b = DualBound(float(-loss.conjugate(-scale * lam, Y)), s, s, scale, True, "gated",
                          int(D.shape[1]))
        else:
            b = lower_bound(Xt, lam, Y, loss=loss, beta=beta, pen=pen, exact=exact, seed=seed,
                            starts=np.hstack([network.W1, network.b1[:, None]])[:, :Xt.shape[1]])
        b.moved, b.source = moved, "network" if k == 0 else "convex solution"
        bounds.append(b)
    return certificate_of(bounds, upper, beta=beta, loss=loss, tol=tol, t0=t0)


def certify_vector_fit(result, *, tol: float = TOL) -> Certificate:
    """Certificate of a vector :func:`convexnn.fit` result (network and convex predictions)."""
    p = result.program
    return certify_vector(result.network, p.X, p.y, beta=p.beta, loss=p.loss, bias=p.bias,
                          skip=p.skip, output_bias=p.output_bias, exact=p.exact,
                          tol=tol, extra_predictions=(p.predict(result.solution),),
                          gate_patterns=p.D if p.variant.gated else None)


__all__ = ["certify_vector", "certify_vector_fit"]


def certify_vector_public(network: Network, X: Any, y: Any, *, beta: float,
                          loss: str | Loss = "squared", bias: str = "none", skip: bool = False,
                          output_bias: bool = False, patterns: Any = None, seed: Any = 0,
                          tol: float = TOL, **_ignored) -> Certificate:
    """:func:`convexnn.certify` for vector output: validates X and y (Y (n, c), or labels /
    one-hot for cross-entropy, classes in sorted order as :func:`convexnn.fit` uses), then
    :func:`certify_vector`.  ``patterns``: None/"auto" (exact pricing when small), "exact"
    (force), an int (ascent only)."""
    from ..core.spec import check_data

    loss = get_loss(loss)
    if not loss.multi_output:
        raise ValueError("vector-output certificates support loss 'squared' or "
                         f"'cross_entropy'; got {loss.name!r}")
    if loss.targets == "real" and np.ndim(y) != 2 and isinstance(network, Network):
        raise ValueError(f"network has {network.n_outputs} outputs; y must have shape "
                         f"(n, {network.n_outputs}), got shape {np.shape(y)}")
    data = check_data(X, y, loss)
    X, Y, name = data.X, data.y, loss
    exact = (None if patterns is None or (isinstance(patterns, str) and patterns == "auto")
             else True if isinstance(patterns, str) and patterns == "exact" else False)
    return certify_vector(network, X, Y, beta=beta, loss=name, bias=bias, skip=skip,
                          output_bias=output_bias, exact=exact, tol=tol, seed=seed)


__all__ += ["certify_vector_public"]
