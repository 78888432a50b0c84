"""Layer spectra of weight-decay-trained deep ReLU networks (Parhi & Nowak; THEORY F.3)."""

import numpy as np
import pytest

from convexnn.theory.deep_rank import DeepRankRun, balance_of_layers, train_deep_relu


def data(n=12):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 2))
    return X, np.maximum(X @ np.array([1.0, -1.0]), 0) + 0.5 * X[:, 0]


def test_run_reports_spectra_and_trivial_rank_bounds():
    X, y = data()
    run = train_deep_relu(X, y, beta=0.1, widths=[5, 5], skip=False, adam_steps=50, lbfgs_steps=50)
    ranks = run.numerical_ranks()
    assert ranks[0] <= 2 and ranks[-1] <= 1  # first layer: rank <= d; output: rank <= 1
    assert len(run.singular_values()) == 3 and run.skip is None
    assert np.isfinite(run.objective)


def test_balance_check_detects_rescaling():
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((3, 2)), rng.standard_normal((3, 3)), rng.standard_normal((1, 3))]
    Ws = [W / np.linalg.norm(W) for W in Ws]
    run = DeepRankRun(Ws, [np.zeros(3), np.zeros(3), np.zeros(1)], None, 0.0)
    assert balance_of_layers(run).holds
    # f is unchanged by W1 -> 2 W1, W2 -> W2 / 2 (ReLU is 1-homogeneous), the balance is not
    run2 = DeepRankRun([2 * Ws[0], Ws[1] / 2, Ws[2]], run.biases, None, 0.0)
    assert not balance_of_layers(run2).holds


@pytest.mark.slow
def test_weight_decay_lowers_hidden_rank():
    X, y = data(20)
    free = train_deep_relu(X, y, beta=1e-6, widths=[10, 10, 10], adam_steps=1000, lbfgs_steps=1000)
    wd = train_deep_relu(X, y, beta=1.0, widths=[10, 10, 10], adam_steps=1000, lbfgs_steps=1000)
    assert sum(wd.numerical_ranks()[1:-1]) < sum(free.numerical_ranks()[1:-1])
    assert balance_of_layers(wd, rtol=5e-2).holds  # weight decay balances the layers
