r"""The max-affine-spline (MASO) view of ReLU networks (THEORY G).

A ReLU network is a composition of max-affine spline operators, hence continuous and
piecewise affine: on the activation region of x, named by its per-layer codes
:math:`q^{(l)}(x) = 1[z^{(l)}(x) > 0]`,

.. math::  f(x) = A[x]\,x + b[x], \qquad A[x] = W_L Q_{L-1} W_{L-1} \cdots Q_1 W_1.

This package works for a two-layer (gated) :class:`~convexnn.Network` (skip term and
output bias included), a :class:`~convexnn.DeepNetwork`, a list of ``(W, b, activation)``
triples, or a torch ``nn.Sequential`` MLP or CNN: ``Linear``, ``Conv1d``/``Conv2d``,
``ReLU``, ``LeakyReLU``, :class:`Abs`, ``MaxPool1d/2d`` (codes: the argmax in each
window), ``AvgPool1d/2d``, ``BatchNorm1d/2d`` (eval mode), ``Flatten`` and residual blocks
:class:`Residual` (:math:`x + F(x)`).  A CNN needs its input shape once,
``stack = as_layers(cnn, input_shape=(1, 8, 8))``; pass the stack to every function:

* :func:`activation_codes`, :func:`affine_map`, :func:`affine_maps`, :func:`templates`,
  :func:`template_cosines` -- codes, per-input affine maps (explicit product), templates;
* :func:`segment_regions` -- exact regions and pieces along a segment (root splitting);
* :func:`slice_regions` -- exact polygonal partition of a 2-D slice (half-plane clipping);
* :func:`vq_distance`, :func:`vq_distance_matrix` -- the VQ (code Hamming) distance;
* :func:`template_penalty`, :func:`last_layer_penalty` -- template-orthogonality loss terms
  (torch, imported lazily);
* :class:`Abs`, :class:`Residual` (torch modules), :func:`train_classifier`,
  :func:`digits_cnn`, :func:`digits_images` -- loaded on first use, with torch.

Importing this package does not import torch.

References
----------
R. Balestriero and R. Baraniuk, "A spline theory of deep learning", ICML 2018; "Mad Max:
affine spline insights into deep learning", Proc. IEEE 109(5), 2021.
"""

from .affine import activation_codes, affine_map, affine_maps, template_cosines, templates
from .convert import as_layers
from .layers import Layer, LayerStack
from .operators import MaxPool, ResidualBlock
from .penalties import input_jacobians, last_layer_penalty, off_diagonal_gram, template_penalty
from .segment import SegmentCheck, SegmentPartition, SegmentPiece, segment_regions
from .slice2d import SliceCheck, SlicePartition, SliceRegion, slice_regions
from .vq import layer_hamming, vq_distance, vq_distance_matrix

#: Names that need torch, loaded on first access (PEP 562).
_TORCH_EXPORTS = {
    "Abs": "torch_modules",
    "Residual": "torch_modules",
    "train_classifier": "training",
    "digits_cnn": "training",
    "digits_images": "training",
    "accuracy": "training",
    "TrainLog": "training",
}


def __getattr__(name: str):
    if name in _TORCH_EXPORTS:
        from importlib import import_module

        value = getattr(import_module(f".{_TORCH_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convexnn.spline' has no attribute {name!r}")


__all__ = [
    "Abs",
    "Layer",
    "LayerStack",
    "MaxPool",
    "Residual",
    "ResidualBlock",
    "SegmentCheck",
    "SegmentPartition",
    "SegmentPiece",
    "SliceCheck",
    "SlicePartition",
    "SliceRegion",
    "TrainLog",
    "accuracy",
    "activation_codes",
    "affine_map",
    "affine_maps",
    "as_layers",
    "digits_cnn",
    "digits_images",
    "input_jacobians",
    "last_layer_penalty",
    "layer_hamming",
    "off_diagonal_gram",
    "segment_regions",
    "slice_regions",
    "template_cosines",
    "template_penalty",
    "templates",
    "train_classifier",
    "vq_distance",
    "vq_distance_matrix",
]
