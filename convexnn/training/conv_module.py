r"""The torch twin of :class:`convexnn.networks.conv.ConvNetwork`: ``nn.Conv2d`` -> ReLU ->
mean (sum) pooling -> ``nn.Linear``, with the penalty of THEORY section 0,

.. math::  \tfrac12\big(\|U\|_F^2 + \|\alpha\|^2\;[+\,\|b\|^2]\big),

(the output constant free), so that :func:`convexnn.training.modules.objective` of the
module equals :meth:`ConvNetwork.objective`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.conv import Conv
from .modules import to_numpy

__all__ = ["ConvModule", "random_conv_module", "to_numpy"]


def _tensor(a: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64)).to(dtype)


class ConvModule(nn.Module):
    r"""A two-layer ReLU CNN :math:`f(x) = \alpha^\top\rho\sum_k(Ux_k + b)_+ + c_0`.

    Parameters
    ----------
    filters : array of shape (m, C, p_h, p_w)
    W2 : array of shape (m,) or (m, c)
    conv : Conv
        Stride and pooling (the kernel is the filters' shape).
    b1 : array of shape (m,) or None
        Filter biases (None: a convolution without bias).
    c0 : float, array of shape (c,) or None
        Output constant (None: the linear head has no bias).
    regularize_bias : bool, default=True
        Whether the filter biases are in the penalty.
    """

    def __init__(self, filters: Any, W2: Any, *, conv: Conv, b1: Any = None, c0: Any = None,
                 regularize_bias: bool = True, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        F = np.asarray(filters, dtype=np.float64)
        m, C, ph, pw = F.shape
        W2 = np.asarray(W2, dtype=np.float64)
        self.scalar = W2.ndim == 1
        c = 1 if self.scalar else W2.shape[1]
        self.spec = Conv(patch=(ph, pw), stride=conv.strides(F.shape[1:]), pooling=conv.pooling)
        self.conv = nn.Conv2d(C, m, (ph, pw), stride=self.spec.stride, bias=b1 is not None,
                              dtype=dtype)
        self.head = nn.Linear(m, c, bias=c0 is not None, dtype=dtype)
        self.regularize_bias = bool(regularize_bias)
        with torch.no_grad():
            self.conv.weight.copy_(_tensor(F, dtype))
            if b1 is not None:
                self.conv.bias.copy_(_tensor(b1, dtype))
            self.head.weight.copy_(_tensor(W2.reshape(m, c).T, dtype))
            if c0 is not None:
                self.head.bias.copy_(_tensor(np.broadcast_to(np.asarray(c0, float), (c,)), dtype))

    @property
    def width(self) -> int:
        return int(self.conv.weight.shape[0])

    def pooled(self, X: torch.Tensor) -> torch.Tensor:
        """Pooled hidden features (n, m) of images X (n, C, H, W)."""
        H = torch.relu(self.conv(X))
        return H.mean(dim=(2, 3)) if self.spec.mean else H.sum(dim=(2, 3))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out = self.head(self.pooled(X))
        return out[:, 0] if self.scalar else out

    def penalty(self) -> torch.Tensor:
        r""":math:`\tfrac12(\|U\|^2 + \|\alpha\|^2 [+ \|b\|^2])`."""
        sq = torch.sum(self.conv.weight**2) + torch.sum(self.head.weight**2)
        if self.regularize_bias and self.conv.bias is not None:
            sq = sq + torch.sum(self.conv.bias**2)
        return 0.5 * sq


def random_conv_module(in_channels: int, width: int, *, conv: Conv, kernel: tuple[int, int],
                       bias: bool = True, regularize_bias: bool = True, output_bias: bool = False,
                       n_outputs: int | None = None, seed: Any = 0,
                       dtype: torch.dtype = torch.float64) -> ConvModule:
    r"""A randomly initialised :class:`ConvModule` (``nn.Conv2d``-style scale): filters
    and biases :math:`\sim U(\pm 1/\sqrt{h'})` (fan-in :math:`h' = Cp_hp_w [+1]`), output
    weights :math:`\sim U(\pm 1/\sqrt m)`, output constant zero."""
    from .modules import torch_seed

    g = torch.Generator().manual_seed(torch_seed(seed, 0))
    ph, pw = kernel
    fan_in = in_channels * ph * pw + bool(bias)

    def uniform(shape, scale):
        return ((2 * torch.rand(shape, generator=g, dtype=torch.float64) - 1) * scale).numpy()

    F = uniform((width, in_channels, ph, pw), fan_in**-0.5)
    b1 = uniform((width,), fan_in**-0.5) if bias else None
    W2 = uniform((width,) if n_outputs is None else (width, n_outputs), width**-0.5)
    c0 = (0.0 if n_outputs is None else np.zeros(n_outputs)) if output_bias else None
    return ConvModule(F, W2, conv=conv, b1=b1, c0=c0, regularize_bias=regularize_bias, dtype=dtype)
