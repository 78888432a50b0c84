"""The registry of program kinds: which subpackage solves a validated spec.

Each kind is a subpackage with a ``kind`` module whose ``KIND`` implements
:class:`~convexnn.core.protocol.ProgramKind`; the registry asks them in order whether they
take the spec (:meth:`accepts`).  A new program kind is one subpackage and one line here.
This is the only module outside the kinds' subpackages that names them.
"""

from __future__ import annotations

from typing import Any

from .exceptions import ConvexNNValueError


def _kinds() -> tuple[Any, ...]:
    """Every registered kind, imported on first use (``import convexnn`` stays light)."""
    from .cnn.kind import KIND as cnn
    from .three_layer.kind import KIND as three_layer
    from .two_layer.kind import KIND as two_layer
    from .vector.kind import KIND as vector

    return (cnn, two_layer, vector, three_layer)  # cnn first: it takes the specs naming conv


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
