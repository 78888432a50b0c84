r"""Two torch layers the spline view understands and torch lacks (THEORY G).

* :class:`Abs`: the absolute value :math:`|z| = \max(z, -z)`, a MASO with slopes (1, -1);
* :class:`Residual`: a residual block :math:`x \mapsto x + F(x)` around any module F built
  from supported layers (typically an ``nn.Sequential``).

Both are ordinary ``nn.Module`` objects (they train, save and move like any other), and
:func:`~convexnn.spline.as_layers` converts them exactly.  This module imports torch.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from convexnn.spline.torch_modules import Abs, Residual
>>> block = Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), Abs()))
>>> block(torch.zeros(1, 4, 5, 5)).shape
torch.Size([1, 4, 5, 5])
"""

from __future__ import annotations

import torch
from torch import nn


class Abs(nn.Module):
    r"""Element-wise absolute value :math:`|z|`: a MASO with codes :math:`q = 1[z > 0]`."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.abs(z)


class Residual(nn.Module):
    r"""Residual block :math:`x \mapsto x + F(x)`.

    Parameters
    ----------
    body : nn.Module
        F; its output must have the shape of its input.
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


__all__ = ["Abs", "Residual"]
