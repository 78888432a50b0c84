"""The seed papers' predictions as checks on trained networks (THEORY F, H, A.3)."""

from .one_d import (  # noqa: F401  (_close: shared with closed_forms, deep_linear)
    Check,
    Knots,
    Lasso1D,
    _close,
    active_neurons,
    balance_check,
    deep_balance_errors,
    interpolation_cost,
    interpolation_limit,
    knots,
    knots_at_data,
    lasso_1d,
    neuron_norms,
    rebalance_check,
    rebalance_deep,
    split_knots_to_data,
    tv_check,
    unique_interpolant,
)

__all__ = ["Check", "Knots", "Lasso1D", "knots", "split_knots_to_data", "knots_at_data",
           "tv_check", "interpolation_cost", "interpolation_limit", "unique_interpolant",
           "lasso_1d", "active_neurons", "neuron_norms", "deep_balance_errors",
           "rebalance_deep", "balance_check", "rebalance_check"]
