"""Deep ReLU networks on whitened data: the sign-separated shrinkage (THEORY E.3)."""

import numpy as np
import pytest

from convexnn.theory.closed_forms import whitened_two_layer
from convexnn.theory.deep_linear import train_deep
from convexnn.theory.deep_relu import whitened_deep_relu


def whitened(seed, n=4, d=6):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    return Q.T, 2 * rng.standard_normal(n)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_network_attains_closed_form(depth):
    X, y = whitened(0)
    cf = whitened_deep_relu(X, y, beta=0.3, depth=depth)
    assert np.allclose(cf.network.predict(X), cf.prediction)
    assert abs(cf.network.objective(X, y, beta=0.3) - cf.objective) <= 1e-10
    assert cf.joint_lower_bound <= cf.objective


def test_depth_two_is_the_two_layer_closed_form():
    X, y = whitened(1)
    assert abs(whitened_deep_relu(X, y, beta=0.4, depth=2).objective
               - whitened_two_layer(X, y, beta=0.4).objective) <= 1e-12


def test_hard_threshold_per_sign():
    """L = 3: a sign part below the threshold is dropped entirely (jump), not shrunk."""
    X, _ = whitened(2, n=2, d=3)
    y = np.array([3.0, -0.5])
    cf = whitened_deep_relu(X, y, beta=0.5, depth=3)
    assert cf.sigma_neg == 0.0 and cf.sigma_pos > 2.0


@pytest.mark.parametrize("depth", [3, 4])
def test_gradient_runs_do_not_beat_it(depth):
    X, y = whitened(3, n=3, d=4)
    cf = whitened_deep_relu(X, y, beta=0.3, depth=depth)
    fit = train_deep(X, y, beta=0.3, widths=[4] * (depth - 1), activation="relu", restarts=4,
                     seed=0, maxiter=3000)
    assert fit.objectives.min() >= cf.objective * (1 - 1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("depth", [3, 4])
def test_best_of_twenty_runs_equals_it(seed, depth):
    X, y = whitened(seed)
    cf = whitened_deep_relu(X, y, beta=0.3, depth=depth)
    fit = train_deep(X, y, beta=0.3, widths=[6] * (depth - 1), activation="relu", restarts=20,
                     seed=seed)
    assert fit.objectives.min() >= cf.objective * (1 - 1e-7)
    assert fit.objectives.min() <= cf.objective * (1 + 1e-4)
    if (y > 0).any() and (y < 0).any() and min(cf.sigma_pos, cf.sigma_neg) > 0:
        assert cf.objective > cf.joint_lower_bound * (1 + 1e-3)  # joint bound not attained
