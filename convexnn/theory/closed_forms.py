r"""Closed-form optima of two-layer ReLU networks on whitened data (THEORY C).

For :math:`XX^\top = I_n` (n <= d, orthonormal rows) every neuron output lies in
:math:`\{Xz : Xz \ge 0, \|z\| \le \|u\|\}` (take :math:`z = X^\top(Xu)_+`), and every
nonnegative vector :math:`a` is such an output (:math:`u = X^\top a`).  So the network's
predictions are :math:`\sum_j a_j g_j^\top` with :math:`a_j \ge 0` at cost
:math:`\sum_j\|a_j\|\|g_j\|`, which is at least the nuclear norm of the prediction:

- scalar output (Ergen & Pilanci; THEORY C, I4): two neurons, :math:`u \propto X^\top y_+`
  and :math:`u \propto X^\top y_-`, each shrunk by :math:`\beta`;
- one-hot labels (Sahiner et al. 2021; THEORY C, I5): the soft-thresholded SVD of Y, whose
  left singular vectors :math:`1_{S_k}/\sqrt{n_k}` are nonnegative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array, check_positive
from ..networks.two_layer import Network
from .report import Check, _close


@dataclass(frozen=True)
class ClosedForm:
    """A closed-form optimum: value, predictions on the training data, and a network
    attaining it (objective convention of THEORY section 0)."""

    objective: float
    prediction: np.ndarray
    network: Network
    beta: float


def _whitened(X: Any) -> np.ndarray:
    X = check_array("X", X, ndim=2)
    n = X.shape[0]
    if n > X.shape[1] or np.linalg.norm(X @ X.T - np.eye(n)) > 1e-8 * np.sqrt(n):
        raise ValueError("X must have orthonormal rows (X X^T = I_n, so n <= d); "
                         f"got shape {X.shape}")
    return X


def whitened_two_layer(X: Any, y: Any, *, beta: float) -> ClosedForm:
    r"""Scalar-output optimum for :math:`XX^\top = I_n`, no biases (THEORY C, I4).

    .. math::
        \hat y = (1-\beta/\|y_+\|)_+\,y_+ - (1-\beta/\|y_-\|)_+\,y_-,\qquad
        p^* = \tfrac12\big[\min(\|y_+\|,\beta)^2 + \min(\|y_-\|,\beta)^2\big]
              + \beta\big[(\|y_+\|-\beta)_+ + (\|y_-\|-\beta)_+\big],

    attained by the neurons :math:`u_\pm = \sqrt{(\|y_\pm\|-\beta)_+}\,X^\top y_\pm/\|y_\pm\|`
    with output weights :math:`\pm\sqrt{(\|y_\pm\|-\beta)_+}`
    (balanced).  Optimality: :math:`\|(Xu)_+\|\le\|u\|` and outputs of different signs
    are separated, so the problem is bounded below by two independent ball-constrained
    shrinkages of :math:`y_+` and :math:`y_-`.
    """
    X = _whitened(X)
    y = check_array("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries; X has {X.shape[0]} rows")
    beta = check_positive("beta", beta)
    W1, W2, pred, obj = [], [], np.zeros_like(y), 0.0
    for sign, part in ((1.0, np.maximum(y, 0.0)), (-1.0, np.maximum(-y, 0.0))):
        r = float(np.linalg.norm(part))
        obj += 0.5 * min(r, beta) ** 2 + beta * max(r - beta, 0.0)
        if r > beta:
            strength = r - beta  # = alpha^2 = ||u||^2 (balanced)
            W1.append(np.sqrt(strength) * (X.T @ part) / r)
            W2.append(sign * np.sqrt(strength))
            pred += sign * strength * part / r
    d = X.shape[1]
    net = Network(W1=np.array(W1).reshape(len(W1), d), W2=np.array(W2))
    return ClosedForm(objective=obj, prediction=pred, network=net, beta=beta)


def whitened_one_hot(X: Any, Y: Any, *, beta: float) -> ClosedForm:
    r"""Vector-output optimum for :math:`XX^\top = I_n` and one-hot Y (THEORY C, I5).

    With class sets :math:`S_k` of sizes :math:`n_k` (the soft-thresholded SVD of Y):

    .. math::
        \hat Y = \sum_k (1-\beta/\sqrt{n_k})_+\,1_{S_k}e_k^\top,\qquad
        p^* = \sum_k \begin{cases}\beta\sqrt{n_k}-\beta^2/2 & \beta<\sqrt{n_k}\\
                                  n_k/2 & \text{otherwise,}\end{cases}

    attained by one neuron per class, :math:`u_k = s_k X^\top 1_{S_k}/\sqrt{n_k}`,
    :math:`g_k = s_k e_k`, :math:`s_k^2 = (\sqrt{n_k}-\beta)_+`.  The nuclear-norm bound
    :math:`\min_Z \tfrac12\|Z-Y\|^2+\beta\|Z\|_*` (:func:`nuclear_prox`) is attained, hence
    optimal.
    """
    X = _whitened(X)
    Y = check_array("Y", Y, ndim=2)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Y.shape[0]} rows; X has {X.shape[0]}")
    if not (np.all(np.isin(Y, (0.0, 1.0))) and np.all(Y.sum(axis=1) == 1)):
        raise ValueError("Y must be one-hot: entries 0/1 with exactly one 1 per row")
    beta = check_positive("beta", beta)
    n_k = Y.sum(axis=0)
    root = np.sqrt(n_k)
    obj = float(np.sum(np.where(beta < root, beta * root - 0.5 * beta**2, 0.5 * n_k)))
    live = np.flatnonzero(root > beta)
    s = np.sqrt(root[live] - beta)
    W1 = (X.T @ Y[:, live] / root[live] * s).T
    W2 = np.eye(Y.shape[1])[live] * s[:, None]
    pred = Y * np.where(root > beta, 1.0 - beta / np.maximum(root, 1e-300), 0.0)
    net = Network(W1=W1.reshape(live.size, X.shape[1]), W2=W2.reshape(live.size, Y.shape[1]))
    return ClosedForm(objective=obj, prediction=pred, network=net, beta=beta)


def nuclear_prox(Y: Any, beta: float) -> tuple[np.ndarray, float]:
    r""":math:`\min_Z \tfrac12\|Z-Y\|_F^2 + \beta\|Z\|_*`: the soft-thresholded SVD
    :math:`Z = \sum_k (s_k-\beta)_+ a_kb_k^\top` and its value
    :math:`\sum_k \tfrac12\min(s_k,\beta)^2 + \beta(s_k-\beta)_+` (a lower bound on any
    whitened-data two-layer objective, THEORY C)."""
    Y = check_array("Y", Y, ndim=2)
    beta = check_positive("beta", beta)
    A, s, Bt = np.linalg.svd(Y, full_matrices=False)
    t = np.maximum(s - beta, 0.0)
    return (A * t) @ Bt, float(np.sum(0.5 * np.minimum(s, beta) ** 2 + beta * t))


def objective_check(measured: float, closed_form: ClosedForm, *, rtol: float = 1e-5,
                    atol: float = 1e-9, name: str = "objective == closed form") -> Check:
    r"""A measured optimum (e.g. ``fit(..., patterns="exact").objective``) against the
    closed form's :math:`p^*` (THEORY I4, I5)."""
    measured = float(measured)
    return Check(name, predicted=closed_form.objective, measured=measured,
                 holds=_close(measured, closed_form.objective, rtol, atol), rtol=rtol,
                 atol=atol, section="C")


__all__ = ["ClosedForm", "whitened_two_layer", "whitened_one_hot", "nuclear_prox",
           "objective_check"]
