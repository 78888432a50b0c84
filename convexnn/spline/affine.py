r"""Codes, per-input affine maps and templates of a ReLU network (THEORY G).

On the activation region of x the network is the affine map

.. math::  f(x) = A[x]\,x + b[x], \qquad
           A[x] = W_L Q_{L-1} W_{L-1} \cdots Q_1 W_1, \quad
           b[x] = b_L + \sum_{l=1}^{L-1} W_L Q_{L-1} W_{L-1} \cdots W_{l+1} Q_l b_l,

with :math:`Q_l = \mathrm{diag}(q^{(l)}(x) + (1 - q^{(l)}(x))\eta)` built from the codes
:math:`q^{(l)}(x) = 1[z^{(l)}(x) > 0]`.  Row c of :math:`A[x]` is the template of output c
(Balestriero & Baraniuk 2018): :math:`f_c(x) = \langle A[x]_{c,\cdot}, x\rangle + b[x]_c`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .convert import as_layers


def activation_codes(model: Any, X: Any) -> list[np.ndarray]:
    r"""Per-layer codes :math:`q^{(l)}(x) = 1[z^{(l)}(x) > 0]` (gates: :math:`1[G x + g_0 \ge 0]`;
    max pooling: the argmax position in each window).

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
        See :func:`~convexnn.spline.as_layers`.
    X : array-like of shape (d,) or (n, d) (or images, for a stack with an input_shape)

    Returns
    -------
    list of ndarray
        One array of shape (n, D_l) (or (D_l,) for a single x) per layer with coded units:
        bool for ReLU-type units, int (window position, kernel order, first on ties) for
        max pooling; a residual block contributes its branch's layers.  Linear units (the
        skip term, linear layers, the output layer) carry no code.
    """
    stack = as_layers(model)
    X2, single = stack.check_inputs("X", X)
    _, codes = stack.forward(X2)
    return [q[0] for q in codes] if single else codes


def affine_maps(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Batched affine maps: :math:`A[x_i]` of shape (n, C, d) and :math:`b[x_i]` of shape (n, C).

    Computed by the explicit product of THEORY G (not by autograd), so that
    :math:`f(x_i) = A[x_i] x_i + b[x_i]` and, off the region boundaries, :math:`A[x_i]` is
    the Jacobian of f at :math:`x_i`.

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
    X : array-like of shape (n, d)
    """
    stack = as_layers(model)
    X2 = _check_batch(stack, X)
    return stack.affine(X2)


def affine_map(model: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""The affine piece through one input: A (C, d) and b (C,) with :math:`A x + b = f(x)`.

    .. math::  A[x] = W_L Q_{L-1} W_{L-1} \cdots Q_1 W_1, \qquad b[x] = f(x) - A[x]\,x

    (the second identity holds for the explicit sum formula of b[x], THEORY G).  A scalar
    network has C = 1.

    Parameters
    ----------
    model : Network, DeepNetwork, torch nn.Sequential, LayerStack or list of triples
    x : array-like of shape (d,)

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import Network
    >>> from convexnn.spline import affine_map
    >>> net = Network(W1=np.array([[1.0, 0.0], [0.0, 1.0]]), W2=np.array([1.0, -2.0]))
    >>> A, b = affine_map(net, [3.0, -1.0])
    >>> A, b
    (array([[1., 0.]]), array([0.]))
    """
    stack = as_layers(model)
    x2, single = stack.check_inputs("x", x)
    if not single:
        raise ValueError(f"x must be a single input of shape ({stack.input_dim},); got shape "
                         f"{x2.shape}; use affine_maps for a batch")
    A, b = stack.affine(x2)
    return A[0], b[0]


def templates(model: Any, x: Any) -> np.ndarray:
    r"""The templates of x: the rows :math:`A[x]_{c,\cdot}` of the affine map, shape (C, d).

    The prediction :math:`\hat y(x) = \arg\max_c \langle A[x]_{c,\cdot}, x\rangle + b[x]_c`
    is a matched filterbank with these templates (Balestriero & Baraniuk 2018).
    """
    return affine_map(model, x)[0]


def template_cosines(model: Any, X: Any) -> np.ndarray:
    r"""Cosine similarities of the templates of each input, shape (n, C, C).

    .. math::  \cos_{cc'}(x) = \frac{\langle A[x]_{c}, A[x]_{c'}\rangle}
                                    {\|A[x]_{c}\|\,\|A[x]_{c'}\|}

    (0 where a template vanishes).  Orthogonal templates give the identity matrix.
    """
    A, _ = affine_maps(model, X)
    Gram = A @ np.swapaxes(A, 1, 2)
    norms = np.sqrt(np.einsum("ncc->nc", Gram))
    denom = norms[:, :, None] * norms[:, None, :]
    return np.divide(Gram, denom, out=np.zeros_like(Gram), where=denom > 0)


def _check_batch(stack: Any, X: Any) -> np.ndarray:
    X2, single = stack.check_inputs("X", X)
    if single:
        raise ValueError(f"X must be a batch of shape (n, {stack.input_dim}); got a single "
                         "input; use affine_map")
    return X2


__all__ = ["activation_codes", "affine_map", "affine_maps", "templates", "template_cosines"]
