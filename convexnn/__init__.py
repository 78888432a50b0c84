"""convexnn: train regularized ReLU networks to global optimality through their convex
reformulations, and certify the answer.

Public names are loaded lazily so that ``import convexnn`` imports neither cvxpy nor torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "fit": "api",
    "FitResult": "api",
    "cone_decomposition": "api",
    "Network": "network",
    "DeepNetwork": "network",
    "PatternSet": "patterns",
    "sample_patterns": "patterns",
    "enumerate_patterns": "patterns",
    "pattern_count": "patterns",
    "TwoLayerProgram": "programs.two_layer",
    "ConvexSolution": "solution",
    "get_loss": "losses",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convexnn' has no attribute {name!r}")


def __dir__():
    return __all__
