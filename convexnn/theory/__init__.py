r"""The seed papers' predictions as checks on a trained network (THEORY A.3, F, H).

Every check returns a :class:`Check` (what was predicted, what was measured, whether it
holds and with which tolerances); none of them asserts.

* :mod:`~convexnn.theory.one_d`: knots, equal-cost splitting and :math:`TV(f')` of 1-D
  networks with free biases (F.1);
* :mod:`~convexnn.theory.interpolation`: the least cost :math:`R^*` of an interpolant, the
  limit :math:`p^*(\beta)/\beta \to R^*`, uniqueness, and the exact 1-D Lasso (F.1);
* :mod:`~convexnn.theory.representer`: active neurons against :math:`n - \mathrm{rank}(F)`
  (A.3, F.2);
* :mod:`~convexnn.theory.balance`: balancedness, path norm = weight decay, rebalancing of
  two-layer and deep networks (H);
* :mod:`~convexnn.theory.report`: the :class:`Check` report;
* :mod:`~convexnn.theory.closed_forms` and :mod:`~convexnn.theory.deep_linear`: the
  closed-form optima of whitened two-layer and deep linear networks (C, E).
"""

from .balance import (
    balance_check,
    deep_balance_errors,
    neuron_norms,
    rebalance_check,
    rebalance_deep,
)
from .interpolation import (
    Lasso1D,
    interpolation_cost,
    interpolation_limit,
    lasso_1d,
    unique_interpolant,
)
from .one_d import Knots, knots, knots_at_data, split_knots_to_data, tv_check
from .report import Check
from .representer import active_neurons

__all__ = ["Check", "Knots", "Lasso1D", "knots", "split_knots_to_data", "knots_at_data",
           "tv_check", "interpolation_cost", "interpolation_limit", "unique_interpolant",
           "lasso_1d", "active_neurons", "neuron_norms", "deep_balance_errors",
           "rebalance_deep", "balance_check", "rebalance_check"]
