r"""Any ReLU network as a stack of max-affine-spline layers (THEORY G).

Every network this package handles -- a two-layer (gated) :class:`~convexnn.Network`, a
:class:`~convexnn.DeepNetwork`, a torch ``nn.Sequential`` of ``Linear`` / ``ReLU`` /
``LeakyReLU`` layers, or a list of ``(W, b, activation)`` triples -- is turned into a
:class:`LayerStack` of :class:`Layer` objects, each computing

.. math::  z = W h + b, \qquad
           \sigma(z)_k = \big(q_k + (1 - q_k)\,\eta_k\big)\, z_k,

with the code :math:`q_k = 1[z_k > 0]` (a max-affine spline with R = 2 pieces of slopes
:math:`(W_k, \eta_k W_k)`; ReLU :math:`\eta_k = 0`, leaky ReLU :math:`\eta_k = \eta`) or, for
a gated unit with fixed gate :math:`(g_k, g_{0k})`, :math:`q_k = 1[g_k^\top h + g_{0k} \ge 0]`
(Mishkin et al. 2022).  Units with :math:`\eta_k = 1` are linear: they carry no code and
never split a region.  A two-layer network's skip term :math:`X\,\mathrm{skip}` is carried
by such linear pass-through units, so every network is one composition of MASOs.

torch is never imported here: a torch module can only be passed in once torch has been
imported by the caller, so it is recognised through ``sys.modules``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..core.validation import check_array
from ..networks.deep import DeepNetwork
from ..networks.two_layer import Network

#: Negative-side slope of each named activation.
ACTIVATION_SLOPES = {"relu": 0.0, "linear": 1.0}


@dataclass(frozen=True, eq=False)
class Layer:
    r"""One MASO layer :math:`h \mapsto (q + (1-q)\eta) \odot (W h + b)`.

    Parameters
    ----------
    W : ndarray of shape (D_out, D_in)
    b : ndarray of shape (D_out,)
    eta : ndarray of shape (D_out,)
        Slope of each unit for a negative code (0: ReLU, 1: linear, else leaky ReLU).
    G, g0 : ndarray of shape (D_out, D_in) and (D_out,), or None
        Fixed gates: the code is :math:`q = 1[G h + g_0 \ge 0]` instead of :math:`1[z > 0]`.
    """

    W: np.ndarray
    b: np.ndarray
    eta: np.ndarray
    G: np.ndarray | None = None
    g0: np.ndarray | None = None

    @property
    def coded(self) -> np.ndarray:
        """Boolean mask of the units whose code matters (:math:`\\eta_k \\ne 1`)."""
        return self.eta != 1.0

    @property
    def n_coded(self) -> int:
        """:math:`D_l`, the number of coded units."""
        return int(np.count_nonzero(self.coded))

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


@dataclass(frozen=True, eq=False)
class LayerStack:
    r"""A network :math:`f = \sigma_L \circ \cdots \circ \sigma_1` of :class:`Layer` objects.

    Attributes
    ----------
    layers : tuple of Layer
    input_dim : int
        d.
    n_outputs : int
        C, the number of outputs (rows of :math:`A[x]`).
    """

    layers: tuple[Layer, ...]

    @property
    def input_dim(self) -> int:
        return self.layers[0].W.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].W.shape[0]

    @property
    def code_layers(self) -> list[int]:
        """Indices of the layers with at least one coded unit (they define the regions)."""
        return [i for i, layer in enumerate(self.layers) if layer.n_coded]

    @property
    def code_sizes(self) -> list[int]:
        """:math:`D_l` for each code layer."""
        return [self.layers[i].n_coded for i in self.code_layers]

    def check_inputs(self, name: str, X: Any) -> tuple[np.ndarray, bool]:
        """Validate ``X`` of shape (d,) or (n, d); return it as (n, d) and whether it was 1-D."""
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
            Z = H @ layer.W.T + layer.b
            q = layer.code(layer.switch(H))
            if layer.n_coded:
                codes.append(q[:, layer.coded])
            H = layer.slopes(q) * Z
        return H, codes

    def affine(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Per-input affine maps by the explicit product (THEORY G), for trusted (n, d) X.

        .. math::  A[x] = Q_L W_L Q_{L-1} W_{L-1} \cdots Q_1 W_1, \qquad
                   b[x] = \sum_{l=1}^{L} Q_L W_L \cdots Q_{l+1} W_{l+1} Q_l b_l,

        evaluated right to left as :math:`M_l = Q_l W_l M_{l-1}`,
        :math:`c_l = Q_l (W_l c_{l-1} + b_l)` from :math:`M_0 = I, c_0 = 0` (for a linear
        output layer :math:`Q_L = I`).  Returns A (n, C, d) and b (n, C).
        """
        n, d = X.shape
        H = X
        M = np.broadcast_to(np.eye(d), (n, d, d))
        c = np.zeros((n, d))
        for layer in self.layers:
            s = layer.slopes(layer.code(layer.switch(H)))           # diag of Q_l, (n, D)
            M = s[:, :, None] * np.einsum("ij,njk->nik", layer.W, M)
            c = s * (c @ layer.W.T + layer.b)
            H = s * (H @ layer.W.T + layer.b)
        return M, c


