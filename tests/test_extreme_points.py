"""Extreme-point characterization of optimal neurons (Ergen & Pilanci; THEORY A.6-A.7, E.1)."""

import numpy as np
import pytest

import convexnn as cn
from convexnn.theory.extreme_points import extreme_point_check
from convexnn.training import random_module
from convexnn.training.parallel import train_parallel


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 3)), rng.standard_normal(12)


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
@pytest.mark.filterwarnings("ignore::convexnn.exceptions.InaccurateSolutionWarning")
@pytest.mark.parametrize("bias", ["none", "regularized", "free"])
def test_holds_at_certified_two_layer_optimum(data, bias):
    X, y = data
    beta = 0.3
    r = cn.fit(X, y, beta=beta, bias=bias, patterns="exact", solver="clarabel", tol=1e-12)
    assert r.certificate.certified  # whatever Clarabel's flag at tol=1e-12 says
    net = r.network
    chk = extreme_point_check(net, X, y, beta=beta, bias=bias, rtol=1e-6)
    assert chk.holds, chk.summary_line()
    assert chk.details["s_over_beta"] <= 1 + 1e-6
    # the attained values are independent of the solver's own dual: recompute by hand
    lam = y - net.predict(X)
    Xt = X if bias == "none" else np.hstack([X, np.ones((len(X), 1))])
    U = net.W1 if bias == "none" else np.hstack([net.W1, net.b1[:, None]])
    j = int(np.argmax(np.abs(net.W2)))
    u = U[j] / np.linalg.norm(U[j] if bias != "free" else U[j, :-1])
    assert abs(np.sign(net.W2[j]) * lam @ np.maximum(Xt @ u, 0) - beta) <= 1e-6 * beta



def test_fails_at_stopped_early_sgd(data):
    X, y = data
    beta = 0.3
    net0 = random_module(3, 20, seed=0)
    tr = cn.train(net0, X, y, beta=beta, optimizer="sgd", epochs=20, lr=1e-2, quiet=True)
    chk = extreme_point_check(tr.network, X, y, beta=beta)
    assert not chk.holds
    assert chk.details["max_deviation"] > 1e-2


def test_stationary_but_not_optimal_is_caught_by_dual_feasibility(data):
    """A width-1 network trained to stationarity attains its own constraint (the per-neuron
    equality) but another direction exceeds beta: only the dual part refutes it."""
    X, y = data
    beta = 0.3
    net0 = random_module(3, 1, seed=2)
    tr = cn.train(net0, X, y, beta=beta, optimizer="lbfgs", epochs=300, quiet=True)
    local = extreme_point_check(tr.network.rebalance(), X, y, beta=beta, dual_feasibility=False,
                                rtol=1e-5)
    full = extreme_point_check(tr.network.rebalance(), X, y, beta=beta, rtol=1e-5)
    assert local.holds
    assert not full.holds and full.details["s_over_beta"] > 1.01


@pytest.mark.parametrize("path", ["l1", "l2"])
def test_parallel_three_layer(path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    r = cn.fit(X, y, depth=3, beta=0.2, path=path, m1=2, bias="none")
    chk = extreme_point_check(r.network, X, y, beta=0.2, groups=r.groups, rtol=1e-6)
    assert chk.holds, chk.summary_line()
    early = train_parallel(X, y, beta=0.2, path=path, K=4, m1=2, seed=1, max_iter=3)
    assert not extreme_point_check(early.network, X, y, beta=0.2, groups=r.groups).holds
