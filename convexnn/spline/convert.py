r"""Convert any supported network to a :class:`~convexnn.spline.LayerStack` (THEORY G)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..networks.deep import DeepNetwork
from ..networks.two_layer import Network
from .layers import LayerStack, deep_layers, network_layers, triple_layers
from .torch_convert import torch_stack


def as_layers(model: Any, input_shape: Any = None) -> LayerStack:
    r"""Convert a network to a :class:`LayerStack` of MASO operators (THEORY G).

    Parameters
    ----------
    model : Network, DeepNetwork, torch.nn.Module, LayerStack or list of (W, b, activation)
        A torch model is an ``nn.Sequential`` (nested allowed) of ``Linear``, ``Conv1d``,
        ``Conv2d``, ``ReLU``, ``LeakyReLU``, :class:`~convexnn.spline.torch_modules.Abs`,
        ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``BatchNorm1d/2d`` (eval mode), ``Flatten``,
        ``Unflatten``, ``Dropout`` (eval mode), ``Identity`` and
        :class:`~convexnn.spline.torch_modules.Residual` layers (or one such layer); its
        weights are copied as float64 and convolutions become dense matrices, so keep
        inputs small (digits: 8 x 8).  In a list of triples ``W`` has shape (D_out, D_in)
        and ``activation`` is "relu", "linear", "leaky_relu" (slope 0.01) or a float
        negative-side slope.
    input_shape : tuple of int, optional
        Shape of one input without the batch axis, e.g. (1, 8, 8): needed when a torch
        model starts with a convolution or pooling; the stack then also accepts inputs of
        shape ``(n, *input_shape)``.

    Returns
    -------
    LayerStack
        Pass it instead of the model to every function of :mod:`convexnn.spline` to convert
        only once.

    Raises
    ------
    TypeError
        For an unsupported object or torch layer (the message names the layer and lists
        the supported ones).
    """
    if input_shape is not None:
        input_shape = tuple(int(s) for s in np.atleast_1d(input_shape))
        if not input_shape or min(input_shape) < 1:
            raise ValueError(f"input_shape must be a tuple of positive ints; got {input_shape}")
    if isinstance(model, LayerStack):
        if input_shape is not None and input_shape != model.input_shape:
            if int(np.prod(input_shape)) != model.input_dim:
                raise ValueError(f"input_shape {input_shape} does not match the stack's "
                                 f"{model.input_dim} inputs")
            return LayerStack(model.layers, input_shape)
        return model
    if isinstance(model, Network):
        return LayerStack(network_layers(model), input_shape)
    if isinstance(model, DeepNetwork):
        return LayerStack(deep_layers(model), input_shape)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return torch_stack(model, torch, input_shape)
    if isinstance(model, list | tuple):
        return LayerStack(triple_layers(model), input_shape)
    raise TypeError("model must be a Network, DeepNetwork, torch nn.Sequential, LayerStack or "
                    f"a list of (W, b, activation) triples; got {type(model).__name__}")


__all__ = ["as_layers"]
