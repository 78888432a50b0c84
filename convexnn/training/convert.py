r"""Conversions between convexnn's numpy networks and their torch modules.

:func:`as_module` / :func:`as_network` go both ways for every family
(:class:`~convexnn.Network` <-> :class:`~convexnn.training.modules.TwoLayerModule`,
:class:`~convexnn.DeepNetwork` <-> ``nn.Sequential`` MLPs); the network classes' own
``to_torch`` / ``from_torch`` do the work.  Predictions and objectives are equal.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..networks.deep import DeepNetwork
from ..networks.two_layer import Network
from .modules import MLPModule, TwoLayerModule


def network_to_module(net: Network, *, bias: str | None = None, skip: bool | None = None,
                      output_bias: bool | None = None,
                      dtype: torch.dtype = torch.float64) -> TwoLayerModule:
    """A :class:`TwoLayerModule` with the same predictions and objective as ``net``
    (:meth:`convexnn.Network.to_torch`)."""
    return net.to_torch(bias=bias, skip=skip, output_bias=output_bias, dtype=dtype)


def module_to_network(module: TwoLayerModule) -> Network:
    """The :class:`Network` of a :class:`TwoLayerModule` (:meth:`convexnn.Network.from_torch`)."""
    return Network.from_torch(module)


def deep_to_module(net: DeepNetwork, *, dtype: torch.dtype = torch.float64) -> MLPModule:
    """An :class:`MLPModule` with the same predictions and penalty as ``net``."""
    return net.to_torch(dtype=dtype)


def module_to_deep(module: nn.Sequential) -> DeepNetwork:
    """A :class:`DeepNetwork` from an ``nn.Sequential`` MLP (:meth:`DeepNetwork.from_torch`)."""
    return DeepNetwork.from_torch(module)


def as_module(model: Any, *, bias: str | None = None, skip: bool | None = None,
              output_bias: bool | None = None, dtype: torch.dtype = torch.float64) -> nn.Module:
    """A deep copy of a torch module, or the module of a Network / DeepNetwork.  A plain
    ``nn.Sequential`` MLP becomes an :class:`MLPModule` (through :class:`DeepNetwork`:
    missing biases become zero, trainable, unpenalized ones)."""
    if isinstance(model, Network):
        return network_to_module(model, bias=bias, skip=skip, output_bias=output_bias, dtype=dtype)
    if isinstance(model, DeepNetwork):
        return deep_to_module(model, dtype=dtype)
    if isinstance(model, nn.Linear):  # a linear model: the one-layer Sequential
        model = nn.Sequential(model)
    if isinstance(model, nn.Sequential) and not isinstance(model, MLPModule):
        return deep_to_module(module_to_deep(model), dtype=dtype)
    if isinstance(model, nn.Module):
        return copy.deepcopy(model).to(dtype)  # the data are cast to dtype too
    raise TypeError(f"model must be a Network, DeepNetwork or torch module; got {type(model).__name__}")


def as_network(module: nn.Module) -> Network | DeepNetwork:
    """The numpy network of a trained module."""
    return module_to_network(module) if isinstance(module, TwoLayerModule) else module_to_deep(module)


__all__ = ["as_module", "as_network", "deep_to_module", "module_to_deep", "module_to_network",
           "network_to_module"]
