r"""Deep fully connected networks :math:`f = W_L\sigma(\cdots\sigma(W_1x + b_1)\cdots) + b_L`
(:class:`DeepNetwork`), for the deep-linear and deep-ReLU closed forms (THEORY E.2, E.3) and
the spline view (THEORY G).  No torch import: :meth:`DeepNetwork.to_torch` loads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_array
from .files import FORMAT_VERSION, file_error, header_field, read_network_file
from .two_layer import Network, _as2d

_DEEP_FORMAT = "convexnn.DeepNetwork/1"

_ACTIVATIONS = ("relu", "linear", "leaky_relu")


@dataclass(frozen=True, eq=False)
class DeepNetwork:
    r"""An MLP :math:`f(x) = W_L \sigma(\cdots \sigma(W_1 x + b_1) \cdots) + b_L`.

    Parameters
    ----------
    weights : list of ndarray
        ``weights[l]`` has shape (d_{l+1}, d_l) (torch's ``nn.Linear`` convention).
    biases : list of ndarray, default=zeros
        ``biases[l]`` has shape (d_{l+1},).
    activation : {"relu", "linear", "leaky_relu"}, default="relu"
    negative_slope : float, default=0.01
        Slope of the leaky ReLU for negative inputs.
    regularize_bias : bool, default=False
        Whether the biases enter the penalty :math:`\tfrac12\sum_l \|W_l\|_F^2 [+\|b_l\|^2]`.
    """

    weights: list
    biases: list = None  # type: ignore[assignment]
    activation: str = "relu"
    negative_slope: float = 0.01
    regularize_bias: bool = False

    def __post_init__(self) -> None:
        Ws = [np.asarray(W, dtype=np.float64) for W in self.weights]
        if not Ws:
            raise ValueError("weights is empty")
        for l, W in enumerate(Ws):
            if W.ndim != 2:
                raise ValueError(f"weights[{l}] must be 2-D; got shape {W.shape}")
            if l and W.shape[1] != Ws[l - 1].shape[0]:
                raise ValueError(f"weights[{l}] has {W.shape[1]} inputs; layer {l - 1} has {Ws[l - 1].shape[0]} outputs")
        bs = [np.zeros(W.shape[0]) for W in Ws] if self.biases is None else [np.asarray(b, np.float64) for b in self.biases]
        if len(bs) != len(Ws) or any(b.shape != (W.shape[0],) for b, W in zip(bs, Ws)):
            raise ValueError("biases must be one (d_{l+1},) vector per layer")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}")
        object.__setattr__(self, "weights", Ws)
        object.__setattr__(self, "biases", bs)

    @property
    def depth(self) -> int:
        return len(self.weights)

    def sigma(self, Z: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return np.maximum(Z, 0.0)
        if self.activation == "leaky_relu":
            return np.where(Z >= 0, Z, self.negative_slope * Z)
        return Z

    def preactivations(self, X: Any) -> list[np.ndarray]:
        """Pre-activations of every hidden layer, each (n, d_l)."""
        H = check_array("X", X, ndim=2)
        out = []
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            Z = H @ W.T + b
            out.append(Z)
            H = self.sigma(Z)
        return out

    def predict(self, X: Any) -> np.ndarray:
        H = check_array("X", X, ndim=2)
        if H.shape[1] != self.weights[0].shape[1]:
            raise ValueError(f"X has {H.shape[1]} features; the network expects {self.weights[0].shape[1]}")
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            H = self.sigma(H @ W.T + b)
        out = H @ self.weights[-1].T + self.biases[-1]
        return out[:, 0] if out.shape[1] == 1 else out

    __call__ = predict

    def penalty(self) -> float:
        r""":math:`\tfrac12 \sum_l (\|W_l\|_F^2 [+ \|b_l\|^2])`."""
        sq = sum(float(np.sum(W**2)) for W in self.weights)
        if self.regularize_bias:
            sq += sum(float(np.sum(b**2)) for b in self.biases)
        return 0.5 * sq

    def objective(self, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared") -> float:
        r""":math:`\ell(f(X); y) + \beta\cdot` :meth:`penalty`."""
        return get_loss(loss).value(self.predict(X), np.asarray(y, np.float64)) + float(beta) * self.penalty()

    @classmethod
    def from_network(cls, net: Network) -> DeepNetwork:
        """The two-layer ReLU ``net`` as a depth-2 MLP (skip term must be zero)."""
        if net.gates is not None:
            raise ValueError("a gated network is not an MLP")
        if np.any(net.skip != 0):
            raise ValueError("a network with a skip term is not a plain MLP")
        W2 = _as2d(net.W2).T
        return cls([net.W1, W2], [net.b1, np.atleast_1d(np.asarray(net.c0, float))],
                   regularize_bias=net.regularize_bias)

    def to_torch(self, *, dtype: Any = None):
        """An ``nn.Sequential`` (:class:`convexnn.training.MLPModule`) with the same
        predictions and penalty (float64 by default)."""
        import torch
        from torch import nn

        from ..training.modules import MLPModule

        dtype = torch.float64 if dtype is None else dtype
        act = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(self.negative_slope)}.get(
            self.activation, nn.Identity)
        layers: list = []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(W, dtype=dtype))
                lin.bias.copy_(torch.as_tensor(b, dtype=dtype))
            layers.append(lin)
            if l < self.depth - 1:
                layers.append(act())
        return MLPModule(*layers, regularize_bias=self.regularize_bias)

    @classmethod
    def from_torch(cls, module: Any) -> DeepNetwork:
        """The MLP of an ``nn.Sequential`` of ``nn.Linear`` layers separated by one
        activation kind (``nn.ReLU``, ``nn.LeakyReLU`` or none / ``nn.Identity``)."""
        from torch import nn

        from ..training.modules import to_numpy

        if not isinstance(module, nn.Sequential):
            raise TypeError(f"module must be an nn.Sequential; got {type(module).__name__}")
        Ws, bs, acts = [], [], set()
        for layer in module:
            if isinstance(layer, nn.Linear):
                Ws.append(to_numpy(layer.weight))
                bs.append(np.zeros(layer.out_features) if layer.bias is None
                          else to_numpy(layer.bias))
            elif isinstance(layer, nn.ReLU):
                acts.add(("relu", 0.01))
            elif isinstance(layer, nn.LeakyReLU):
                acts.add(("leaky_relu", float(layer.negative_slope)))
            elif not isinstance(layer, nn.Identity):
                raise ValueError(f"unsupported layer {type(layer).__name__} in an MLP")
        if len(acts) > 1:
            raise ValueError(f"the MLP mixes activations {sorted(acts)}; DeepNetwork has one")
        activation, slope = acts.pop() if acts else ("linear", 0.01)
        return cls(Ws, bs, activation=activation, negative_slope=slope,
                   regularize_bias=getattr(module, "regularize_bias", False))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        header = {"format": _DEEP_FORMAT, "format_version": FORMAT_VERSION,
                  "activation": self.activation,
                  "negative_slope": self.negative_slope, "regularize_bias": self.regularize_bias,
                  "depth": self.depth}
        arrays = {f"W{l}": W for l, W in enumerate(self.weights)}
        arrays.update({f"b{l}": b for l, b in enumerate(self.biases)})
        np.savez(path, header=np.asarray(json.dumps(header)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DeepNetwork:
        """Load an MLP written by :meth:`save` (a damaged or foreign file raises
        :class:`~convexnn.exceptions.NetworkFileError` naming it)."""
        header, arrays = read_network_file(path, "DeepNetwork", (_DEEP_FORMAT,), ())
        L = header_field(path, header, "depth", int)
        names = [f"{p}{l}" for l in range(max(L, 0)) for p in "Wb"]
        if L < 1 or sorted(names) != sorted(arrays):
            raise file_error(path, f"its arrays {sorted(arrays)} do not match depth {L}")
        settings = {"activation": header_field(path, header, "activation", str),
                    "negative_slope": header_field(path, header, "negative_slope", (int, float)),
                    "regularize_bias": header_field(path, header, "regularize_bias", bool)}
        try:
            return cls([arrays[f"W{l}"] for l in range(L)], [arrays[f"b{l}"] for l in range(L)],
                       **settings)
        except (ValueError, TypeError) as e:
            raise file_error(path, f"its arrays are inconsistent ({e})") from None


__all__ = ["DeepNetwork"]
