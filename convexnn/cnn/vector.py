r"""Vector-output two-layer ReLU CNNs (THEORY C on the stacked patches, D): c outputs with
squared loss, or class labels with the softmax cross-entropy.

A CNN with filters :math:`u_j` and output weights :math:`g_j\in\mathbb R^c` predicts
:math:`f(x) = \sum_j g_j\rho\sum_k(\tilde x_k^\top u_j)_+ + c_0`; its training problem with
penalty :math:`\tfrac\beta2\|\theta\|^2` equals the group lasso over unit filters

.. math::
    \min_{G, c_0}\ \ell\Big(\sum_j P(Zu_j)_+g_j^\top + 1c_0^\top;\ Y\Big)
    + \beta\sum_j\|g_j\|_2 ,\qquad \|u_j\| = 1,

over all unit filters (an upper bound over any finite set), with Z the stacked patch
matrix and P the pooling (:mod:`convexnn.neurons.program`).  Its dual constraint is
:math:`\|\Lambda^\top P(Zu)_+\| = \|(P^\top\Lambda)^\top(Zu)_+\| \le \beta`: the dense
vector-output dual norm on :math:`(Z, P^\top\Lambda)`.  So the dense neuron generation
(:class:`~convexnn.neurons.pricer.NeuronPricer`: L-BFGS seed, FISTA masters, ascent or exact
face-enumeration pricing, descents) runs unchanged on :class:`ConvVectorProgram`, and a
solution maps to a CNN with the same objective (:meth:`ConvVectorProgram.recover`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.conv import Conv
from ..core.losses import Loss, get_loss
from ..core.solution import VectorSolution
from ..core.validation import check_positive
from ..core.variant import Variant
from ..networks.conv import ConvNetwork
from ..neurons.program import NeuronProgram, neurons_of, prune_neurons
from .program import ConvWords, describe_conv
from .recover import conv_network


class ConvVectorProgram(ConvWords, NeuronProgram):
    """The neuron program of a vector-output two-layer ReLU CNN (module docstring).

    Parameters
    ----------
    X : ndarray of shape (n, C, H, W)
    Y : ndarray of shape (n, c)
        Targets (squared loss) or one-hot rows (cross-entropy).
    beta : float
    loss : str or Loss
        "squared" or "cross_entropy".
    conv : Conv
    bias : {"none", "regularized"}
    output_bias : bool
        A free output constant :math:`c_0\\in\\mathbb R^c`.
    classes : ndarray or None
        The class labels of the one-hot columns (cross-entropy).
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, *, beta: float, loss: str | Loss,
                 conv: Conv, bias: str, output_bias: bool,
                 classes: np.ndarray | None = None) -> None:
        self.variant = Variant("relu", bias, False, output_bias)
        if self.variant.free_bias:
            raise ValueError("a CNN program takes bias='none' or 'regularized'")
        self.loss = get_loss(loss)
        self.beta = check_positive("beta", beta)
        self.X, self.y, self.conv, self.classes = X, Y, conv, classes
        self.shape = X.shape[1:]
        self.pool = conv.n_patches(self.shape)
        self.Xt = conv.stacked(X, bias=self.variant.has_bias)
        self.penalized = np.ones(self.Xt.shape[1], bool)
        self.free_basis = self.variant.free_basis(np.empty((X.shape[0], 0)))
        #: pricing: None (exact when small), True (forced), False (ascent only)
        self.exact: bool | None = None
        #: whether the last pricing was exhaustive (set by the neuron pricer)
        self.exhaustive = False

    @property
    def n_patterns(self) -> int:
        return 0

    # ---- numpy evaluation ----------------------------------------------------------------
    def predict(self, sol: VectorSolution) -> np.ndarray:
        return self.neuron_predict(sol)

    def regularizer(self, sol: VectorSolution) -> float:
        return self.neuron_regularizer(sol)

    def objective(self, sol: VectorSolution) -> float:
        """The convex objective of ``sol`` recomputed in numpy."""
        return self.loss.value(self.predict(sol), self.y) + self.beta * self.regularizer(sol)

    def constraint_violation(self, sol: VectorSolution) -> float:
        return 0.0

    # ---- recovery and words ----------------------------------------------------------------
    def recover(self, sol: VectorSolution, *, prune: bool = True, tol: float = 1e-9) -> ConvNetwork:
        """The CNN of ``sol``: one balanced filter per direction that carries weight, the
        linearly dependent ones pruned (:func:`~convexnn.neurons.program.prune_neurons`)."""
        c = self.n_outputs
        U, G = neurons_of(sol.U, sol.G, self.penalized, tol=tol)
        c0 = sol.A[0].copy() if self.free_basis is not None else np.zeros(c)
        if prune and U.shape[0]:
            U, G, A, _ = prune_neurons(self.columns(U), U, G, self.penalized, self.free_basis)
            if A.size:
                c0 = c0 + A[0]
        return conv_network(self, U, G.reshape(U.shape[0], c), c0)

    def describe(self) -> dict[str, Any]:
        """What :class:`~convexnn.core.results.FitResult` prints."""
        return describe_conv(self, columns="-", columns_name="filters", source="generated",
                             outputs=f", {self.n_outputs} outputs")


def init_filters(init: tuple, h: int, c: int, has_bias: bool) -> tuple:
    r"""The filters of the seed CNNs ``init`` (ConvNetwork or a torch ConvModule) as pairs
    :math:`(W, G)`: rows :math:`(u_j, b_j)` (or :math:`u_j`) and output weights (m, c)."""
    out = []
    for net in init:
        net = ConvNetwork.coerce(net)
        if net.W1.shape[1] != h or net.n_outputs != c or net.W2.ndim != 2:
            raise ValueError(f"init network has filters of size {net.W1.shape[1]} and "
                             f"{net.n_outputs} outputs; the patches have {h} entries and the "
                             f"targets {c} columns")
        if not has_bias and np.any(net.b1 != 0):
            raise ValueError("init network has filter biases b1 but bias='none'")
        W = np.hstack([net.W1, net.b1[:, None]]) if has_bias else net.W1
        out.append((np.asarray(W, dtype=np.float64), np.asarray(net.W2, dtype=np.float64)))
    return tuple(out)


__all__ = ["ConvVectorProgram", "init_filters"]
