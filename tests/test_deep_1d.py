"""Deep narrow 1-D networks as a Lasso with reflection features (Zeger, Wang & Pilanci 2024)."""

import numpy as np
import pytest

from convexnn.deep_1d.program import (
    chain_features,
    chain_weights,
    grid_dictionary,
    lasso_deep_1d,
    library_dictionary,
)
from convexnn.training.chains import train_chains

ZSHAPE = (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 3]))
BOUNCE = (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 7]))
OPT = (np.array([0.0, 4, 5, 7, 10, 11]), np.array([0.0, 0, 0, 2, 3, 3]))


def test_features_equal_unit_chains():
    """The recursive features equal unit chains with the biases of chain_weights."""
    x = np.linspace(-4, 14, 181)
    S, B = library_dictionary(OPT[0], 4)
    A = chain_features(x, S, B)
    b = chain_weights(S, B)
    h = np.repeat(x[:, None], len(S), axis=1)
    for layer in range(3):
        h = np.maximum(S[:, layer] * h + b[:, layer], 0)
    assert np.allclose(A, h)
    assert any(np.isclose(B[:, 0], 2 * 4 - 0).tolist())  # a reflection 2*x_j2 - x_j1 is in


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_recovered_network_attains_lasso(depth):
    x, y = BOUNCE
    r = lasso_deep_1d(x, y, beta=0.1, depth=depth)
    net = r.network()
    assert abs(net.objective(x, y, beta=0.1) - r.objective) <= 1e-6 * r.objective
    assert net.depth == depth


@pytest.mark.parametrize("data,depth,cost,knots", [
    (OPT, 2, 2.0, [5, 7, 10]),   # library paper: ramps at 5, 7, 10 (1, -2/3, -1/3)
    (OPT, 3, 1.0, [5, 7, 10]),   # 2/3 ramp(5,7) + 1/3 ramp(5,10)
    (OPT, 4, 1.0, None),         # cost 1 (ramp(5,8) in the paper; optimal set not unique)
    (ZSHAPE, 2, 1.5, [2, 6]),
    (ZSHAPE, 3, 0.75, [2, 6]),   # one capped ramp 0.75*(4 - (6-x)_+)_+
    (ZSHAPE, 4, 0.75, None),
])
def test_published_small_examples(data, depth, cost, knots):
    """p(beta)/beta -> the min-norm cost of interpolation (beta = 1e-6), knots as stated."""
    x, y = data
    beta = 1e-6
    r = lasso_deep_1d(x, y, beta=beta, depth=depth, min_norm=True)
    assert abs(r.objective / beta - cost) <= 1e-3 * cost
    net = r.network(rtol=1e-5)
    assert np.max(np.abs(net.predict(x) - y)) <= 1e-4  # interpolation as beta -> 0
    if knots is not None:
        k, _ = net.knots(tol=1e-3)
        assert np.allclose(np.unique(np.round(k, 6)), knots, atol=1e-5)


def test_library_loses_nothing_against_a_grid_dictionary():
    """Chains with breakpoints anywhere on a grid (not containing the reflections) never
    beat the library dictionary."""
    x, y = BOUNCE
    grid = np.linspace(-3.3, 10.7, 29)
    for depth in (3, 4):
        lib = lasso_deep_1d(x, y, beta=0.1, depth=depth).objective
        g = grid if depth == 3 else grid[::2]
        other = lasso_deep_1d(x, y, beta=0.1, depth=depth,
                              dictionary=grid_dictionary(x, depth, g)).objective
        assert lib <= other + 1e-7


def test_deeper_is_cheaper():
    """Deeper dictionaries contain the shallower ones (repeat a breakpoint): p4 <= p3 <= p2."""
    x, y = OPT
    p = [lasso_deep_1d(x, y, beta=0.05, depth=L).objective for L in (2, 3, 4)]
    assert p[2] <= p[1] + 1e-8 <= p[0] + 2e-8


@pytest.mark.parametrize("depth", [3, 4])
def test_lasso_below_gradient_training(depth):
    x, y = ZSHAPE
    beta = 0.1
    r = lasso_deep_1d(x, y, beta=beta, depth=depth)
    runs = [train_chains(x, y, beta=beta, depth=depth, K=6, seed=s, adam_steps=300,
                         lbfgs_steps=100).objective(x, y, beta=beta) for s in range(1)]
    assert r.objective <= min(runs) * (1 + 1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [3, 4])
def test_lasso_below_many_gradient_runs(depth):
    x, y = ZSHAPE
    beta = 0.1
    r = lasso_deep_1d(x, y, beta=beta, depth=depth)
    runs = [train_chains(x, y, beta=beta, depth=depth, seed=s).objective(x, y, beta=beta)
            for s in range(8)]
    assert r.objective <= min(runs) * (1 + 1e-7)
    assert min(runs) <= 1.02 * r.objective  # and training gets close


def test_errors():
    with pytest.raises(ValueError, match="depth"):
        library_dictionary([0.0, 1.0], 5)
    with pytest.raises(ValueError, match="beta"):
        lasso_deep_1d([0.0, 1.0], [0.0, 1.0], beta=0.0, depth=3)
    with pytest.raises(ValueError, match="same length"):
        lasso_deep_1d([0.0, 1.0], [0.0], beta=0.1, depth=3)
