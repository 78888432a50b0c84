r"""Extreme-point characterization of optimal neurons (Ergen & Pilanci; THEORY A.6-A.7, E.1).

With :math:`\lambda = -\nabla\ell(\hat y)` at an optimal network, :math:`\lambda` is (after
scaling by one) dual optimal, so :math:`\max_{\|u\|\le1}|\lambda^\top(\tilde Xu)_+| \le \beta`,
and every active neuron's unit direction :math:`\hat u_j = u_j/\|u_j\|` *attains* it:

.. math::  \operatorname{sign}(\alpha_j)\,\lambda^\top(\tilde X\hat u_j)_+ = \beta .

(Proof: the derivative of the objective along :math:`\alpha_j` is
:math:`-\lambda^\top(\tilde Xu_j)_+ + \beta\alpha_j = 0`, and optimal neurons are balanced,
:math:`|\alpha_j| = \|u_j\|`.)  The first part (dual feasibility) is what separates a global
optimum from a stationary point; the second holds at every balanced stationary point.
For a parallel three-layer network (E.1) the same holds per sub-network k:
:math:`\lambda^\top f_k(X) = \beta R_k` (stationarity along the scale of
:math:`\alpha_k`), and dual feasibility is the group constraint of the three-layer program.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_positive, check_X_y
from ..networks.two_layer import Network
from .report import Check, _close

SECTION = "A.6-A.7 (extreme points); E.1 for parallel networks"


def _tilde(network: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X~, stacked input weights U, penalized-coordinate mask) of a two-layer network."""
    has_bias = network.regularize_bias or np.any(network.b1 != 0)
    if not has_bias:
        return X, network.W1, np.ones(X.shape[1], bool)
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    U = np.hstack([network.W1, network.b1[:, None]])
    pen = np.ones(X.shape[1] + 1, bool)
    pen[-1] = bool(network.regularize_bias)
    return Xt, U, pen


def extreme_point_check(network: Any, X: Any, y: Any, *, beta: float,
                        loss: str | Loss = "squared", rtol: float = 1e-6,
                        dual_feasibility: bool = True, bias: str | None = None,
                        skip: bool = False, output_bias: bool = False, groups: Any = None,
                        active_rtol: float = 1e-6) -> Check:
    r"""Check :math:`\operatorname{sign}(\alpha_j)\lambda^\top(\tilde X\hat u_j)_+ = \beta` for
    every active neuron (and, with ``dual_feasibility``, :math:`\max_u \le \beta`).

    Parameters
    ----------
    network : Network (scalar output) or ParallelNetwork
    X, y : training data
    beta : float
    rtol : float
        Relative tolerance in beta of both parts.
    dual_feasibility : bool
        Also require :math:`s = \max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+| \le
        \beta(1+\mathrm{rtol})`: the certificate's exhaustive s for a two-layer network
        (:func:`convexnn.certify`, using ``bias``/``skip``/``output_bias``), the group
        supports over ``groups`` for a parallel network (skipped when ``groups`` is None).

    Returns
    -------
    Check
        predicted 1.0, measured the attained values over beta (array, one per active
        neuron / sub-network); ``details`` has ``s_over_beta`` and the worst deviation.
    """
    from ..networks.parallel import ParallelNetwork

    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta)
    loss = get_loss(loss)
    if isinstance(network, ParallelNetwork):
        return _parallel_check(network, X, y, beta, loss, rtol, dual_feasibility, groups, active_rtol)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network or ParallelNetwork; got {type(network).__name__}")
    if network.W2.ndim != 1:
        raise ValueError("extreme_point_check needs a scalar-output network")
    lam = -loss.gradient(network.predict(X), y)
    Xt, U, pen = _tilde(network, X)
    unorm = np.linalg.norm(U[:, pen], axis=1)
    weight = np.abs(network.W2) * unorm
    active = weight > active_rtol * weight.max(initial=0.0)
    uhat = U[active] / unorm[active, None]
    values = np.sign(network.W2[active]) * (np.maximum(Xt @ uhat.T, 0).T @ lam) / beta
    details: dict = {"n_active": int(active.sum()), "lambda_norm": float(np.linalg.norm(lam))}
    ok = bool(active.any()) and all(_close(v, 1.0, rtol, 0.0) for v in values)
    if dual_feasibility:
        from ..api import certify

        if bias is None:
            bias = "regularized" if network.regularize_bias else ("free" if np.any(network.b1) else "none")
        cert = certify(network, X, y, beta=beta, loss=loss, bias=bias, skip=skip,
                       output_bias=output_bias, refine=False)
        details["s_over_beta"] = cert.s / beta
        details["s_exhaustive"] = cert.exhaustive
        ok = ok and cert.exhaustive and cert.s <= beta * (1 + rtol)
    details["max_deviation"] = float(np.max(np.abs(values - 1.0), initial=0.0))
    return Check("active neurons attain the dual constraint (extreme points)", 1.0, values, ok,
                 rtol=rtol, section=SECTION, details=details)


def _parallel_check(network, X, y, beta, loss, rtol, dual_feasibility, groups, active_rtol) -> Check:
    lam = -loss.gradient(network.predict(X), y)
    R = network.subnetwork_path_norms()
    active = R > active_rtol * R.max(initial=0.0)
    F = network.subnetwork_outputs(X)[:, active]
    values = (lam @ F) / (beta * R[active])
    ok = bool(active.any()) and all(_close(v, 1.0, rtol, 0.0) for v in values)
    details: dict = {"n_active": int(active.sum())}
    if dual_feasibility and groups is not None:
        from ..three_layer.certificate import group_supports

        s = float(group_supports(X, lam, groups, network.path).max(initial=0.0))
        details["s_over_beta"] = s / beta
        ok = ok and groups.exhaustive and s <= beta * (1 + rtol)
    details["max_deviation"] = float(np.max(np.abs(values - 1.0), initial=0.0))
    return Check("active sub-networks attain the dual constraint (extreme points)", 1.0, values,
                 ok, rtol=rtol, section=SECTION, details=details)


__all__ = ["extreme_point_check"]
