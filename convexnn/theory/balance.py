r"""Balancedness, path norm = weight decay, and rebalancing (THEORY A.1, H).

Rescaling neuron k by :math:`t > 0` (incoming weights, and a regularized bias, times t;
outgoing weights times :math:`1/t`) keeps the function, and

.. math::
    \min_{t>0} \tfrac12\big(t^2\|in_k\|^2 + t^{-2}\|out_k\|^2\big) = \|in_k\|\,\|out_k\|
    \quad\text{at}\quad t_k = (\|out_k\|/\|in_k\|)^{1/2},

so at every stationary point of the weight-decay objective
:math:`\|in_k\| = \|out_k\|` for every hidden neuron (balance) and, for two layers, the
penalty :math:`\tfrac12\|\theta\|^2` equals the path norm :math:`\sum_j\|u_j\||\alpha_j|`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..core.losses import get_loss
from ..core.validation import check_array, check_positive
from ..networks.deep import DeepNetwork
from ..networks.two_layer import Network
from .report import Check


def neuron_norms(net: Network | DeepNetwork, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""(:math:`\|in_k\|`, :math:`\|out_k\|`) of the neurons of hidden layer ``layer`` (the
    output of ``weights[layer]``; a two-layer Network has layer 0 only).  The incoming norm
    includes the bias if it is regularized (THEORY H)."""
    if isinstance(net, Network):
        if layer != 0:
            raise ValueError(f"layer must be 0 for a two-layer Network; got {layer}")
        return net._in_norms(), net._out_norms()
    if not isinstance(net, DeepNetwork):
        raise ValueError(f"net must be a Network or DeepNetwork; got {type(net).__name__}")
    if not 0 <= layer < net.depth - 1:
        raise ValueError(f"layer must be in [0, {net.depth - 2}]; got {layer}")
    sq_in = np.sum(net.weights[layer] ** 2, axis=1)
    if net.regularize_bias:
        sq_in = sq_in + net.biases[layer] ** 2
    return np.sqrt(sq_in), np.linalg.norm(net.weights[layer + 1], axis=0)


def deep_balance_errors(net: DeepNetwork) -> np.ndarray:
    r"""Per hidden layer, :math:`\max_k |\|in_k\|^2 - \|out_k\|^2| / \max_k \|in_k\|^2`
    (THEORY H; 0 at every weight-decay stationary point)."""
    out = []
    for l in range(net.depth - 1):
        a, b = neuron_norms(net, l)
        out.append(float(np.max(np.abs(a**2 - b**2), initial=0.0)
                         / max(float(np.max(a**2, initial=0.0)), np.finfo(float).tiny)))
    return np.array(out)


def rebalance_deep(net: DeepNetwork, *, max_sweeps: int = 10_000, tol: float = 1e-14) -> DeepNetwork:
    r"""Minimize the penalty over the rescaling orbit of a deep network (THEORY H).

    Neuron k of hidden layer l gets incoming weights (and bias) times :math:`t_k` and
    outgoing weights times :math:`1/t_k`, :math:`t_k = (\|out_k\|/\|in_k\|)^{1/2}`, which
    minimizes :math:`\tfrac12(t^2\|in_k\|^2 + t^{-2}\|out_k\|^2)`; the function is
    unchanged by positive homogeneity.  Layers are swept until the penalty decreases by less
    than ``tol`` (relative): block coordinate descent on the penalty, which is convex in
    :math:`\log t`.
    """
    if not isinstance(net, DeepNetwork):
        raise ValueError(f"net must be a DeepNetwork; got {type(net).__name__}")
    Ws = [W.copy() for W in net.weights]
    bs = [b.copy() for b in net.biases]
    cur = replace(net, weights=Ws, biases=bs)
    last = cur.penalty()
    for _ in range(max_sweeps):
        for l in range(net.depth - 1):
            a, b = neuron_norms(cur, l)
            live = (a > 0) & (b > 0)
            t = np.ones_like(a)
            t[live] = np.sqrt(b[live] / a[live])
            Ws[l] *= t[:, None]
            bs[l] *= t
            Ws[l + 1] /= t[None, :]
        pen = cur.penalty()
        if last - pen <= tol * max(pen, np.finfo(float).tiny):
            break
        last = pen
    return replace(net, weights=Ws, biases=bs)


def balance_check(network: Network | DeepNetwork, *, rtol: float = 1e-6) -> Check:
    r"""Balancedness and path norm = weight decay (THEORY A.1, H).

    Measured: the balance error (two-layer: :meth:`Network.balance_error`; deep: the largest
    of :func:`deep_balance_errors`) and the ratio of the penalty to its minimum over
    rescalings (two-layer: the path norm :math:`\sum_j\|u_j\|\|\alpha_j\|`; deep: the
    penalty after :func:`rebalance_deep`).  Predicted at any stationary point: 0 and 1.

    Parameters
    ----------
    network : Network or DeepNetwork
    rtol : float, default=1e-6
        Tolerance on the balance error and on ratio - 1.
    """
    if isinstance(network, Network):
        err, floor = network.balance_error(), network.path_norm()
    elif isinstance(network, DeepNetwork):
        errs = deep_balance_errors(network)
        err = float(np.max(errs, initial=0.0))
        floor = rebalance_deep(network).penalty()
    else:
        raise ValueError(f"network must be a Network or DeepNetwork; got {type(network).__name__}")
    pen = network.penalty()
    ratio = pen / floor if floor > 0 else 1.0
    return Check("balanced, penalty / min over rescalings == 1", predicted=(0.0, 1.0),
                 measured=(err, ratio), holds=err <= rtol and ratio - 1.0 <= rtol, rtol=rtol,
                 section="H", details={"balance_error": err, "ratio": ratio, "penalty": pen,
                                       "min_penalty": floor})


def rebalance_check(network: Network | DeepNetwork, X: Any, y: Any, *, beta: float,
                    loss: str = "squared", atol: float = 1e-10) -> Check:
    r"""Rebalancing keeps the function and never increases the objective (THEORY H, step 4).

    Predicted: :math:`\max|f_{rebal}(X) - f(X)| <` ``atol`` and
    :math:`P(\theta_{rebal}) \le P(\theta)` (up to rounding, ``1e-12`` relative).

    Parameters
    ----------
    network : Network or DeepNetwork
    X, y : array-like
        Inputs and targets on which outputs and objectives are compared.
    beta : float
        Weight decay of the objective.
    loss : str, default="squared"
    atol : float, default=1e-10
        Largest allowed change of an output.
    """
    X = check_array("X", X, ndim=2)
    beta = check_positive("beta", beta)
    if isinstance(network, Network):
        rebal = network.rebalance()
    elif isinstance(network, DeepNetwork):
        rebal = rebalance_deep(network)
    else:
        raise ValueError(f"network must be a Network or DeepNetwork; got {type(network).__name__}")
    diff = float(np.max(np.abs(rebal.predict(X) - network.predict(X))))
    loss_obj = get_loss(loss)
    before = network.objective(X, y, beta=beta, loss=loss_obj)
    after = rebal.objective(X, y, beta=beta, loss=loss_obj)
    holds = diff < atol and after <= before + 1e-12 * max(1.0, abs(before))
    return Check("rebalancing keeps f and does not increase the objective",
                 predicted=(0.0, before), measured=(diff, after), holds=holds, atol=atol,
                 section="H", details={"output_diff": diff, "objective_before": before,
                                       "objective_after": after, "network": rebal})


__all__ = ["neuron_norms", "deep_balance_errors", "rebalance_deep", "balance_check",
           "rebalance_check"]
