r"""Rank of the layers of weight-decay-trained deep ReLU networks, with and without a skip
(Parhi & Nowak, SIAM J. Math. Data Sci. 2022; THEORY F.3).

Trains :math:`f(x) = W_L\sigma(\cdots\sigma(W_1x + b_1)\cdots) + b_L\ [+\,x^\top w_0]` on
:math:`\tfrac12\|f(X) - y\|^2 + \tfrac\beta2\sum_l\|W_l\|_F^2` (biases and the skip
:math:`w_0` free) by Adam then L-BFGS, and reports every layer's singular values.  The
predictions checked: weight decay makes the hidden layers low rank (numerical rank far
below the width, which an unregularized fit does not show), the layers are balanced
(:math:`\|W_l\|_F` equal at a stationary point, THEORY H), and a free linear skip takes over
the affine part so the deep layers' rank does not grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_int, check_positive, check_X_y
from .report import Check


@dataclass
class DeepRankRun:
    """Trained weights (torch convention (out, in)), skip, objective and spectra."""

    weights: list
    biases: list
    skip: np.ndarray | None
    objective: float

    def singular_values(self) -> list[np.ndarray]:
        return [np.linalg.svd(W, compute_uv=False) for W in self.weights]

    def numerical_ranks(self, rtol: float = 1e-3, atol: float = 1e-6) -> list[int]:
        """#singular values above max(``rtol`` times the largest, ``atol``), per layer (a
        layer that weight decay switched off has rank 0)."""
        return [int(np.sum(s > max(rtol * s[0], atol))) for s in self.singular_values()]

    def frobenius_norms(self) -> np.ndarray:
        return np.array([np.linalg.norm(W) for W in self.weights])


def train_deep_relu(X: Any, y: Any, *, beta: float, widths: Any, skip: bool = False,
                    seed: int = 0, adam_steps: int = 2000, lbfgs_steps: int = 2000) -> DeepRankRun:
    r"""One weight-decay run (see the module docstring); ``beta`` >= 0."""
    import torch

    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta, allow_zero=True)
    dims = [X.shape[1], *[check_int("widths", int(w)) for w in widths], 1]
    g = torch.Generator().manual_seed(int(seed))
    Ws = [(torch.randn(o, i, generator=g, dtype=torch.float64) * np.sqrt(2.0 / i)).requires_grad_()
          for i, o in zip(dims[:-1], dims[1:])]
    bs = [torch.zeros(o, dtype=torch.float64, requires_grad=True) for o in dims[1:]]
    w0 = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    params = Ws + bs + ([w0] if skip else [])
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def F():
        H = Xt
        for W, b in zip(Ws[:-1], bs[:-1]):
            H = torch.relu(H @ W.T + b)
        out = (H @ Ws[-1].T + bs[-1])[:, 0]
        if skip:
            out = out + Xt @ w0
        r = out - yt
        return 0.5 * (r * r).sum() + 0.5 * beta * sum((W * W).sum() for W in Ws)

    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(adam_steps):
        opt.zero_grad()
        F().backward()
        opt.step()
    lb = torch.optim.LBFGS(params, max_iter=lbfgs_steps, history_size=50, tolerance_grad=1e-12,
                           tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure():
        lb.zero_grad()
        v = F()
        v.backward()
        return v

    lb.step(closure)
    np_ = [W.detach().numpy().copy() for W in Ws]
    return DeepRankRun(np_, [b.detach().numpy().copy() for b in bs],
                       w0.detach().numpy().copy() if skip else None, float(F().detach()))


def balance_of_layers(run: DeepRankRun, *, rtol: float = 1e-3) -> Check:
    r"""Stationary points of weight decay with ReLU layers have equal :math:`\|W_l\|_F`
    (rescaling one layer up and the next down leaves f unchanged; THEORY H)."""
    norms = run.frobenius_norms()
    spread = float((norms.max() - norms.min()) / norms.max()) if norms.max() > 1e-6 else 0.0
    return Check("deep layers balanced: equal Frobenius norms", 0.0, spread, spread <= rtol,
                 rtol=rtol, section="F.3, H", details={"norms": norms})


__all__ = ["train_deep_relu", "DeepRankRun", "balance_of_layers"]
