r"""Gradient training of parallel three-layer ReLU networks with path regularization (E.1).

Minimizes :math:`F(\theta) = \ell(f_\theta(X); y) + \beta R(\theta)` (the objective of
:class:`~convexnn.networks.parallel.ParallelNetwork`) by full-batch L-BFGS from random
initializations, and compares the runs with the convex optimum of
:func:`convexnn.fit` with ``depth=3``: the optimum must be <= every run, since
every network is a feasible point of the convex program.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..core.losses import Loss, get_loss
from ..core.validation import check_choice, check_int, check_positive, check_X_y
from ..core.variant import BIASES, Variant
from ..networks.parallel import PATHS, ParallelNetwork
from .modules import loss_sum
from .parallel_module import ParallelModule


def random_parallel(d: int, K: int, m1: int, *, path: str = "l2", seed: Any = 0,
                    bias: bool = False) -> ParallelNetwork:
    """Random initialization: Gaussian weights of scale 1/sqrt(fan-in) (first-layer biases
    of the same scale when ``bias``; the fan-in is then d + 1)."""
    rng = np.random.default_rng(seed)
    fan = d + 1 if bias else d
    W = rng.standard_normal((K, m1, d)) / np.sqrt(fan)
    c = rng.standard_normal((K, m1)) / np.sqrt(m1)
    alpha = rng.standard_normal(K) / np.sqrt(K)
    b = rng.standard_normal((K, m1)) / np.sqrt(fan) if bias else None
    return ParallelNetwork(W=W, c=c, alpha=alpha, path=path, b=b)


@dataclass
class ParallelRun:
    """One gradient run: final objective and network."""

    seed: int
    objective: float
    network: ParallelNetwork
    iterations: int


#: Optimizers of :func:`train_parallel` and Adam's default step.
PARALLEL_OPTIMIZERS = ("lbfgs", "adam")
ADAM_LR = 1e-2


def train_parallel(X: Any, y: Any, *, beta: float, path: str = "l2", K: int = 10, m1: int = 2,
                   loss: str | Loss = "squared", seed: Any = 0, max_iter: int = 2000,
                   init: ParallelNetwork | None = None, bias: str = "none",
                   optimizer: str = "lbfgs", lr: float | None = None) -> ParallelRun:
    r"""Minimize :math:`\ell(f(X)) + \beta R(\theta)` from a random network (``seed``) or
    ``init``: full-batch L-BFGS (strong Wolfe, ``max_iter`` iterations) or full-batch Adam
    (``max_iter`` steps, the penalty in the back-propagated objective).

    ``bias``: "none", "regularized" (first-layer biases in the path norm) or "free" (biases
    outside it); an ``init`` network keeps its own biases and ``regularize_bias``.
    """
    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta, allow_zero=True)
    check_choice("path", path, PATHS)
    variant = Variant(bias=check_choice("bias", bias, BIASES))
    optimizer = check_choice("optimizer", optimizer, PARALLEL_OPTIMIZERS)
    loss = get_loss(loss)
    if init is not None:
        net, has_b = init, init.has_bias or variant.has_bias
    else:
        net = random_parallel(X.shape[1], check_int("K", K), check_int("m1", m1), path=path,
                              seed=seed, bias=variant.has_bias)
        net = replace(net, regularize_bias=not variant.free_bias)
        has_b = variant.has_bias
    mod = net.to_torch(bias=has_b)
    mod.path = path
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)

    def objective():
        return loss_sum(loss, mod(Xt), yt) + beta * mod.penalty()

    its = _adam(mod, objective, max_iter, lr) if optimizer == "adam" else _lbfgs(mod, objective, max_iter)
    out = ParallelNetwork.from_torch(mod)
    return ParallelRun(int(seed) if isinstance(seed, int | np.integer) else -1,
                       out.objective(X, y, beta=beta, loss=loss), out, its)


def _lbfgs(mod: ParallelModule, objective, max_iter: int) -> int:
    opt = torch.optim.LBFGS(mod.parameters(), lr=1.0, max_iter=max_iter, history_size=50,
                            tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        F = objective()
        F.backward()
        return F

    opt.step(closure)
    return int(opt.state[opt._params[0]].get("n_iter", 0))


def _adam(mod: ParallelModule, objective, steps: int, lr: float | None) -> int:
    """Full-batch Adam; the parameters of the lowest objective seen are kept."""
    opt = torch.optim.Adam(mod.parameters(), lr=ADAM_LR if lr is None else check_positive("lr", lr))
    best, state = np.inf, None
    for _ in range(steps):
        opt.zero_grad()
        F = objective()
        if float(F.detach()) < best:
            best, state = float(F.detach()), {k: v.detach().clone() for k, v in mod.state_dict().items()}
        F.backward()
        opt.step()
    with torch.no_grad():
        if state is not None and float(objective()) > best:
            mod.load_state_dict(state)
    return steps


__all__ = ["ParallelModule", "PARALLEL_OPTIMIZERS", "random_parallel", "train_parallel",
           "ParallelRun"]
