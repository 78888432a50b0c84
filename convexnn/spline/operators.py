r"""Max pooling and residual blocks as max-affine spline operators (THEORY G).

* Max pooling over windows :math:`w_k` (lists of input units),

  .. math::  S(h)_k = \max_{r = 1..R} h_{w_k(r)},

  is a MASO with R pieces whose slopes are unit vectors; its code is the argmax
  :math:`q_k = \arg\max_r h_{w_k(r)}` (the first on ties, as torch and numpy), and on a
  region the layer selects rows: :math:`S(h) = E_q h` with :math:`(E_q)_{k, w_k(q_k)} = 1`.
* A residual block :math:`h \mapsto h + F(h)`, with F a composition of MASOs, is piecewise
  affine with the codes of F: on a region :math:`h + F(h) = (I + A_F) h + b_F`.

Both follow the operator interface of :mod:`~convexnn.spline.layers` (``apply``, ``push``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class MaxPool:
    r"""Max pooling :math:`S(h)_k = \max_r h_{w_k(r)}` with argmax codes.

    Parameters
    ----------
    windows : ndarray of int, shape (D_out, R)
        Input unit of each window position; -1 marks padding (never selected).
    in_dim : int
        D_in.
    """

    windows: np.ndarray
    in_dim: int

    @property
    def out_dim(self) -> int:
        return self.windows.shape[0]

    @property
    def code_sizes(self) -> list[int]:
        return [self.out_dim]

    @property
    def padded(self) -> np.ndarray:
        """Boolean mask (D_out, R) of the padding positions."""
        return self.windows < 0

    def window_values(self, H: np.ndarray) -> np.ndarray:
        """The window entries :math:`h_{w_k(r)}` of a batch (n, D_in), shape (n, D_out, R),
        :math:`-\\infty` in the padding."""
        V = H[:, np.maximum(self.windows, 0)]
        V[:, self.padded] = -np.inf
        return V

    def selected(self, q: np.ndarray) -> np.ndarray:
        """Input unit :math:`w_k(q_k)` chosen by the codes q (n, D_out), shape (n, D_out)."""
        return self.windows[np.arange(self.out_dim), q]

    def apply(self, H: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Forward pass (n, D_out) and the argmax codes [(n, D_out)]."""
        q = np.argmax(self.window_values(H), axis=2)
        return np.take_along_axis(H, self.selected(q), axis=1), [q]

    def push(self, M: np.ndarray, c: np.ndarray, codes: Iterator[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`M \leftarrow E_q M`, :math:`c \leftarrow E_q c` (row selection)."""
        sel = self.selected(next(codes))
        rows = np.arange(len(M))[:, None]
        return M[rows, sel], c[rows, sel]


@dataclass(frozen=True, eq=False)
class ResidualBlock:
    r"""A residual block :math:`h \mapsto h + F(h)`, F a composition of MASO operators.

    Parameters
    ----------
    inner : tuple of operators
        The layers of F (Layer, MaxPool or ResidualBlock); F must keep the dimension.
    """

    inner: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.inner:
            raise ValueError("a residual block needs at least one layer in its branch F")
        if self.inner[0].in_dim != self.inner[-1].out_dim:
            raise ValueError(f"the residual branch maps {self.inner[0].in_dim} units to "
                             f"{self.inner[-1].out_dim}; x + F(x) needs equal sizes")

    @property
    def in_dim(self) -> int:
        return self.inner[0].in_dim

    @property
    def out_dim(self) -> int:
        return self.inner[-1].out_dim

    @property
    def code_sizes(self) -> list[int]:
        return [size for layer in self.inner for size in layer.code_sizes]

    def apply(self, H: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """:math:`H + F(H)` and the codes of F's layers."""
        G, codes = H, []
        for layer in self.inner:
            G, q = layer.apply(G)
            codes += q
        return H + G, codes

    def push(self, M: np.ndarray, c: np.ndarray, codes: Iterator[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`(M, c) \leftarrow (M + M_F, c + c_F)`, with :math:`(M_F, c_F)` the map
        pushed through F's layers."""
        MF, cF = M, c
        for layer in self.inner:
            MF, cF = layer.push(MF, cF, codes)
        return M + MF, c + cF


__all__ = ["MaxPool", "ResidualBlock"]
