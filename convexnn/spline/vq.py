r"""Vector-quantization (VQ) distance between inputs of a ReLU network (THEORY G).

Each layer's code :math:`q^{(l)}(x)` quantizes that layer's input, and the full code
:math:`(q^{(1)}, \dots, q^{(L)})` names the activation region of x: a hierarchical VQ.
The distance counts the units that quantize x and x' differently,

.. math::  d_{VQ}(x, x') = \sum_l w_l \sum_{k=1}^{D_l} 1[q^{(l)}_k(x) \ne q^{(l)}_k(x')],
           \qquad w_l \in \{1,\ 1/D_l\}.

For a max-pooling layer the code of a unit is the argmax position in its window, so the
unit counts when the two inputs' windows have different winners.  It is a pseudometric
(a weighted Hamming distance of codes) and vanishes exactly when x
and x' lie in the same activation region (Balestriero & Baraniuk 2018; the normalization
is not confirmed from the paper, THEORY J.8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .convert import as_layers

#: Layer weights w_l: "unit" gives w_l = 1, "width" gives w_l = 1 / D_l.
VQ_WEIGHTS = ("unit", "width")


def _layer_weights(sizes: list[int], weights: str) -> np.ndarray:
    if weights not in VQ_WEIGHTS:
        raise ValueError(f"weights must be one of {VQ_WEIGHTS}; got {weights!r}")
    sizes_arr = np.asarray(sizes, dtype=float)
    return np.ones_like(sizes_arr) if weights == "unit" else 1.0 / sizes_arr


def layer_hamming(model: Any, X: Any, Y: Any) -> np.ndarray:
    r"""Per-layer Hamming distances :math:`\sum_k 1[q^{(l)}_k(x_i) \ne q^{(l)}_k(y_i)]`.

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
    X, Y : array-like of shape (n, d) (or (d,), or images if the stack has an input_shape)
        Paired inputs.

    Returns
    -------
    ndarray of int, shape (n, L_c) (or (L_c,)) with L_c the number of code layers.
    """
    stack = as_layers(model)
    X2, single_x = stack.check_inputs("X", X)
    Y2, single_y = stack.check_inputs("Y", Y)
    if X2.shape != Y2.shape:
        raise ValueError(f"X and Y must have the same shape; got {X2.shape} and {Y2.shape}")
    _, qx = stack.forward(X2)
    _, qy = stack.forward(Y2)
    H = np.array([np.count_nonzero(a != b, axis=1) for a, b in zip(qx, qy, strict=True)], dtype=int).T
    H = H.reshape(len(X2), len(qx))
    return H[0] if single_x and single_y else H


def vq_distance(model: Any, X: Any, Y: Any, *, weights: str = "unit") -> np.ndarray | float:
    r"""VQ distance :math:`d_{VQ}(x, y) = \sum_l w_l \sum_k 1[q^{(l)}_k(x) \ne q^{(l)}_k(y)]`.

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
        See :func:`~convexnn.spline.as_layers`.
    X, Y : array-like of shape (d,) or (n, d)
        Paired inputs.
    weights : {"unit", "width"}, default="unit"
        Layer weights :math:`w_l = 1` (number of differing units) or :math:`w_l = 1/D_l`
        (fraction of differing units per layer, summed over layers).

    Returns
    -------
    float, or ndarray of shape (n,) for batches.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import Network
    >>> from convexnn.spline import vq_distance
    >>> net = Network(W1=np.eye(2), W2=np.ones(2))
    >>> vq_distance(net, [1.0, 1.0], [-1.0, 1.0]), vq_distance(net, [1.0, 1.0], [2.0, 3.0])
    (1.0, 0.0)
    """
    stack = as_layers(model)
    w = _layer_weights(stack.code_sizes, weights)
    H = layer_hamming(stack, X, Y)
    d = H @ w
    return float(d) if np.ndim(d) == 0 else d


def vq_distance_matrix(model: Any, X: Any, Y: Any | None = None, *,
                       weights: str = "unit") -> np.ndarray:
    r"""All pairwise VQ distances :math:`D_{ij} = d_{VQ}(x_i, y_j)`, shape (n, m).

    Uses :math:`\sum_k 1[a_k \ne b_k] = D_l - \sum_k \sum_r 1[a_k = r]\,1[b_k = r]`, a
    product of one-hot encodings of the codes (R = 2 for ReLU-type units, the window size
    for max pooling).
    """
    stack = as_layers(model)
    X2, _ = stack.check_inputs("X", X)
    Y2 = X2 if Y is None else stack.check_inputs("Y", Y)[0]
    w = _layer_weights(stack.code_sizes, weights)
    _, qx = stack.forward(X2)
    _, qy = stack.forward(Y2)
    D = np.zeros((len(X2), len(Y2)))
    for wl, a, b in zip(w, qx, qy, strict=True):
        a, b = a.astype(np.int64), b.astype(np.int64)
        R = int(max(a.max(), b.max())) + 1
        same = sum((a == r).astype(float) @ (b == r).astype(float).T for r in range(R))
        D += wl * (a.shape[1] - same)
    return D


__all__ = ["VQ_WEIGHTS", "layer_hamming", "vq_distance", "vq_distance_matrix"]
