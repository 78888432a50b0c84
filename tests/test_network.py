"""Network: forward pass, penalty, balancedness, persistence."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.networks.deep import DeepNetwork
from convexnn.networks.two_layer import Network


def random_net(rng, m=5, d=3, c=None, gated=False, regularize_bias=False):
    W2 = rng.standard_normal(m) if c is None else rng.standard_normal((m, c))
    return Network(W1=rng.standard_normal((m, d)), b1=rng.standard_normal(m), W2=W2,
                   c0=0.3 if c is None else rng.standard_normal(c),
                   skip=rng.standard_normal(d) if c is None else rng.standard_normal((d, c)),
                   gates=rng.standard_normal((m, d)) if gated else None,
                   regularize_bias=regularize_bias)


def test_predict_matches_loop(rng):
    net = random_net(rng)
    X = rng.standard_normal((6, 3))
    expected = [sum(max(x @ net.W1[j] + net.b1[j], 0) * net.W2[j] for j in range(5))
                + x @ net.skip + net.c0 for x in X]
    assert np.allclose(net.predict(X), expected)


def test_gated_predict_matches_loop(rng):
    net = random_net(rng, gated=True)
    X = rng.standard_normal((6, 3))
    expected = [sum((x @ net.gates[j] >= 0) * (x @ net.W1[j] + net.b1[j]) * net.W2[j]
                    for j in range(5)) + x @ net.skip + net.c0 for x in X]
    assert np.allclose(net.predict(X), expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.sampled_from([None, 2]))
def test_rebalance_keeps_function_and_equalizes(seed, reg, c):
    rng = np.random.default_rng(seed)
    net = random_net(rng, c=c, regularize_bias=reg)
    X = rng.standard_normal((8, 3))
    bal = net.rebalance()
    assert np.max(np.abs(bal.predict(X) - net.predict(X))) < 1e-10
    assert bal.balance_error() < 1e-12
    # AM-GM: (1/2)(a^2 + b^2) >= ab, equality when balanced
    assert bal.penalty() == pytest.approx(net.path_norm(), rel=1e-12)
    assert bal.penalty() <= net.penalty() + 1e-12


def test_objective_convention(rng):
    net = random_net(rng, regularize_bias=True)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    pen = 0.5 * (np.sum(net.W1**2) + np.sum(net.W2**2) + np.sum(net.b1**2))
    expected = 0.5 * np.sum((net.predict(X) - y) ** 2) + 0.2 * pen
    assert net.objective(X, y, beta=0.2) == pytest.approx(expected)


@pytest.mark.parametrize("gated,c", [(False, None), (True, None), (False, 3)])
def test_save_load_roundtrip(tmp_path, rng, gated, c):
    net = random_net(rng, gated=gated, c=c, regularize_bias=True)
    path = net.save(tmp_path / "net")
    back = Network.load(path)
    X = rng.standard_normal((4, 3))
    assert np.array_equal(back.predict(X), net.predict(X))
    assert back.regularize_bias and back.activation == net.activation
    with np.load(path, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)


def test_deep_network_matches_two_layer(rng, tmp_path):
    net = random_net(rng)
    net = Network(W1=net.W1, b1=net.b1, W2=net.W2, c0=net.c0)
    deep = DeepNetwork.from_network(net)
    X = rng.standard_normal((5, 3))
    assert np.allclose(deep.predict(X), net.predict(X))
    assert deep.penalty() == pytest.approx(net.penalty())
    back = DeepNetwork.load(deep.save(tmp_path / "deep"))
    assert np.allclose(back.predict(X), net.predict(X))


def test_bad_shapes_and_values(rng):
    with pytest.raises(ValueError, match="W2"):
        Network(W1=np.ones((3, 2)), W2=np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        Network(W1=np.full((1, 2), np.nan), W2=np.ones(1))
    net = Network(W1=np.ones((3, 2)), W2=np.ones(3))
    with pytest.raises(ValueError, match="features"):
        net.predict(np.ones((4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        net.predict(np.array([[np.inf, 0.0]]))
