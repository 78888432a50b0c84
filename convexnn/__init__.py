"""convexnn: train regularized ReLU networks to global optimality through their convex
reformulations, and certify the answer.

Public names are loaded lazily so that ``import convexnn`` imports neither cvxpy nor torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "fit": "api",
    "FitResult": "core.results",
    "cone_decomposition": "two_layer.cone_decomposition",
    "Network": "networks.two_layer",
    "DeepNetwork": "networks.deep",
    "Conv": "core.conv",
    "ConvNetwork": "networks.conv",
    "PatternSet": "core.patterns",
    "sample_patterns": "core.patterns",
    "enumerate_patterns": "core.patterns",
    "pattern_count": "core.patterns",
    "enumeration_cost": "core.patterns",
    "ConvexNNError": "exceptions",
    "SolverError": "exceptions",
    "InaccurateSolutionWarning": "exceptions",
    "ConvergenceWarning": "exceptions",
    "ZeroNetworkWarning": "exceptions",
    "TwoLayerProgram": "two_layer.program",
    "ConvexSolution": "core.solution",
    "get_loss": "core.losses",
    # certificates (THEORY A.6-A.8) and the regularization path
    "certify": "api",
    "Certificate": "duality.certificate",
    "cone_support": "duality.cones",
    "beta_max": "path",
    "regularization_path": "path",
    "PathResult": "path",
    "zero_network": "path",
    # gradient training of the same networks (torch) and the comparison with the optimum
    "train": "training.trainer",
    "TrainResult": "training.trainer",
    "compare": "training.compare",
    "CompareResult": "training.compare",
    # theory checks (THEORY F, H, A.3) and closed forms (C, E)
    "Check": "theory",
    "knots": "theory",
    "knots_at_data": "theory",
    "tv_check": "theory",
    "interpolation_cost": "theory",
    "interpolation_limit": "theory",
    "unique_interpolant": "theory",
    "lasso_1d": "theory",
    "active_neurons": "theory",
    "balance_check": "theory",
    "rebalance_check": "theory",
    "rebalance_deep": "theory",
    "extreme_point_check": "theory.extreme_points",
    "ParallelNetwork": "networks.parallel",
    "certify_parallel": "three_layer.certificate",
    "compare_parallel": "training.compare_parallel",
    "whitened_deep_linear": "theory.deep_linear",
    "rank_one_deep_linear": "theory.deep_linear",
    "train_deep": "theory.deep_linear",
    "whitened_two_layer": "theory.closed_forms",
    "whitened_one_hot": "theory.closed_forms",
    # the max-affine spline view (THEORY G); the rest lives in convexnn.spline
    "segment_regions": "spline",
    "slice_regions": "spline",
    "affine_map": "spline",
    "vq_distance": "spline",
    # scikit-learn estimators
    "ConvexReLURegressor": "estimators.models",
    "ConvexReLUClassifier": "estimators.models",
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
