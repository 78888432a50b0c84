"""Three-layer networks with regularized first-layer biases, init networks and the descent
finish (issue 24), against independent truth: the network's own numpy objective, torch,
gradient runs as upper bounds, exact enumeration on tiny data."""

import warnings

import numpy as np
import pytest
import torch

import convexnn as cn
from convexnn.core.losses import get_loss
from convexnn.networks.parallel import ParallelNetwork
from convexnn.three_layer.pricer import GroupSet
from convexnn.three_layer.program import ThreeLayerProgram, ThreeLayerSolution
from convexnn.training.parallel import random_parallel, train_parallel

BETA = 0.2


def tiny(seed=0, n=5, d=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def biased(seed=0, K=3, m1=2, d=2, path="l2"):
    net = random_parallel(d, K, m1, path=path, seed=seed, bias=True)
    assert net.has_bias and net.regularize_bias
    return net


@pytest.mark.parametrize("path", ["l1", "l2"])
def test_lifted_network_same_predictions_and_path_norm(path):
    """The bias-free network on [X, 1] predicts the same and has the same path norm, computed
    by hand from the definition."""
    X, _ = tiny(1, n=7, d=3)
    net = biased(2, d=3, path=path)
    lift = net.lifted()
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    assert np.allclose(lift.predict(X1), net.predict(X))
    hand = np.zeros((X.shape[0],))
    for k in range(net.W.shape[0]):
        hk = sum(np.maximum(X @ net.W[k, j] + net.b[k, j], 0) * net.c[k, j] for j in range(2))
        hand += net.alpha[k] * np.maximum(hk, 0)
    assert np.allclose(net.predict(X), hand)
    v = np.sqrt((net.W**2).sum(2) + net.b**2) * np.abs(net.c)
    inner = v.sum(1) if path == "l1" else np.sqrt((v**2).sum(1))
    assert np.isclose(net.penalty(), np.sum(np.abs(net.alpha) * inner))
    assert np.isclose(lift.penalty(), net.penalty())
    back = ParallelNetwork.from_lifted(lift)
    assert np.allclose(back.b, net.b) and np.allclose(back.W, net.W)


def test_torch_module_with_bias_matches_numpy(tmp_path):
    X, y = tiny(3, n=8, d=2)
    net = biased(4)
    mod = net.to_torch()
    with torch.no_grad():
        assert np.allclose(mod(torch.as_tensor(X)).numpy(), net.predict(X))
        assert np.isclose(float(mod.penalty()), net.penalty())
    free = ParallelNetwork(W=net.W, c=net.c, alpha=net.alpha, b=net.b, regularize_bias=False)
    assert free.penalty() < net.penalty()
    back = ParallelNetwork.load(net.save(tmp_path / "n.npz"))
    assert np.allclose(back.b, net.b) and back.regularize_bias
    assert np.isclose(back.objective(X, y, beta=BETA), net.objective(X, y, beta=BETA))


@pytest.mark.parametrize("path", ["l1", "l2"])
def test_groupset_point_is_feasible_and_not_above_the_network(path):
    """The feasible point of a network (two sub-networks share a group on purpose) satisfies
    the cone constraints and its program objective is at most the network's."""
    X, y = tiny(5, n=9, d=3)
    net = random_parallel(3, 4, 2, path=path, seed=6)
    net = ParallelNetwork(W=np.concatenate([net.W, 0.5 * net.W[:1]]),
                          c=np.concatenate([net.c, net.c[:1]]),
                          alpha=np.concatenate([net.alpha, net.alpha[:1]]), path=path)
    S = GroupSet(X.shape[0], 2)
    Z = S.point(net, X)
    program = ThreeLayerProgram(X, y, BETA, path, S.groups(), get_loss("squared"))
    sol = ThreeLayerSolution(Z=Z)
    assert program.constraint_violation(sol) < 1e-12
    assert np.allclose(program.predict(sol), net.predict(X))
    assert program.objective(sol) <= net.objective(X, y, beta=BETA) + 1e-12
    rec = program.recover(sol)
    assert rec.objective(X, y, beta=BETA) <= program.objective(sol) + 1e-9
    keys, groups = S.keys(), S.groups()
    S.restore(keys[::-1])  # the same groups, rebuilt from their keys
    back = S.groups()
    assert np.array_equal(back.D2, groups.D2[::-1]) and np.array_equal(back.sign, groups.sign[::-1])


@pytest.mark.parametrize("path", [pytest.param("l1", marks=pytest.mark.slow), "l2"])
def test_regularized_bias_exact_optimum_below_gradient_runs(path):
    """Tiny data, exact enumeration on [X, 1]: the optimum with regularized biases is below
    every gradient run of biased networks (upper bounds), below the bias-free optimum, and
    the recovered network with biases attains it in its own numpy objective."""
    X, y = tiny(7, n=5, d=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cn.fit(X, y, depth=3, beta=BETA, path=path, m1=2, patterns="exact")
        r0 = cn.fit(X, y, depth=3, beta=BETA, path=path, m1=2, patterns="exact", bias="none")
    assert r.network.has_bias
    own = r.network.objective(X, y, beta=BETA)
    assert np.isclose(own, r.objective, rtol=1e-6)
    assert r.objective <= r0.objective * (1 + 1e-6)
    assert r.certificate.lower_bound <= r.objective * (1 + 1e-6)
    assert r.certificate.relative_gap < 1e-4
    for s in range(4):
        run = train_parallel(X, y, beta=BETA, path=path, K=4, m1=2, seed=s, max_iter=300,
                             bias="regularized")
        assert run.network.has_bias
        assert r.objective <= run.objective * (1 + 1e-6)
        assert r.certificate.lower_bound <= run.objective * (1 + 1e-6)


def test_init_network_is_an_upper_bound_of_the_fit():
    """A gradient-trained network passed as ``init`` joins the columns: the fit is at most
    its objective (sampled groups and generated groups alike)."""
    X, y = tiny(8, n=12, d=2)
    run = train_parallel(X, y, beta=BETA, path="l2", K=3, m1=2, seed=0, max_iter=200,
                         bias="regularized")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for patterns in (3, "generate"):
            r = cn.fit(X, y, depth=3, beta=BETA, m1=2, patterns=patterns, init=run.network,
                       max_rounds=2, seed_runs=0, certify=False)
            assert r.objective <= run.objective * (1 + 1e-7)
    with pytest.raises(ValueError, match="biases"):
        cn.fit(X, y, depth=3, beta=BETA, bias="none", init=run.network)


def test_adam_and_free_bias_training():
    """Adam keeps the lowest objective it saw (never above its start); a free bias is
    outside the path norm."""
    X, y = tiny(9, n=10, d=2)
    net = biased(10)
    start = net.objective(X, y, beta=BETA)
    run = train_parallel(X, y, beta=BETA, init=net, optimizer="adam", max_iter=50)
    assert run.objective <= start
    free = train_parallel(X, y, beta=BETA, K=2, m1=2, bias="free", max_iter=50)
    assert free.network.has_bias and not free.network.regularize_bias
