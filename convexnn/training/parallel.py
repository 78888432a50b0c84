r"""Gradient training of parallel three-layer ReLU networks with path regularization (E.1).

Minimizes :math:`F(\theta) = \ell(f_\theta(X); y) + \beta R(\theta)` (the objective of
:class:`~convexnn.networks.parallel.ParallelNetwork`) by full-batch L-BFGS from random
initializations, and compares the runs with the convex optimum of
:func:`convexnn.fit` with ``depth=3``: the optimum must be <= every run, since
every network is a feasible point of the convex program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.losses import Loss, get_loss
from ..core.validation import check_choice, check_int, check_positive, check_X_y
from ..networks.parallel import PATHS, ParallelNetwork
from .modules import loss_sum
from .parallel_module import ParallelModule


def random_parallel(d: int, K: int, m1: int, *, path: str = "l2", seed: Any = 0) -> ParallelNetwork:
    """Random initialization: Gaussian weights of scale 1/sqrt(fan-in)."""
    rng = np.random.default_rng(seed)
    return ParallelNetwork(W=rng.standard_normal((K, m1, d)) / np.sqrt(d),
                           c=rng.standard_normal((K, m1)) / np.sqrt(m1),
                           alpha=rng.standard_normal(K) / np.sqrt(K), path=path)


@dataclass
class ParallelRun:
    """One gradient run: final objective and network."""

    seed: int
    objective: float
    network: ParallelNetwork
    iterations: int


def train_parallel(X: Any, y: Any, *, beta: float, path: str = "l2", K: int = 10, m1: int = 2,
                   loss: str | Loss = "squared", seed: Any = 0, max_iter: int = 2000,
                   init: ParallelNetwork | None = None) -> ParallelRun:
    r"""Full-batch L-BFGS (strong Wolfe) on :math:`\ell(f(X)) + \beta R(\theta)`."""
    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta, allow_zero=True)
    check_choice("path", path, PATHS)
    loss = get_loss(loss)
    net = init if init is not None else random_parallel(
        X.shape[1], check_int("K", K), check_int("m1", m1), path=path, seed=seed)
    mod = net.to_torch()
    mod.path = path
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    opt = torch.optim.LBFGS(mod.parameters(), lr=1.0, max_iter=max_iter, history_size=50,
                            tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        F = loss_sum(loss, mod(Xt), yt) + beta * mod.penalty()
        F.backward()
        return F

    opt.step(closure)
    out = ParallelNetwork.from_torch(mod)
    its = int(opt.state[opt._params[0]].get("n_iter", 0))
    return ParallelRun(int(seed) if isinstance(seed, int | np.integer) else -1,
                       out.objective(X, y, beta=beta, loss=loss), out, its)


__all__ = ["ParallelModule", "random_parallel", "train_parallel", "ParallelRun"]
