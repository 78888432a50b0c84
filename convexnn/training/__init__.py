r"""Gradient training in torch of the same networks, with the explicit objective.

.. math::  F(\theta) = \sum_{j=1}^n \ell(f_\theta(x_j); y_j) + \tfrac{\beta}{2}\,\|\theta_\pi\|_2^2

(THEORY section 0): the torch modules of every network family and their conversions
(:mod:`~convexnn.training.modules`), the trainer (:mod:`~convexnn.training.trainer`), the
parallel three-layer and deep 1-D chain trainers, and the comparison with the convex
optimum (:mod:`~convexnn.training.compare`).  Its names load torch on first use.
"""

from __future__ import annotations

from importlib import import_module

_MODULES = {
    "modules": ("MLPModule", "TwoLayerModule", "loss_sum", "module_penalty", "objective",
                "random_module", "sequential_penalty", "torch_seed"),
    "convert": ("as_module", "as_network", "deep_to_module", "module_to_deep",
                "module_to_network", "network_to_module"),
    "trainer": ("DEFAULT_LR", "OPTIMIZERS", "REFUSED_OPTIMIZERS", "TrainResult", "check_optimizer",
              "default_lr", "train"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Load the torch-side names on first use (``import convexnn.training.compare`` stays
    free of torch)."""
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convexnn.training' has no attribute {name!r}")


def __dir__():
    return __all__
