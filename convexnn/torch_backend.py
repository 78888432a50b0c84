r"""Train the same networks by gradient methods in torch, with the explicit objective.

The public face of :mod:`convexnn.training`: the torch modules and conversions
(:mod:`convexnn.training.modules`) and :func:`train` (:mod:`convexnn.training.train`),
which minimizes the non-convex objective of THEORY section 0 *as written*,

.. math::  F(\theta) = \sum_{j=1}^n \ell(f_\theta(x_j); y_j)
           + \tfrac{\beta}{2}\,\|\theta_\pi\|_2^2.

Importing this module imports torch.
"""

from __future__ import annotations

from .training.modules import (
    MLPModule,
    TwoLayerModule,
    as_module,
    as_network,
    deep_to_module,
    loss_sum,
    module_penalty,
    module_to_deep,
    module_to_network,
    network_to_module,
    objective,
    random_module,
    sequential_penalty,
    torch_seed,
)
from .training.train import (
    DEFAULT_LR,
    OPTIMIZERS,
    REFUSED_OPTIMIZERS,
    TrainResult,
    check_optimizer,
    default_lr,
    train,
)

__all__ = ["TwoLayerModule", "MLPModule", "TrainResult", "train", "random_module", "objective",
           "loss_sum", "network_to_module", "module_to_network", "deep_to_module",
           "module_to_deep", "default_lr", "OPTIMIZERS", "REFUSED_OPTIMIZERS", "DEFAULT_LR",
           "as_module", "as_network", "check_optimizer", "module_penalty", "sequential_penalty",
           "torch_seed"]
