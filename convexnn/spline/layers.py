r"""Networks as stacks of max-affine-spline operators (MASOs, THEORY G).

Every network this package handles -- a two-layer (gated) :class:`~convexnn.Network`, a
:class:`~convexnn.DeepNetwork`, a torch ``nn.Sequential`` (MLP or CNN, see
:mod:`~convexnn.spline.torch_convert`), or a list of ``(W, b, activation)`` triples -- is
turned into a :class:`LayerStack` of operators acting on flat vectors.  The basic one is
:class:`Layer`,

.. math::  z = W h + b, \qquad
           \sigma(z)_k = \big(q_k + (1 - q_k)\,\eta_k\big)\, z_k,

with the code :math:`q_k = 1[z_k > 0]` (a max-affine spline with R = 2 pieces of slopes
:math:`(W_k, \eta_k W_k)`; ReLU :math:`\eta_k = 0`, leaky ReLU :math:`\eta_k = \eta`,
absolute value :math:`\eta_k = -1`) or, for a gated unit with fixed gate
:math:`(g_k, g_{0k})`, :math:`q_k = 1[g_k^\top h + g_{0k} \ge 0]` (Mishkin et al. 2022).
Units with :math:`\eta_k = 1` are linear: they carry no code and never split a region.  A
two-layer network's skip term :math:`X\,\mathrm{skip}` is carried by such linear
pass-through units; convolutions, average pooling and batch norm are linear layers with
dense matrices.  Max pooling and residual blocks are the operators
:class:`~convexnn.spline.operators.MaxPool` and
:class:`~convexnn.spline.operators.ResidualBlock`.

Every operator has ``in_dim``, ``out_dim``, ``code_sizes`` and two methods:

* ``apply(H) -> (H_out, codes)``: the forward pass of a batch (n, D_in) and its codes, a
  list of (n, D_l) arrays (bool for ReLU-type units, int argmax indices for max pooling);
* ``push(M, c, codes) -> (M, c)``: the local affine map of given codes applied to an affine
  map :math:`h = M u + c` of some coordinates u (M of shape (n, D_in, k)), consuming the
  codes from an iterator.  With u = x this is the product of THEORY G; with u = t or
  (s, t) it carries a segment or a 2-D slice.

torch is never imported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..core.validation import check_array
from ..networks.deep import DeepNetwork
from ..networks.two_layer import Network

#: Negative-side slope of each named activation.
ACTIVATION_SLOPES = {"relu": 0.0, "linear": 1.0}
#: Inputs per chunk of the batched affine product (bounds the (n, D, d) arrays).
AFFINE_CHUNK = 64


@dataclass(frozen=True, eq=False)
class Layer:
    r"""One MASO layer :math:`h \mapsto (q + (1-q)\eta) \odot (W h + b)`.

    Parameters
    ----------
    W : ndarray of shape (D_out, D_in)
    b : ndarray of shape (D_out,)
    eta : ndarray of shape (D_out,)
        Slope of each unit for a negative code (0: ReLU, 1: linear, -1: absolute value,
        else leaky ReLU).
    G, g0 : ndarray of shape (D_out, D_in) and (D_out,), or None
        Fixed gates: the code is :math:`q = 1[G h + g_0 \ge 0]` instead of :math:`1[z > 0]`.
    """

    W: np.ndarray
    b: np.ndarray
    eta: np.ndarray
    G: np.ndarray | None = None
    g0: np.ndarray | None = None

    @property
    def in_dim(self) -> int:
        return self.W.shape[1]

    @property
    def out_dim(self) -> int:
        return self.W.shape[0]

    @property
    def coded(self) -> np.ndarray:
        """Boolean mask of the units whose code matters (:math:`\\eta_k \\ne 1`)."""
        return self.eta != 1.0

    @property
    def n_coded(self) -> int:
        """:math:`D_l`, the number of coded units."""
        return int(np.count_nonzero(self.coded))

    @property
    def code_sizes(self) -> list[int]:
        return [self.n_coded] if self.n_coded else []

    def switch(self, H: np.ndarray) -> np.ndarray:
        r"""The quantity whose sign is the code: :math:`G h + g_0` (gated) or :math:`W h + b`."""
        if self.G is None:
            return H @ self.W.T + self.b
        return H @ self.G.T + self.g0

    def code(self, u: np.ndarray) -> np.ndarray:
        r"""Code :math:`q = 1[u > 0]` (ReLU) or :math:`1[u \ge 0]` (gates, as in Network)."""
        return u >= 0 if self.G is not None else u > 0

    def slopes(self, q: np.ndarray) -> np.ndarray:
        r"""Diagonal of :math:`Q_l`: :math:`q + (1 - q)\eta`."""
        return np.where(q, 1.0, self.eta)

    def switch_codes(self, u: np.ndarray) -> list[np.ndarray]:
        """The codes of the coded units from switch values u (a list of 0 or 1 arrays)."""
        return [self.code(u)[..., self.coded]] if self.n_coded else []

    def apply(self, H: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Forward pass of a batch (n, D_in) and its codes (a list of 0 or 1 arrays)."""
        q = self.code(self.switch(H))
        out = self.slopes(q) * (H @ self.W.T + self.b)
        return out, ([q[:, self.coded]] if self.n_coded else [])

    def push(self, M: np.ndarray, c: np.ndarray, codes: Iterator[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`M \leftarrow Q W M`, :math:`c \leftarrow Q (W c + b)` for the given codes."""
        s = np.ones((M.shape[0], self.out_dim))
        if self.n_coded:
            s[:, self.coded] = np.where(next(codes), 1.0, self.eta[self.coded])
        return s[:, :, None] * (self.W @ M), s * (c @ self.W.T + self.b)


@dataclass(frozen=True, eq=False)
class LayerStack:
    r"""A network :math:`f = S_L \circ \cdots \circ S_1` of MASO operators on flat vectors.

    Attributes
    ----------
    layers : tuple of Layer, MaxPool or ResidualBlock
    input_shape : tuple of int or None
        Shape of one input (e.g. (C, H, W) for a CNN); inputs of shape ``(n, *input_shape)``
        are flattened in C order.  None: inputs are flat vectors.
    input_dim : int
        d.
    n_outputs : int
        C, the number of outputs (rows of :math:`A[x]`).
    """

    layers: tuple[Any, ...]
    input_shape: tuple[int, ...] | None = None

    @property
    def input_dim(self) -> int:
        return self.layers[0].in_dim

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].out_dim

    @property
    def code_sizes(self) -> list[int]:
        """:math:`D_l` for each code layer (the units of a residual block's layers included)."""
        return [size for layer in self.layers for size in layer.code_sizes]

    def check_inputs(self, name: str, X: Any) -> tuple[np.ndarray, bool]:
        """Validate ``X`` of shape (d,), (n, d), input_shape or ``(n, *input_shape)``; return
        it as (n, d) and whether it was one input."""
        shape = self.input_shape
        X_shape = np.shape(X)
        flat = len(X_shape) == 1 or (len(X_shape) == 2 and X_shape[1] == self.input_dim)
        if shape is not None and len(shape) > 1 and not flat:
            if X_shape in (shape, X_shape[:1] + shape):
                X = check_array(name, X, ndim=(len(shape), len(shape) + 1))
                single = X_shape == shape
                return X.reshape(1 if single else len(X), -1), single
            if len(X_shape) > 2:
                raise ValueError(f"{name} has shape {X_shape}; the network expects inputs of "
                                 f"shape {shape} (or flat, {self.input_dim} features)")
        X = check_array(name, X, ndim=(1, 2))
        single = X.ndim == 1
        X2 = X[None, :] if single else X
        if X2.shape[1] != self.input_dim:
            raise ValueError(f"{name} has {X2.shape[1]} features; the network expects {self.input_dim}")
        return X2, single

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Outputs (n, C) and the codes (n, D_l) of every code layer, for trusted (n, d) X."""
        H, codes = X, []
        for layer in self.layers:
            H, q = layer.apply(H)
            codes += q
        return H, codes

    def push(self, M: np.ndarray, c: np.ndarray, codes: Sequence[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
        """Push the affine map :math:`h = M u + c` (M (n, d, k)) through every layer with
        the given codes (a list of (n, D_l) arrays)."""
        it = iter(codes)
        for layer in self.layers:
            M, c = layer.push(M, c, it)
        return M, c

    def affine_from_codes(self, codes: Sequence[np.ndarray], n: int = 1
                          ) -> tuple[np.ndarray, np.ndarray]:
        r"""Affine maps of the regions with the given codes: A (n, C, d) and b (n, C).

        .. math::  A = Q_L W_L Q_{L-1} W_{L-1} \cdots Q_1 W_1, \qquad
                   b = \sum_{l=1}^{L} Q_L W_L \cdots Q_{l+1} W_{l+1} Q_l b_l,

        evaluated right to left as :math:`M_l = Q_l W_l M_{l-1}`,
        :math:`c_l = Q_l (W_l c_{l-1} + b_l)` from :math:`M_0 = I, c_0 = 0` (a max pool
        selects rows, a residual block adds its input's map), in chunks of
        :data:`AFFINE_CHUNK` regions.  ``codes`` is a list of (n, D_l) arrays; a network
        without codes (linear) has one region, repeated ``n`` times.
        """
        if not codes:
            A, b = self.push(np.eye(self.input_dim)[None], np.zeros((1, self.input_dim)), [])
            return np.repeat(A, n, 0), np.repeat(b, n, 0)
        n, d = len(codes[0]), self.input_dim
        A, b = np.empty((n, self.n_outputs, d)), np.empty((n, self.n_outputs))
        for lo in range(0, n, AFFINE_CHUNK):
            hi = min(lo + AFFINE_CHUNK, n)
            M0 = np.broadcast_to(np.eye(d), (hi - lo, d, d))
            A[lo:hi], b[lo:hi] = self.push(M0, np.zeros((hi - lo, d)), [q[lo:hi] for q in codes])
        return A, b

    def affine(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-input affine maps by the explicit product (THEORY G), for trusted (n, d) X:
        the codes of X, then :meth:`affine_from_codes`.  Returns A (n, C, d) and b (n, C)."""
        _, codes = self.forward(X)
        return self.affine_from_codes(codes, len(X))


def network_layers(net: Network) -> tuple[Layer, ...]:
    # f(x) = sigma(W1 x + b1)^T W2 + skip^T x + c0: the skip term rides on d linear units.
    m, d = net.W1.shape
    W2 = net.W2[:, None] if net.W2.ndim == 1 else net.W2            # (m, C)
    skip = net.skip[:, None] if net.skip.ndim == 1 else net.skip    # (d, C)
    c0 = np.atleast_1d(np.asarray(net.c0, dtype=np.float64))
    has_skip = bool(np.any(skip != 0))
    W, b, eta = net.W1, net.b1, np.zeros(m)
    G, g0 = net.gates, net.gate_bias
    W_out = W2.T
    if has_skip:
        W, b, eta = np.vstack([W, np.eye(d)]), np.concatenate([b, np.zeros(d)]), np.concatenate([eta, np.ones(d)])
        if G is not None:
            G, g0 = np.vstack([G, np.zeros((d, d))]), np.concatenate([g0, np.ones(d)])
        W_out = np.hstack([W2.T, skip.T])
    hidden = Layer(W, b, eta, G, g0)
    return hidden, Layer(W_out, c0, np.ones(W_out.shape[0]))


def deep_layers(net: DeepNetwork) -> tuple[Layer, ...]:
    eta_hidden = {"relu": 0.0, "linear": 1.0, "leaky_relu": float(net.negative_slope)}[net.activation]
    layers = [Layer(W, b, np.full(W.shape[0], eta_hidden)) for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True)]
    W, b = net.weights[-1], net.biases[-1]
    return (*layers, Layer(W, b, np.ones(W.shape[0])))


def _slope_of(activation: Any, where: str) -> float:
    if isinstance(activation, str):
        if activation == "leaky_relu":
            return 0.01
        if activation not in ACTIVATION_SLOPES:
            raise ValueError(f"{where}: activation must be 'relu', 'linear', 'leaky_relu' or a "
                             f"negative slope (float); got {activation!r}")
        return ACTIVATION_SLOPES[activation]
    if isinstance(activation, Real) and not isinstance(activation, bool) and np.isfinite(activation):
        return float(activation)
    raise ValueError(f"{where}: activation must be a name or a finite float; got {activation!r}")


def triple_layers(triples: Sequence) -> tuple[Layer, ...]:
    layers: list[Layer] = []
    for l, triple in enumerate(triples):
        if not isinstance(triple, tuple | list) or len(triple) != 3:
            raise ValueError(f"model[{l}] must be a (W, b, activation) triple; got {triple!r}")
        W = check_array(f"model[{l}] W", triple[0], ndim=2)
        b = check_array(f"model[{l}] b", triple[1], ndim=1)
        if b.shape != (W.shape[0],):
            raise ValueError(f"model[{l}] b must have shape ({W.shape[0]},); got {b.shape}")
        if layers and W.shape[1] != layers[-1].W.shape[0]:
            raise ValueError(f"model[{l}] W has {W.shape[1]} inputs; layer {l - 1} has "
                             f"{layers[-1].W.shape[0]} outputs")
        layers.append(Layer(W, b, np.full(W.shape[0], _slope_of(triple[2], f"model[{l}]"))))
    if not layers:
        raise ValueError("model is an empty list of layers")
    return tuple(layers)


__all__ = ["Layer", "LayerStack"]
