"""The registry of program kinds: which subpackage solves a validated spec.

Each kind is a subpackage with a ``kind`` module whose ``KIND`` implements
:class:`~convexnn.core.protocol.ProgramKind`; the registry asks them in order whether they
take the spec (:meth:`accepts`).  A new program kind is one subpackage and one line here.
This is the only module outside the kinds' subpackages that names them.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

from .exceptions import ConvexNNValueError

#: the kinds' modules, asked in this order
KIND_MODULES = ("cnn", "two_layer", "vector", "three_layer")  # cnn first: it takes the
# specs that name a convolution (``conv=``), which the two-layer kind would also accept


def _kinds() -> Iterator[Any]:
    """Every registered kind in order, each imported only when reached (``import convexnn``
    stays light; a two-layer fit never imports the vector or three-layer kinds)."""
    for name in KIND_MODULES:
        yield import_module(f"{__package__}.{name}.kind").KIND


def kind_for(spec: Any) -> Any:
    """The program kind that solves ``spec`` (:class:`~convexnn.core.spec.FitSpec`)."""
    for kind in _kinds():
        if kind.accepts(spec):
            return kind
    raise ConvexNNValueError(
        f"no program kind solves depth={spec.depth} with {spec.n_outputs} output(s) and "
        f"loss={spec.loss.name!r}; see convexnn.fit's docstring for the supported settings")


def kind_for_network(network: Any, loss: Any) -> Any:
    """The program kind whose certificate applies to ``network`` under ``loss``."""
    for kind in _kinds():
        if kind.takes_network(network, loss):
            return kind
    raise TypeError(f"no certificate for a {type(network).__name__}: pass a convexnn Network "
                    "(two layers, any output), ParallelNetwork (three layers) or ConvNetwork "
                    "(two-layer CNN, scalar output)")


__all__ = ["kind_for", "kind_for_network"]
