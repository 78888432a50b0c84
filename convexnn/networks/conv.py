r"""Two-layer convolutional networks (THEORY D): a ReLU convolution, sum or mean pooling,
and a linear output.

A :class:`ConvNetwork` with m filters :math:`u_j \in \mathbb R^{C\times p_h\times p_w}`,
biases :math:`b_j` and output weights :math:`\alpha_j` computes, over the K patches
:math:`x_k` of an image (:class:`~convexnn.core.conv.Conv`),

.. math::  f(x) = \sum_j \alpha_j\,\rho\sum_k (x_k^\top u_j + b_j)_+ + c_0,
           \qquad \rho = 1/K \text{ (mean) or } 1 \text{ (sum)},

and its training objective (THEORY section 0) is

.. math::  \ell(f(X); y) + \tfrac{\beta}{2}\big(\|U\|_F^2 + \|\alpha\|^2
           \;[+\,\|b\|^2 \text{ if the bias is regularized}]\big),

the output constant :math:`c_0` being free.  It is the network of ``nn.Conv2d`` ->
ReLU -> average (sum) pooling -> ``nn.Linear`` (:meth:`ConvNetwork.to_torch`).  Saved as
``.npz`` with a JSON header, never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.conv import Conv
from ..core.losses import Loss, get_loss
from .files import FORMAT_VERSION, file_error, header_field, read_network_file

_FORMAT = "convexnn.ConvNetwork/1"


@dataclass(frozen=True, eq=False)
class ConvNetwork:
    r"""A two-layer ReLU CNN (see the module docstring).

    Parameters
    ----------
    filters : ndarray of shape (m, C, p_h, p_w)
        The convolution's filters (a torch ``Conv2d`` weight).
    W2 : ndarray of shape (m,) or (m, c)
        Output weights :math:`\alpha_j`.
    conv : Conv
        Patch size, stride and pooling (its patch and stride as pairs, as the filters).
    b1 : ndarray of shape (m,), default=zeros
        The filters' biases.
    c0 : float or ndarray of shape (c,), default=0
        Free output constant.
    regularize_bias : bool, default=False
        Whether ``b1`` is part of the weight-decay penalty.
    training, meta : dict
        The settings it was trained with (``loss``, ``beta``, ``bias``, ``output_bias``),
        and free-form notes; saved and loaded.
    """

    filters: np.ndarray
    W2: np.ndarray
    conv: Conv
    b1: np.ndarray = None  # type: ignore[assignment]
    c0: Any = 0.0
    regularize_bias: bool = False
    training: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        F = np.asarray(self.filters, dtype=np.float64)
        if F.ndim != 4:
            raise ValueError(f"filters must have shape (m, C, p_h, p_w); got {F.shape}")
        m = F.shape[0]
        W2 = np.asarray(self.W2, dtype=np.float64)
        if W2.ndim not in (1, 2) or W2.shape[0] != m:
            raise ValueError(f"W2 must have shape ({m},) or ({m}, c); got {W2.shape}")
        b1 = np.zeros(m) if self.b1 is None else np.asarray(self.b1, dtype=np.float64)
        if b1.shape != (m,):
            raise ValueError(f"b1 must have shape ({m},); got {b1.shape}")
        if not isinstance(self.conv, Conv):
            raise TypeError(f"conv must be a convexnn.Conv; got {type(self.conv).__name__}")
        conv = Conv(patch=tuple(F.shape[2:]), stride=self.conv.strides(F.shape[1:]),
                    pooling=self.conv.pooling)
        c0 = np.asarray(self.c0, dtype=np.float64)
        c0 = float(c0.reshape(())) if W2.ndim == 1 else np.broadcast_to(c0, (W2.shape[1],)).copy()
        for name, val in (("filters", F), ("W2", W2), ("b1", b1), ("c0", c0)):
            if not np.all(np.isfinite(val)):
                raise ValueError(f"network parameter {name} contains NaN or inf")
        for name, val in (("filters", F), ("W2", W2), ("b1", b1), ("c0", c0), ("conv", conv),
                          ("regularize_bias", bool(self.regularize_bias))):
            object.__setattr__(self, name, val)

    # ---- shape -------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of filters (hidden channels) m."""
        return self.filters.shape[0]

    @property
    def in_channels(self) -> int:
        return self.filters.shape[1]

    @property
    def n_outputs(self) -> int:
        return 1 if self.W2.ndim == 1 else self.W2.shape[1]

    @property
    def W1(self) -> np.ndarray:
        """The filters flattened, shape (m, h): row j is :math:`u_j` in patch order."""
        return self.filters.reshape(self.width, -1)

    def lifted_directions(self, bias_column: bool) -> np.ndarray:
        r""":math:`(u_j, b_j)` (or :math:`u_j` alone), the nonzero ones, shape (m', h + 1)
        or (m', h): filter j's pattern on the stacked patches is :math:`1[Zu_j \ge 0]`."""
        U = np.hstack([self.W1, self.b1[:, None]]) if bias_column else self.W1
        return U[np.linalg.norm(U, axis=1) > 0]

    # ---- forward -----------------------------------------------------------------------
    def _images(self, X: Any) -> np.ndarray:
        imgs = Conv.images(X)
        if imgs.shape[1] != self.in_channels:
            raise ValueError(f"X has {imgs.shape[1]} channels; the network expects {self.in_channels}")
        return imgs

    def hidden(self, X: Any) -> np.ndarray:
        r"""Pooled features :math:`\rho\sum_k (x_k^\top u_j + b_j)_+`, shape (n, m)."""
        P = self.conv.patches(self._images(X))  # (n, K, h)
        H = np.maximum(P @ self.W1.T + self.b1, 0.0)
        return H.mean(axis=1) if self.conv.mean else H.sum(axis=1)

    def predict(self, X: Any) -> np.ndarray:
        r""":math:`f(X)`, shape (n,) or (n, c)."""
        return self.hidden(X) @ self.W2 + self.c0

    __call__ = predict

    def activation_patterns(self, X: Any) -> np.ndarray:
        r""":math:`1[x_k^\top u_j + b_j \ge 0]` on the stacked patches, shape (nK, m) (row
        :math:`kn + i`: patch k of image i)."""
        Z = self.conv.stacked(self._images(X), bias=True)
        return Z @ np.hstack([self.W1, self.b1[:, None]]).T >= 0

    # ---- objective ---------------------------------------------------------------------
    def penalty(self) -> float:
        r""":math:`\tfrac12(\|U\|_F^2 + \|W_2\|_F^2 [+ \|b_1\|^2])` (times beta in the objective)."""
        sq = np.sum(self.filters**2) + np.sum(self.W2**2)
        if self.regularize_bias:
            sq += np.sum(self.b1**2)
        return 0.5 * float(sq)

    def objective(self, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared") -> float:
        r""":math:`\ell(f(X); y) + \beta \cdot` :meth:`penalty`."""
        return get_loss(loss).value(self.predict(X), np.asarray(y, dtype=np.float64)) \
            + float(beta) * self.penalty()

    # ---- torch -------------------------------------------------------------------------
    def to_torch(self, *, bias: str | None = None, output_bias: bool | None = None,
                 dtype: Any = None):
        """The torch twin (:class:`convexnn.training.conv_module.ConvModule`: ``nn.Conv2d``,
        ReLU, pooling, ``nn.Linear``), float64 by default.  The convolution has a bias
        unless ``bias="none"``, the head a trainable constant when ``output_bias``
        (defaults: as trained, else inferred from the weights)."""
        import torch

        from ..core.variant import Variant
        from ..training.conv_module import ConvModule

        bias = self.training.get("bias") if bias is None else bias
        has_bias = (Variant(bias=bias).has_bias if bias is not None
                    else self.regularize_bias or bool(np.any(self.b1 != 0)))
        if not has_bias and np.any(self.b1 != 0):
            raise ValueError("bias='none' but the network has nonzero filter biases b1")
        if output_bias is None:
            output_bias = bool(self.training.get("output_bias", np.any(np.asarray(self.c0) != 0)))
        if not output_bias and np.any(np.asarray(self.c0) != 0):
            raise ValueError("output_bias=False but the network has a nonzero output constant c0")
        return ConvModule(self.filters, self.W2, conv=self.conv,
                          b1=self.b1 if has_bias else None,
                          c0=self.c0 if output_bias else None,
                          regularize_bias=self.regularize_bias,
                          dtype=torch.float64 if dtype is None else dtype)

    @classmethod
    def coerce(cls, net: Any) -> ConvNetwork:
        """``net`` as a ConvNetwork: itself, or the network of a torch ConvModule (an
        ``init=`` seed)."""
        if isinstance(net, ConvNetwork):
            return net
        if not hasattr(net, "state_dict"):
            raise TypeError(f"init must be ConvNetworks or ConvModules; got {type(net).__name__}")
        return cls.from_torch(net)

    @classmethod
    def from_torch(cls, module: Any) -> ConvNetwork:
        """The network of a :class:`~convexnn.training.conv_module.ConvModule` (float64)."""
        from ..training.conv_module import ConvModule, to_numpy

        if not isinstance(module, ConvModule):
            raise TypeError(f"module must be a ConvModule; got {type(module).__name__}")
        W2 = to_numpy(module.head.weight).T
        head_bias = to_numpy(module.head.bias)
        if module.scalar:
            W2, c0 = W2[:, 0], 0.0 if head_bias is None else float(head_bias[0])
        else:
            c0 = np.zeros(W2.shape[1]) if head_bias is None else head_bias
        b1 = to_numpy(module.conv.bias)
        return cls(filters=to_numpy(module.conv.weight), W2=W2, conv=module.spec, b1=b1, c0=c0,
                   regularize_bias=module.regularize_bias,
                   meta={"output_bias": head_bias is not None})

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save as ``.npz`` (arrays plus a JSON header); never pickle."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        header = {"format": _FORMAT, "format_version": FORMAT_VERSION,
                  "stride": list(self.conv.stride), "pooling": self.conv.pooling,
                  "regularize_bias": self.regularize_bias, "training": self.training,
                  "meta": self.meta}
        np.savez(path, header=np.asarray(json.dumps(header)), filters=self.filters,
                 b1=self.b1, W2=self.W2, c0=np.asarray(self.c0))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ConvNetwork:
        """Load a network written by :meth:`save` (a damaged or foreign file raises
        :class:`~convexnn.exceptions.NetworkFileError` naming it)."""
        header, arrays = read_network_file(path, "ConvNetwork", (_FORMAT,),
                                           ("filters", "b1", "W2", "c0"))
        extra = sorted(set(arrays) - {"filters", "b1", "W2", "c0"})
        if extra:
            raise file_error(path, f"its arrays {sorted(arrays)} do not match a ConvNetwork")
        stride = header_field(path, header, "stride", list)
        pooling = header_field(path, header, "pooling", str)
        c0 = arrays.pop("c0")
        try:
            conv = Conv(patch=tuple(arrays["filters"].shape[2:]), stride=tuple(stride),
                        pooling=pooling)
            return cls(conv=conv, c0=c0 if c0.ndim else float(c0),
                       regularize_bias=header_field(path, header, "regularize_bias", bool),
                       training=header_field(path, header, "training", dict, {}),
                       meta=header_field(path, header, "meta", dict, {}), **arrays)
        except (ValueError, TypeError) as e:
            raise file_error(path, f"its arrays are inconsistent ({e})") from None

    def __repr__(self) -> str:
        (ph, pw), (sh, sw) = self.conv.patch, self.conv.stride
        return (f"ConvNetwork(width={self.width}, in_channels={self.in_channels}, "
                f"patch={ph}x{pw}, stride=({sh}, {sw}), pooling={self.conv.pooling!r}, "
                f"n_outputs={self.n_outputs}, regularize_bias={self.regularize_bias})")


__all__ = ["ConvNetwork"]
