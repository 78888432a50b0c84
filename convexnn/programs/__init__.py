"""Convex reformulations of regularized network training, one module per program."""

from .two_layer import TwoLayerProgram

__all__ = ["TwoLayerProgram"]
