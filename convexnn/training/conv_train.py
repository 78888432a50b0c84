r"""Gradient training of two-layer ReLU CNNs in torch (THEORY D): full-batch L-BFGS on

.. math::  F(\theta) = \ell(f_\theta(X); y) + \tfrac{\beta}{2}\big(\|U\|_F^2 + \|\alpha\|^2
           \;[+\,\|b\|^2]\big)

(the objective of :class:`~convexnn.networks.conv.ConvNetwork`), from ``nn.Conv2d``-style
random initializations.  Every run is a feasible point of the convex CNN program over its
own patterns, so the convex optimum over every cell is at most each run's objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from ..core.conv import Conv
from ..core.losses import Loss, get_loss
from ..core.spec import check_data
from ..core.threads import limit_torch
from ..core.validation import check_int, check_positive
from ..core.variant import Variant
from ..networks.conv import ConvNetwork
from .conv_module import random_conv_module
from .modules import objective


@dataclass
class ConvRun:
    """One gradient run: seed, final objective, network, iterations and seconds."""

    seed: int
    objective: float
    network: ConvNetwork
    iterations: int
    time: float


def train_conv(X: Any, y: Any, *, conv: Conv, width: int, beta: float,
               loss: str | Loss = "squared", bias: str = "regularized",
               output_bias: bool = False, seed: int = 0, max_iter: int = 2000,
               init: ConvNetwork | None = None, num_threads: int | None = 1) -> ConvRun:
    r"""Full-batch L-BFGS (strong Wolfe, float64) of a ``width``-filter CNN from a random
    start (or from ``init``) until its gradient or progress stalls (``max_iter``
    iterations at most).

    Parameters
    ----------
    X : array-like of shape (n, L), (n, H, W) or (n, C, H, W)
    y : array-like of shape (n,) or (n, c)
        Targets (an (n, c) matrix gives c outputs), or class labels with
        ``loss="cross_entropy"`` (one output per class, sorted as :func:`convexnn.fit`).
    conv : Conv
    width : int
        Filters m.
    beta : float
    loss : str or Loss
    bias : {"none", "regularized", "free"}
        The filters' biases (absent, in the penalty, or free).
    output_bias : bool
        A free output constant.
    seed : int
        Seed of the initialization.
    num_threads : int or None, default=1
        torch threads during the run (None: the caller's).
    """
    loss = get_loss(loss)
    data = check_data(X, y, loss, conv)
    imgs, y = data.X, data.y
    beta = check_positive("beta", beta, allow_zero=True)
    variant = Variant("relu", bias, False, output_bias)
    shape = imgs.shape[1:]
    if init is None:
        module = random_conv_module(shape[0], check_int("width", width), conv=conv,
                                    kernel=conv.kernel(shape), bias=variant.has_bias,
                                    regularize_bias=variant.regularized_bias,
                                    output_bias=variant.has_free_constant,
                                    n_outputs=None if y.ndim == 1 else y.shape[1], seed=seed)
    else:
        module = init.to_torch(bias=bias, output_bias=variant.has_free_constant)
    Xt, yt = torch.as_tensor(imgs), torch.as_tensor(y)
    opt = torch.optim.LBFGS(module.parameters(), lr=1.0, max_iter=check_int("max_iter", max_iter),
                            history_size=50, tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        F = objective(module, Xt, yt, beta=beta, loss=loss)
        F.backward()
        return F

    t0 = time.perf_counter()
    with limit_torch(num_threads):  # None: the caller's threads
        opt.step(closure)
    seconds = time.perf_counter() - t0
    net = ConvNetwork.from_torch(module)
    net = ConvNetwork(filters=net.filters, W2=net.W2, conv=net.conv, b1=net.b1, c0=net.c0,
                      regularize_bias=variant.regularized_bias,
                      training={"loss": loss.name, "beta": float(beta), "bias": variant.bias,
                                "output_bias": variant.has_free_constant})
    its = int(opt.state[opt._params[0]].get("n_iter", 0))
    return ConvRun(int(seed), net.objective(imgs, y, beta=beta, loss=loss), net, its, seconds)


__all__ = ["ConvRun", "train_conv"]
