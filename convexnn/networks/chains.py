r"""Deep networks on 1-D data as parallel chains (THEORY E.3; Zeger et al. 2024, "A Library of
Mirrors"): :class:`DeepChainNetwork` (K parallel depth-L chains of width one, the Lasso's
networks) and :class:`TrunkNetwork` (the notebooks' shared trunk), each with its
:math:`\tfrac1L\sum|p|^L` penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class DeepChainNetwork:
    r""":math:`f(x) = \xi + \sum_k a_k g_k(x)`, K parallel depth-L chains of width one."""

    W: np.ndarray  # (K, L-1) chain weights
    b: np.ndarray  # (K, L-1) chain biases
    a: np.ndarray  # (K,) output weights
    xi: float = 0.0

    @property
    def depth(self) -> int:
        return self.W.shape[1] + 1

    def predict(self, x: Any) -> np.ndarray:
        h = np.broadcast_to(np.asarray(x, float)[:, None], (np.size(x), self.W.shape[0])).copy()
        for layer in range(self.W.shape[1]):
            h = np.maximum(self.W[:, layer] * h + self.b[:, layer], 0.0)
        return self.xi + h @ self.a

    def penalty(self) -> float:
        r""":math:`\tfrac1L(\sum|W|^L + \sum|a|^L)` (biases and :math:`\xi` free)."""
        L = self.depth
        return float((np.sum(np.abs(self.W) ** L) + np.sum(np.abs(self.a) ** L)) / L)

    def objective(self, x: Any, y: Any, *, beta: float) -> float:
        r""":math:`\tfrac12\|f(x) - y\|^2 + \beta\,\mathrm{penalty}`."""
        r = self.predict(x) - np.asarray(y, float)
        return float(0.5 * r @ r + beta * self.penalty())

    def knots(self, *, tol: float = 1e-7, h: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Kinks of f and their slope jumps (candidates: every chain's breakpoints)."""
        cand = []
        for k in range(self.W.shape[0]):  # kink of layer l: w_l h_l + b_l = 0, pulled back
            cand += list(_chain_kinks(self.W[k], self.b[k]))
        cand = np.unique(np.round(cand, 7))
        f = self.predict
        jumps = (f(cand + h) - 2 * f(cand) + f(cand - h)) / h
        keep = np.abs(jumps) > tol * max(1.0, np.abs(self.a).max(initial=0.0))
        return cand[keep], jumps[keep]


def _chain_kinks(w: np.ndarray, b: np.ndarray) -> list[float]:
    """x where some layer of a chain switches: layer l switches where its input
    :math:`h_l(x)` (piecewise linear, linear between the earlier kinks) crosses
    :math:`-b_l/w_l`."""
    xs = np.array([-1e6, 1e6])
    pts: list[float] = []
    for layer in range(len(w)):
        target = -b[layer] / w[layer] if w[layer] != 0 else np.nan
        grid = np.unique(np.concatenate([xs, pts]))
        vals = _partial(w, b, layer, grid)
        for i in range(len(grid) - 1):
            v0, v1 = vals[i], vals[i + 1]
            if np.isfinite(target) and (v0 - target) * (v1 - target) < 0:
                t = grid[i] + (target - v0) * (grid[i + 1] - grid[i]) / (v1 - v0)
                pts.append(float(t))
    return pts


def _partial(w, b, layer, x):
    h = np.asarray(x, float).copy()
    for m in range(layer):
        h = np.maximum(w[m] * h + b[m], 0.0)
    return h


@dataclass(frozen=True)
class TrunkNetwork:
    r"""The notebooks' ``par=False`` network of depth L:
    :math:`h_1 = x,\ h_{l+1} = (w_l h_l + b_l)_+\ (l \le L-2)`,
    :math:`f = c + \sum_j a_j(W_j h_{L-1} + B_j)_+`."""

    w: np.ndarray  # (L-2,)
    b: np.ndarray  # (L-2,)
    W: np.ndarray  # (m,)
    B: np.ndarray  # (m,)
    a: np.ndarray  # (m,)
    c: float = 0.0

    @property
    def depth(self) -> int:
        return len(self.w) + 2

    def predict(self, x: Any) -> np.ndarray:
        h = np.asarray(x, float)
        for wl, bl in zip(self.w, self.b):
            h = np.maximum(wl * h + bl, 0.0)
        return self.c + np.maximum(np.outer(h, self.W) + self.B, 0.0) @ self.a

    def penalty(self) -> float:
        r""":math:`\tfrac1L\sum_{\text{weights}}|p|^L` (biases free)."""
        L = self.depth
        return float((np.sum(np.abs(self.w) ** L) + np.sum(np.abs(self.W) ** L)
                      + np.sum(np.abs(self.a) ** L)) / L)


__all__ = ["DeepChainNetwork", "TrunkNetwork"]
