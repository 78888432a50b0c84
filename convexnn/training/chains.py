r"""Gradient training of parallel deep narrow ReLU networks on 1-D data (library of mirrors).

Minimizes :math:`\tfrac12\|f(x) - y\|^2 + \tfrac{\beta}{L}(\sum_{k,l}|w_{kl}|^L + \sum_k|a_k|^L)`
over :math:`f(x) = \xi + \sum_k a_k g_k(x)` with depth-L width-one chains
:math:`g_k` (free biases and :math:`\xi`), by Adam then L-BFGS from random starts; every
run is an upper bound of the optimum that :func:`convexnn.deep_1d.program.lasso_deep_1d`
computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..core.validation import check_int, check_positive
from ..networks.chains import DeepChainNetwork


def train_chains(x: Any, y: Any, *, beta: float, depth: int, K: int = 20, seed: int = 0,
                 adam_steps: int = 3000, lbfgs_steps: int = 500, lr: float = 1e-2) -> DeepChainNetwork:
    """One run from a seeded random start; returns the trained network."""
    beta = check_positive("beta", beta)
    L = check_int("depth", depth, minimum=2)
    g = torch.Generator().manual_seed(int(seed))
    xt = torch.as_tensor(np.asarray(x, float))[:, None]
    yt = torch.as_tensor(np.asarray(y, float))
    span = float(xt.abs().max()) + 1.0
    W = (torch.randn(K, L - 1, generator=g, dtype=torch.float64)).requires_grad_()
    b = (span * (2 * torch.rand(K, L - 1, generator=g, dtype=torch.float64) - 1)).requires_grad_()
    a = (0.1 * torch.randn(K, generator=g, dtype=torch.float64)).requires_grad_()
    xi = torch.zeros((), dtype=torch.float64, requires_grad=True)
    params = [W, b, a, xi]

    def F():
        h = xt.expand(-1, K)
        for layer in range(L - 1):
            h = torch.relu(W[:, layer] * h + b[:, layer])
        r = xi + h @ a - yt
        return 0.5 * (r * r).sum() + beta / L * ((W.abs() ** L).sum() + (a.abs() ** L).sum())

    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(adam_steps):
        opt.zero_grad()
        F().backward()
        opt.step()
    lb = torch.optim.LBFGS(params, max_iter=lbfgs_steps, tolerance_grad=1e-14,
                           tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        lb.zero_grad()
        val = F()
        val.backward()
        return val

    lb.step(closure)
    d = lambda t: t.detach().numpy().copy()  # noqa: E731
    return DeepChainNetwork(W=d(W), b=d(b), a=d(a), xi=float(xi.detach()))


__all__ = ["train_chains"]
