r"""The torch module of parallel three-layer networks with path regularization (THEORY E.1):
:math:`f = \sum_k\alpha_k(\sum_j(XW_{kj})_+c_{kj})_+`, penalty the path norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.validation import check_choice

_EPS = 1e-300  # inside square roots: gradient 0 (not NaN) at a zero weight


class ParallelModule(nn.Module):
    r"""Torch version of :class:`ParallelNetwork`:
    :math:`\sum_k\alpha_k(\sum_j(XW_{kj} + b_{kj})_+c_{kj})_+`, with trainable biases ``b``
    (K, m1) when given (None: no biases), in the path norm when ``regularize_bias``."""

    def __init__(self, W: Any, c: Any, alpha: Any, *, path: str = "l2",
                 dtype: torch.dtype | None = None, b: Any = None,
                 regularize_bias: bool = True) -> None:
        super().__init__()
        dtype = dtype or torch.float64
        self.W = nn.Parameter(torch.as_tensor(np.asarray(W), dtype=dtype).clone())
        self.c = nn.Parameter(torch.as_tensor(np.asarray(c), dtype=dtype).clone())
        self.alpha = nn.Parameter(torch.as_tensor(np.asarray(alpha), dtype=dtype).clone())
        self.b = (None if b is None else
                  nn.Parameter(torch.as_tensor(np.asarray(b), dtype=dtype).clone()))
        self.regularize_bias = bool(regularize_bias)
        self.path = check_choice("path", path, ("l1", "l2"))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        P = torch.einsum("nd,kjd->nkj", X, self.W)
        H1 = torch.relu(P if self.b is None else P + self.b)
        h = torch.einsum("nkj,kj->nk", H1, self.c)
        return torch.relu(h) @ self.alpha

    def penalty(self) -> torch.Tensor:
        """The path norm R(theta) of the module's ``path``."""
        sq = (self.W**2).sum(dim=2)
        if self.b is not None and self.regularize_bias:
            sq = sq + self.b**2
        wn = torch.sqrt(sq + _EPS)
        prod = wn * torch.sqrt(self.c**2 + _EPS)
        inner = prod.sum(dim=1) if self.path == "l1" else torch.sqrt((prod**2).sum(dim=1) + _EPS)
        return (torch.sqrt(self.alpha**2 + _EPS) * inner).sum()



__all__ = ["ParallelModule"]
