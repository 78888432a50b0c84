r"""Torch ``nn.Sequential`` networks (MLPs and CNNs) as MASO operator stacks (THEORY G).

Layers are read in order, tracking the shape of one sample (torch's layout without the
batch axis, flattened in C order):

* affine layers become dense matrices, composed while no activation separates them:
  ``nn.Linear``, ``nn.Conv1d`` / ``nn.Conv2d`` (stride, zero padding incl. "same",
  dilation, groups), ``nn.AvgPool1d`` / ``nn.AvgPool2d``, ``nn.BatchNorm1d`` /
  ``nn.BatchNorm2d`` in eval mode
  (:math:`h \mapsto \gamma (h - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta` per channel);
* ``nn.ReLU``, ``nn.LeakyReLU`` and :class:`~convexnn.spline.torch_modules.Abs` set the
  slope :math:`\eta` of the preceding affine layer's units (0, the negative slope, -1);
* ``nn.MaxPool1d`` / ``nn.MaxPool2d`` become :class:`~convexnn.spline.operators.MaxPool`,
  :class:`~convexnn.spline.torch_modules.Residual` a
  :class:`~convexnn.spline.operators.ResidualBlock`;
* ``nn.Flatten`` / ``nn.Unflatten`` only change the tracked shape; ``nn.Identity`` and
  ``nn.Dropout`` (eval mode) are skipped.

A network that starts with a convolution or pooling needs ``input_shape`` (e.g. (1, 8, 8)).
torch is not imported here: the caller passes the module, which has imported it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv_matrices import avgpool_matrix, conv_matrix, maxpool_windows
from .layers import Layer, LayerStack
from .operators import MaxPool, ResidualBlock

SUPPORTED = ("nn.Linear, nn.Conv1d, nn.Conv2d, nn.ReLU, nn.LeakyReLU, convexnn.spline.Abs, "
             "nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.BatchNorm1d, "
             "nn.BatchNorm2d (eval mode), nn.Flatten, nn.Unflatten, nn.Dropout (eval mode), "
             "nn.Identity and convexnn.spline.Residual, in (nested) nn.Sequential")


def _np(t: Any) -> np.ndarray:
    import torch

    return t.detach().to("cpu", torch.float64).numpy()


def _tuple(v: Any, nd: int) -> tuple[int, ...]:
    return tuple(int(x) for x in v) if isinstance(v, tuple | list) else (int(v),) * nd


class _Builder:
    """Accumulates operators; ``pending`` is the open affine layer [W, b, eta or None]."""

    def __init__(self, shape: tuple[int, ...] | None) -> None:
        self.shape = shape
        self.ops: list[Any] = []
        self.pending: list | None = None

    @property
    def dim(self) -> int | None:
        return None if self.shape is None else int(np.prod(self.shape))

    def need_shape(self, name: str, ndim: int, kind: str) -> tuple[int, ...]:
        if self.shape is None:
            raise ValueError(f"model: layer {name!r} ({kind}) needs the input's shape; pass "
                             "input_shape, e.g. as_layers(model, input_shape=(1, 8, 8))")
        if len(self.shape) != ndim:
            raise ValueError(f"model: layer {name!r} ({kind}) expects samples of shape "
                             f"{ {2: '(C, L)', 3: '(C, H, W)'}[ndim]}; its input "
                             f"has shape {self.shape}")
        return self.shape

    def close(self) -> None:
        if self.pending is not None:
            W, b, eta = self.pending
            self.ops.append(Layer(W, b, np.full(W.shape[0], 1.0 if eta is None else eta)))
            self.pending = None

    def affine(self, W: np.ndarray, b: np.ndarray, out_shape: tuple[int, ...]) -> None:
        """Compose :math:`h \\mapsto W h + b` into the open affine layer."""
        if self.pending is not None and self.pending[2] is None:
            W0, b0, _ = self.pending
            self.pending = [W @ W0, W @ b0 + b, None]
        else:
            self.close()
            self.pending = [W, b, None]
        self.shape = out_shape

    def activation(self, eta: float, name: str) -> None:
        if self.pending is None or self.pending[2] is not None:
            if self.dim is None:
                raise ValueError(f"model: the size of the input of layer {name!r} is unknown; "
                                 "pass input_shape")
            self.close()
            self.pending = [np.eye(self.dim), np.zeros(self.dim), None]
        self.pending[2] = eta

    def operator(self, op: Any, out_shape: tuple[int, ...]) -> None:
        self.close()
        self.ops.append(op)
        self.shape = out_shape


def _padding(m: Any, kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    if m.padding == "valid":
        return [(0, 0)] * len(kernel)
    if m.padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in _tuple(m.padding, len(kernel))]


def _conv(b: _Builder, m: Any, name: str, nd: int) -> None:
    shape = b.need_shape(name, nd + 1, type(m).__name__)
    if m.padding_mode != "zeros":
        raise TypeError(f"model: layer {name!r} has padding_mode={m.padding_mode!r}; only "
                        "'zeros' is supported")
    kernel, dilation = tuple(m.kernel_size), tuple(m.dilation)
    W, bias, out = conv_matrix(_np(m.weight), None if m.bias is None else _np(m.bias), shape,
                               stride=tuple(m.stride), padding=_padding(m, kernel, dilation),
                               dilation=dilation, groups=m.groups)
    b.affine(W, bias, out)


def _pool(b: _Builder, m: Any, name: str, nd: int, kind: str) -> None:
    shape = b.need_shape(name, nd + 1, type(m).__name__)
    if m.ceil_mode:
        raise ValueError(f"model: layer {name!r} has ceil_mode=True; only ceil_mode=False is supported")
    kernel = _tuple(m.kernel_size, nd)
    stride = _tuple(m.stride if m.stride is not None else m.kernel_size, nd)
    padding = [(p, p) for p in _tuple(m.padding, nd)]
    if kind == "avg":
        W, out = avgpool_matrix(shape, kernel=kernel, stride=stride, padding=padding,
                                count_include_pad=m.count_include_pad,
                                divisor=getattr(m, "divisor_override", None))
        b.affine(W, np.zeros(W.shape[0]), out)
        return
    if m.return_indices:
        raise ValueError(f"model: layer {name!r} has return_indices=True; its output is a tuple")
    windows, out = maxpool_windows(shape, kernel=kernel, stride=stride, padding=padding,
                                   dilation=_tuple(m.dilation, nd))
    b.operator(MaxPool(windows, int(np.prod(shape))), out)


def _batchnorm(b: _Builder, m: Any, name: str, ndims: tuple[int, ...]) -> None:
    if m.training:
        raise ValueError(f"model: layer {name!r} ({type(m).__name__}) is in training mode, where "
                         "it normalizes by batch statistics; call model.eval() first")
    if m.running_mean is None:
        raise ValueError(f"model: layer {name!r} has no running statistics "
                         "(track_running_stats=False); it is not affine")
    shape = b.shape
    if shape is None or len(shape) not in ndims or shape[0] != m.num_features:
        raise ValueError(f"model: layer {name!r} ({type(m).__name__}, {m.num_features} channels) "
                         f"cannot act on inputs of shape {shape}; pass input_shape if unknown")
    scale = 1.0 / np.sqrt(_np(m.running_var) + m.eps)
    gamma = _np(m.weight) if m.affine else np.ones(m.num_features)
    beta = _np(m.bias) if m.affine else np.zeros(m.num_features)
    s = np.repeat(gamma * scale, int(np.prod(shape[1:])))
    t = np.repeat(beta - gamma * scale * _np(m.running_mean), int(np.prod(shape[1:])))
    b.affine(np.diag(s), t, shape)


def _flatten(b: _Builder, m: Any, name: str, nn: Any) -> None:
    if b.shape is None:
        return
    full = (0, *b.shape)                             # the batch axis is axis 0
    if isinstance(m, nn.Flatten):
        start, end = m.start_dim % len(full), m.end_dim % len(full)
        if start == 0:
            raise ValueError(f"model: layer {name!r} flattens the batch axis (start_dim=0)")
        new = full[:start] + (int(np.prod(full[start:end + 1])),) + full[end + 1:]
    else:
        dim = m.dim % len(full)
        new = full[:dim] + tuple(m.unflattened_size) + full[dim + 1:]
        if int(np.prod(new[1:])) != int(np.prod(b.shape)):
            raise ValueError(f"model: layer {name!r} cannot unflatten shape {b.shape} to {new[1:]}")
    b.shape = tuple(new[1:])


def _linear(b: _Builder, m: Any, name: str) -> None:
    if b.shape is not None and len(b.shape) != 1:
        raise ValueError(f"model: nn.Linear layer {name!r} would act on the last axis of a sample "
                         f"of shape {b.shape}; insert nn.Flatten() before it")
    if b.shape is not None and b.shape[0] != m.in_features:
        raise ValueError(f"model: layer {name!r} expects {m.in_features} features; its input "
                         f"has {b.shape[0]}")
    W = _np(m.weight)
    bias = np.zeros(W.shape[0]) if m.bias is None else _np(m.bias)
    b.affine(W, bias, (W.shape[0],))


def _leaves(module: Any, nn: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += _leaves(child, nn, f"{prefix}{name}.")
        return out
    return [(prefix.rstrip(".") or type(module).__name__, module)]


def _convert(b: _Builder, module: Any, torch: Any, prefix: str = "") -> None:
    from .torch_modules import Abs, Residual

    nn = torch.nn
    for name, m in _leaves(module, nn, prefix):
        if isinstance(m, nn.Identity) or (isinstance(m, nn.Dropout) and not m.training):
            continue
        if isinstance(m, nn.Linear):
            _linear(b, m, name)
        elif isinstance(m, nn.Conv1d | nn.Conv2d):
            _conv(b, m, name, 1 if isinstance(m, nn.Conv1d) else 2)
        elif isinstance(m, nn.ReLU | nn.LeakyReLU | Abs):
            eta = {nn.ReLU: 0.0, Abs: -1.0}.get(type(m), getattr(m, "negative_slope", 0.0))
            b.activation(float(eta), name)
        elif isinstance(m, nn.MaxPool1d | nn.MaxPool2d | nn.AvgPool1d | nn.AvgPool2d):
            nd = 1 if isinstance(m, nn.MaxPool1d | nn.AvgPool1d) else 2
            _pool(b, m, name, nd, "max" if isinstance(m, nn.MaxPool1d | nn.MaxPool2d) else "avg")
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            _batchnorm(b, m, name, (1, 2) if isinstance(m, nn.BatchNorm1d) else (3,))
        elif isinstance(m, nn.Flatten | nn.Unflatten):
            _flatten(b, m, name, nn)
        elif isinstance(m, Residual):
            _residual(b, m, name, torch)
        else:
            raise TypeError(f"model: layer {name!r} of type {type(m).__name__} is not supported"
                            f"{' in training mode' if isinstance(m, nn.Dropout) else ''}; "
                            f"use {SUPPORTED}")


def _residual(b: _Builder, m: Any, name: str, torch: Any) -> None:
    inner = _Builder(b.shape)
    _convert(inner, m.body, torch, f"{name}.body.")
    inner.close()
    if not inner.ops:
        raise ValueError(f"model: the residual block {name!r} has an empty body")
    if inner.shape != b.shape and b.shape is not None:
        raise ValueError(f"model: the body of residual block {name!r} maps shape {b.shape} to "
                         f"{inner.shape}; x + F(x) needs equal shapes")
    b.operator(ResidualBlock(tuple(inner.ops)), inner.shape)


def torch_stack(module: Any, torch: Any, input_shape: tuple[int, ...] | None = None) -> LayerStack:
    """Convert a torch module (see the module docstring) to a :class:`LayerStack`."""
    b = _Builder(input_shape)
    _convert(b, module, torch)
    b.close()
    if not b.ops:
        raise ValueError("model: the torch module has no layer that acts on its input")
    stack = LayerStack(tuple(b.ops), input_shape)
    if input_shape is not None and stack.input_dim != int(np.prod(input_shape)):
        raise ValueError(f"model: input_shape {input_shape} has {int(np.prod(input_shape))} "
                         f"entries; the first layer expects {stack.input_dim}")
    return stack


__all__ = ["SUPPORTED", "torch_stack"]
