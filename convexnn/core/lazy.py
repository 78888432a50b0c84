"""Lazy imports of the heavy optional backends (torch is imported when a solver runs)."""

from __future__ import annotations

from types import ModuleType


def torch_module() -> ModuleType:
    """The ``torch`` module, imported on first use (``import convexnn`` stays light)."""
    import torch

    return torch
