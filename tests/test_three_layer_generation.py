"""Group generation for the three-layer program (convexnn.three_layer.pricer)."""

import warnings

import numpy as np
import pytest

import convexnn as cn
from convexnn.core.losses import get_loss
from convexnn.three_layer.certificate import certify_parallel
from convexnn.three_layer.groups import exact_groups
from convexnn.three_layer.pricer import GroupSet
from convexnn.three_layer.pricing import (
    ascend_subnetworks,
    best_scaled_dual,
    relaxed_certificate,
    relaxed_dual_norm,
    subnetwork_values,
)
from convexnn.training.parallel import random_parallel, train_parallel

BETA = 0.2


def tiny(seed=0, n=6, d=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@pytest.fixture(scope="module")
def exact_l2():
    X, y = tiny()
    with warnings.catch_warnings():  # Clarabel may flag the exact solve optimal_inaccurate
        warnings.simplefilter("ignore")
        return X, y, cn.fit(X, y, depth=3, beta=BETA, path="l2", m1=2,
                                     certify=False, bias="none")


def test_generated_equals_exact_optimum_heuristic_pricing(exact_l2):
    """Tiny data: with heuristic pricing only, the generated program reaches the exact
    enumeration's optimum (1e-6 relative), and the network attains it."""
    X, y, ex = exact_l2
    g = cn.fit(X, y, depth=3, patterns="generate", beta=BETA, path="l2", m1=2, seed=0, exact_pricing=False,
                             certify=False, bias="none")
    assert not g.exhaustive and g.generation.stopped == "searched"
    assert abs(g.objective - ex.objective) <= 1e-6 * ex.objective
    net_obj = g.network.objective(X, y, beta=BETA)
    assert abs(net_obj - ex.objective) <= 1e-6 * ex.objective
    assert g.groups.n_groups < ex.groups.n_groups  # far fewer groups than the enumeration


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_equals_exact_optimum_l1(seed):
    X, y = tiny(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = cn.fit(X, y, depth=3, beta=BETA, path="l1", certify=False, bias="none")
    g = cn.fit(X, y, depth=3, patterns="generate", beta=BETA, path="l1", m1=2, seed=0, certify=False, bias="none")
    assert abs(g.objective - ex.objective) <= 1e-6 * ex.objective


def test_exact_pricing_certifies(exact_l2):
    """With exact pricing (tiny n) the loop ends with no violated enumerated group and the
    exact weak-duality certificate proves global optimality."""
    X, y, ex = exact_l2
    g = cn.fit(X, y, depth=3, patterns="generate", beta=BETA, path="l2", m1=2, seed=3, exact_pricing=True, bias="none")
    assert g.generation.stopped == "proven"
    assert g.certificate.certified and g.certificate.exhaustive
    assert g.certificate.lower_bound <= ex.objective + 1e-9 <= g.certificate.upper_bound + 2e-9
    assert abs(g.objective - ex.objective) <= 1e-6 * ex.objective


def test_without_exact_pricing_nothing_is_certified(exact_l2):
    """The relaxed bound is valid (below the exact optimum) but loose here: no claim."""
    X, y, ex = exact_l2
    g = cn.fit(X, y, depth=3, patterns="generate", beta=BETA, path="l2", m1=2, seed=0, exact_pricing=False, bias="none")
    c = g.certificate
    assert "relaxed" in c.method and not c.certified
    assert c.lower_bound <= ex.objective
    assert "generated groups only" in g.summary()


def test_relaxed_dual_norm_bounds_every_group_support(exact_l2):
    """The relaxation is >= the exact dual norm max_g support over all enumerated groups
    (both paths; certify_parallel at the zero network, whose residual is lam = y) and >=
    the value of random sub-networks."""
    X, _, _ = exact_l2
    rng = np.random.default_rng(0)
    lam = rng.standard_normal(X.shape[0])
    for path, groups in (("l2", exact_groups(X, path="l2", m1=2)), ("l1", exact_groups(X, path="l1"))):
        s_relax, complete = relaxed_dual_norm(X, lam, path=path, m1=2)
        assert complete
        zero = random_parallel(2, 1, 2, path=path, seed=1)
        zero = type(zero)(W=zero.W, c=zero.c, alpha=0 * zero.alpha, path=path)
        cert = certify_parallel(zero, X, lam, beta=1.0, groups=groups)
        assert cert.s <= s_relax * (1 + 1e-6)
        W = rng.standard_normal((500, 2, 2))
        c = rng.standard_normal((500, 2))
        v = np.abs(np.concatenate([subnetwork_values(X, lam, W, c, path),
                                   subnetwork_values(X, -lam, W, c, path)]))
        assert v.max() <= s_relax * (1 + 1e-9)


def test_relaxed_bound_below_gradient_runs():
    """Weak duality: the relaxed bound at any network is <= every network's objective."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((15, 2))
    y = np.abs(X[:, 0]) - X[:, 1] + 0.1 * rng.standard_normal(15)
    loss = get_loss("squared")
    runs = [train_parallel(X, y, beta=0.1, path="l2", K=4, m1=2, seed=s, max_iter=150) for s in range(3)]
    for r in runs:
        cert = relaxed_certificate(r.network, X, y, beta=0.1, m1=2, loss=loss)
        assert all(cert.lower_bound <= q.objective + 1e-9 for q in runs)
        assert cert.upper_bound == pytest.approx(r.objective, rel=1e-9)


def test_best_scaled_dual_matches_closed_form():
    """Squared loss: max_{0<=t<=T} t lam^T y - t^2 |lam|^2 / 2 at t = clip(lam^T y/|lam|^2)."""
    rng = np.random.default_rng(0)
    y, lam = rng.standard_normal(7), rng.standard_normal(7)
    loss = get_loss("squared")
    for T in (0.01, 0.3, 10.0):
        t = np.clip(lam @ y / (lam @ lam), 0, T)
        val, t_found = best_scaled_dual(loss, y, lam, T)
        assert val == pytest.approx(t * (lam @ y) - 0.5 * t * t * (lam @ lam), abs=1e-12)


def test_groupset_maps_networks_into_feasible_groups():
    """Every network is feasible for the program over its own groups: the master optimum
    over them is <= the network's objective (path norm = group norm)."""
    X, y = tiny(5, n=8)
    net = train_parallel(X, y, beta=0.1, path="l2", K=4, m1=2, seed=0, max_iter=200).network
    S = GroupSet(X.shape[0], 2)
    S.add_network(net, X)
    assert len(S) >= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cn.fit(X, y, depth=3, beta=0.1, path="l2", m1=2, patterns=S.groups(), certify=False, bias="none")
    assert r.objective <= net.objective(X, y, beta=0.1) * (1 + 1e-7)
    assert S.add_network(net, X) == []  # deduplicated


def test_ascent_values_are_attained_and_never_worse():
    X, _ = tiny(6, n=12, d=3)
    rng = np.random.default_rng(1)
    lam = rng.standard_normal(12)
    W0, c0 = rng.standard_normal((40, 2, 3)), rng.standard_normal((40, 2))
    for path in ("l1", "l2"):
        v, W, c = ascend_subnetworks(X, lam, W0, c0, path=path)
        assert np.allclose(subnetwork_values(X, lam, W, c, path), v, atol=1e-12)
        assert np.all(v >= subnetwork_values(X, lam, W0, c0, path) - 1e-12)


def test_fit_dispatch_generate():
    X, y = tiny(7, n=9)
    r = cn.fit(X, y, beta=BETA, depth=3, path="l1", patterns="auto", seed=0, time_limit=20, bias="none")
    assert r.generation is not None and not r.exhaustive
    assert r.objective <= r.generation.seed_objective * (1 + 1e-7)
    with pytest.raises(TypeError, match="unknown keyword argument.*'polish'"):
        cn.fit(X, y, beta=BETA, depth=3, patterns="generate", polish=False, bias="none")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["l1", "l2"])
def test_moderate_data_below_lbfgs_runs(path):
    """n = 40, d = 3: the generated convex answer is <= the best of five L-BFGS runs of the
    same parallel architecture (seeds independent of the generation's own)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.sin(X @ rng.standard_normal(3)) + 0.1 * rng.standard_normal(40)
    g = cn.fit(X, y, depth=3, patterns="generate", beta=0.1, path=path, m1=2, seed=0, time_limit=60, bias="none")
    runs = [train_parallel(X, y, beta=0.1, path=path, K=10, m1=2, seed=100 + s, max_iter=2000)
            for s in range(5)]
    best = min(r.objective for r in runs)
    assert g.objective <= best
    assert g.certificate.lower_bound <= g.objective
    assert abs(g.network.objective(X, y, beta=0.1) - g.objective) <= 1e-6 * g.objective


def test_logistic_loss_generation_below_lbfgs():
    """Logistic loss (exponential cones in the master): the generated answer is <= an
    independent L-BFGS run of the same architecture and above the relaxed global bound."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 2))
    y = np.sign(X[:, 0] * X[:, 1] + 0.1)
    r = cn.fit(X, y, beta=0.05, depth=3, path="l2", loss="logistic", seed=0, time_limit=15, bias="none")
    run = train_parallel(X, y, beta=0.05, path="l2", K=8, m1=2, seed=0, loss="logistic",
                         max_iter=500)
    assert r.objective <= run.objective * (1 + 1e-9)
    assert r.certificate.lower_bound <= r.objective
    assert abs(r.network.objective(X, y, beta=0.05, loss="logistic") - r.objective) <= 1e-6 * r.objective


@pytest.mark.parametrize("path,width", [("l1", 5), ("l2", 2)])
def test_relaxed_dual_norm_bounds_ascended_subnetworks(path, width):
    """Adversarial check of the relaxation: sub-networks pushed up by the two-level ascent
    (l1: width 5, covered since the l1 bound is width-free) never exceed it, for several
    random lambda on n = 15, d = 3."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((15, 3))
    for _ in range(3):
        lam = rng.standard_normal(15)
        bound, complete = relaxed_dual_norm(X, lam, path=path, m1=width)
        assert complete
        W0, c0 = rng.standard_normal((200, width, 3)), rng.standard_normal((200, width))
        for sgn in (1.0, -1.0):
            v, _, _ = ascend_subnetworks(X, sgn * lam, W0, c0, path=path)
            assert v.max() <= bound * (1 + 1e-9)