def _network_layers(net: Network) -> tuple[Layer, ...]:
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


def _deep_layers(net: DeepNetwork) -> tuple[Layer, ...]:
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


def _triple_layers(triples: Sequence) -> tuple[Layer, ...]:
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


def _torch_leaves(module: Any, nn: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += _torch_leaves(child, nn, f"{prefix}{name}.")
        return out
    return [(prefix.rstrip(".") or type(module).__name__, module)]


def _torch_layers(module: Any, torch: Any) -> tuple[Layer, ...]:
    nn = torch.nn
    leaves = [(n, m) for n, m in _torch_leaves(module, nn) if not isinstance(m, nn.Identity)]
    linears = [m for _, m in leaves if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model: the torch module has no nn.Linear layer")
    width = linears[0].in_features
    triples: list[list] = []       # [W, b, slope or None (no activation yet)]
    for name, m in leaves:
        if isinstance(m, nn.Linear):
            W = m.weight.detach().to("cpu", torch.float64).numpy()
            b = (np.zeros(W.shape[0]) if m.bias is None
                 else m.bias.detach().to("cpu", torch.float64).numpy())
            triples.append([W, b, None])
            width = W.shape[0]
        elif isinstance(m, nn.ReLU | nn.LeakyReLU):
            eta = 0.0 if isinstance(m, nn.ReLU) else float(m.negative_slope)
            if not triples or triples[-1][2] is not None:
                # an activation not right after a Linear acts on an identity layer
                triples.append([np.eye(width), np.zeros(width), None])
            triples[-1][2] = eta
        else:
            raise TypeError(f"model: layer {name!r} of type {type(m).__name__} is not supported; "
                            "use nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Identity in nn.Sequential")
    return _triple_layers([(W, b, 1.0 if eta is None else eta) for W, b, eta in triples])


def as_layers(model: Any) -> LayerStack:
    r"""Convert a network to a :class:`LayerStack` of MASO layers (THEORY G).

    Parameters
    ----------
    model : Network, DeepNetwork, torch.nn.Module, LayerStack or list of (W, b, activation)
        A torch model must be an ``nn.Linear`` or (nested) ``nn.Sequential`` of ``Linear``,
        ``ReLU``, ``LeakyReLU`` and ``Identity`` layers; its weights are copied as float64.
        In a list of triples ``W`` has shape (D_out, D_in) and ``activation`` is "relu",
        "linear", "leaky_relu" (slope 0.01) or a float negative-side slope.

    Returns
    -------
    LayerStack

    Raises
    ------
    TypeError
        For an unsupported object or torch layer (the message names the layer).
    """
    if isinstance(model, LayerStack):
        return model
    if isinstance(model, Network):
        return LayerStack(_network_layers(model))
    if isinstance(model, DeepNetwork):
        return LayerStack(_deep_layers(model))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return LayerStack(_torch_layers(model, torch))
    if isinstance(model, list | tuple):
        return LayerStack(_triple_layers(model))
    raise TypeError("model must be a Network, DeepNetwork, torch nn.Sequential, LayerStack or "
                    f"a list of (W, b, activation) triples; got {type(model).__name__}")


__all__ = ["Layer", "LayerStack", "as_layers"]
