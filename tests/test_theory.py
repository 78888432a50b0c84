"""Tests of convexnn.theory: 1-D spline predictions, representer bounds, balancedness.

References (THEORY I): I1 zshape, I2 opt, I3 bounce, I6 random n=8, d=3.  Independent
truths: the 1-D Lasso (a second formulation), a basis-pursuit LP for R*, hand-built
interpolants, the analytic rescaling invariance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.api import fit
from convexnn.networks.deep import DeepNetwork
from convexnn.networks.two_layer import Network
from convexnn.theory import (
    active_neurons,
    balance_check,
    deep_balance_errors,
    interpolation_cost,
    interpolation_limit,
    knots,
    knots_at_data,
    lasso_1d,
    rebalance_check,
    rebalance_deep,
    split_knots_to_data,
    tv_check,
    unique_interpolant,
)

I1 = (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 3]))
I2 = (np.array([0.0, 4, 5, 7, 10, 11]), np.array([0.0, 0, 0, 2, 3, 3]))
I3 = (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 7]))
REF = {"I1": (I1, 1.5), "I2": (I2, 2.0), "I3": (I3, 4.0)}
BETAS = (1e-1, 1e-2, 1e-3, 1e-4)


def _fit1d(data, beta, skip=False, bias="free"):
    x, y = data
    return fit(x[:, None], y, beta=beta, bias=bias, patterns="exact", skip=skip, certify=False)


def _unit_net(kappa, J, s=None, c0=0.0, skip=0.0):
    """f(x) = c0 + skip x + sum_k J_k (s_k (x - kappa_k))_+, balanced."""
    kappa, J = np.asarray(kappa, float), np.asarray(J, float)
    s = np.ones_like(kappa) if s is None else np.asarray(s, float)
    return Network(W1=s[:, None], b1=-s * kappa, W2=J, c0=c0, skip=np.array([skip])).rebalance()


def _basis_pursuit(x, y, skip):
    """R* = min ||z||_1 s.t. A z + xi + w0 x = y: the beta -> 0 limit of the Lasso (an LP)."""
    import cvxpy as cp

    kap = np.concatenate([x[:-1], x[1:]])
    s = np.concatenate([np.ones(x.size - 1), -np.ones(x.size - 1)])
    A = np.maximum(s * (x[:, None] - kap), 0.0)
    z, xi, w0 = cp.Variable(kap.size), cp.Variable(), cp.Variable()
    cons = [A @ z + xi + (w0 * x if skip else 0) == y]
    return cp.Problem(cp.Minimize(cp.norm1(z)), cons).solve(solver=cp.CLARABEL)


# ---- T-interp: p*(beta)/beta -> R* ----------------------------------------------------------
@pytest.mark.parametrize("name", ["I1", "I2", "I3"])
def test_interpolation_limit_reference_problems(name):
    (x, y), R = REF[name]
    assert interpolation_cost(x, y, skip=False) == pytest.approx(R, rel=1e-12)
    objs = [_fit1d((x, y), b).objective for b in BETAS]
    check = interpolation_limit(x, y, BETAS, objs, skip=False)
    assert check.holds, check
    assert check.measured == pytest.approx(R, rel=1e-3)
    # the other formulation agrees on the whole path (two formulations, one optimum)
    assert np.allclose(objs, [lasso_1d(x, y, b).objective for b in BETAS], rtol=1e-5)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("skip", [False, True])
def test_interpolation_cost_equals_basis_pursuit(seed, skip):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 3, 6))
    y = rng.normal(size=6) + (3 * x if seed % 2 else 0)  # large end slopes for odd seeds
    assert interpolation_cost(x, y, skip=skip) == pytest.approx(_basis_pursuit(x, y, skip), rel=1e-6)


def test_interpolation_limit_can_fail():
    x, y = np.arange(4.0), np.array([0.0, 1, 3, 6])  # convex: end term 4 > TV 2
    assert interpolation_cost(x, y, skip=True) == pytest.approx(2.0)
    assert interpolation_cost(x, y, skip=False) == pytest.approx(3.0)
    betas = (1e-2, 1e-3, 1e-4)
    objs = [lasso_1d(x, y, b, skip=False).objective for b in betas]
    assert interpolation_limit(x, y, betas, objs, skip=False).holds
    assert not interpolation_limit(x, y, betas, objs, skip=True).holds
    with pytest.raises(ValueError, match="betas"):
        interpolation_limit(x, y, betas, objs[:2])


# ---- the two formulations of F.1 ----------------------------------------------------------
@pytest.mark.parametrize("name", ["I1", "I2", "I3"])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("beta", [0.01, 0.3])
def test_lasso_equals_pattern_program(name, skip, beta):
    (x, y), _ = REF[name]
    lasso = lasso_1d(x, y, beta, skip=skip)
    res = _fit1d((x, y), beta, skip=skip)
    assert res.objective == pytest.approx(lasso.objective, rel=1e-5)
    # the Lasso's network is a valid two-layer network with the same objective
    net = lasso.network
    assert net.objective(x[:, None], y, beta=beta) == pytest.approx(lasso.objective, rel=1e-9)
    assert set(np.round(knots(net).locations, 8)) <= set(x)


# ---- T-knots -----------------------------------------------------------------------------
def test_zshape_knots_exact():
    x, y = I1
    assert unique_interpolant(x, y).holds
    for beta in (1e-2, 1e-4):
        net = _fit1d(I1, beta).network
        K = knots(net, tol=1e-3)
        inside = (K.locations >= x[0]) & (K.locations <= x[-1])
        assert np.allclose(K.locations[inside], [2.0, 6.0], atol=1e-4 * np.ptp(x))
        assert np.allclose(K.jumps[inside], [0.75, -0.75], rtol=0.1)
    lasso = lasso_1d(x, y, 1e-4)
    on = np.abs(lasso.z) > 1e-6
    assert set(lasso.kappa[on]) == {2.0, 6.0}


@pytest.mark.parametrize("name", ["I1", "I2", "I3"])
@pytest.mark.parametrize("skip", [False, True])
def test_free_bias_knots_at_data_and_tv(name, skip):
    (x, y), _ = REF[name]
    net = _fit1d((x, y), 1e-2, skip=skip).network
    at_data = knots_at_data(net, x)
    assert at_data.holds, at_data
    split = at_data.details["split_network"]
    assert set(np.round(knots(split).locations, 9)) <= set(x)
    assert split.objective(x[:, None], y, beta=1e-2) <= net.objective(x[:, None], y, beta=1e-2) + 1e-9
    tv = tv_check(net, skip=skip)
    assert tv.holds, tv
    if not skip:  # without skip the penalty is Savarese's max(TV, end term) >= TV
        assert tv.measured >= tv.details["total_variation"] - 1e-9


def test_regularized_bias_moves_knots_off_data():
    x, y = I2
    reg = _fit1d(I2, 1e-2, bias="regularized").network
    check = knots_at_data(reg, x)
    assert not check.holds  # splitting to data points costs strictly more (T-regbias)
    assert check.measured > check.predicted * (1 + 1e-4)
    assert check.details["max_distance"] > 0.1
    assert check.details["prediction_diff"] < 1e-9
    free = _fit1d(I2, 1e-2, bias="free").network
    assert knots_at_data(free, x).holds


def test_tv_check_fails_on_cancelling_knots():
    # same function, two cancelling units at kappa = 3: path norm exceeds TV(f')
    good = _unit_net([2.0, 6.0], [0.75, -0.75])
    bad = _unit_net([2.0, 6.0, 3.0, 3.0], [0.75, -0.75, 1.0, -1.0])
    xs = np.linspace(-1, 8, 50)[:, None]
    assert np.allclose(good.predict(xs), bad.predict(xs))
    assert tv_check(good, skip=True).holds
    assert not tv_check(bad, skip=True).holds
    assert tv_check(good, skip=False).predicted == pytest.approx(1.5)
    with pytest.raises(ValueError, match="network"):
        tv_check(Network(W1=np.ones((1, 2)), W2=np.ones(1)), skip=True)


def test_uniqueness_detection():
    assert unique_interpolant(*I1).holds
    c2 = unique_interpolant(*I2)
    assert not c2.holds and c2.details["ambiguous_gaps"] == [(7.0, 10.0)]
    # the F.1 caveat: knots {5,7,10} and {5,7,9} interpolate I2 with the same cost 2
    x, y = I2
    f1 = _unit_net([5.0, 7.0, 10.0], [1.0, -2 / 3, -1 / 3])
    f2 = _unit_net([5.0, 7.0, 9.0], [1.0, -0.5, -0.5])
    for f in (f1, f2):
        assert np.allclose(f.predict(x[:, None]), y)
        assert knots(f).total_variation == pytest.approx(2.0)
    c3 = unique_interpolant(*I3)  # bounce: +0.75 at 2 and +3.25 at 6 share a sign
    assert not c3.holds and c3.details["ambiguous_gaps"] == [(2.0, 6.0)]


def test_bounce_tv_equals_end_term():
    x, y = I3
    K = knots(_fit1d(I3, 1e-4).network)
    assert K.total_variation == pytest.approx(4.0, rel=1e-3)
    assert K.end_term == pytest.approx(4.0, rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.booleans())
def test_split_knots_property(seed, m, skip):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.choice(np.arange(-10, 11), size=5, replace=False)).astype(float)
    net = Network(W1=rng.normal(size=(m, 1)), b1=rng.normal(size=m) * 5, W2=rng.normal(size=m),
                  c0=rng.normal(), skip=np.array([rng.normal() if skip else 0.0]))
    split = split_knots_to_data(net, x)
    assert np.allclose(split.predict(x[:, None]), net.predict(x[:, None]), atol=1e-9)
    assert split.path_norm() <= net.path_norm() + 1e-9
    assert set(np.round(knots(split, tol=0).locations, 9)) <= set(x)


# ---- representer bounds (A.3, F.2) and I6 ---------------------------------------------------
def test_I6_random_n8_d3():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    relu = fit(X, y, beta=0.3, patterns="exact", certify=False, bias="none")
    assert relu.program.n_patterns == 58
    assert relu.recovered_objective == pytest.approx(relu.objective, rel=1e-5)
    assert active_neurons(relu.network, X).holds
    gated = fit(X, y, beta=0.3, patterns="exact", model="gated", certify=False, bias="none")
    assert gated.objective <= relu.objective * (1 + 1e-6)
    for seed in range(3):
        sampled = fit(X, y, beta=0.3, patterns=5, seed=seed, certify=False, bias="none")
        assert sampled.objective >= relu.objective * (1 - 1e-6)
    unpruned = fit(X, y, beta=0.3, patterns="exact", prune=False, certify=False, bias="none")
    assert unpruned.objective == pytest.approx(relu.objective, rel=1e-5)
    check = active_neurons(unpruned.network, X)
    assert check.predicted == 8 and not check.holds  # interior-point solutions are not sparse


@pytest.mark.parametrize("name", ["I1", "I2", "I3"])
def test_representer_bound_free_affine(name):
    (x, y), _ = REF[name]
    net = _fit1d((x, y), 1e-2, skip=True).network
    check = active_neurons(net, x[:, None], skip=True, free_constant=True)
    assert check.predicted == x.size - 2 and check.holds
    assert check.details["independent"] == check.measured
    net = _fit1d((x, y), 1e-2, skip=False).network
    assert active_neurons(net, x[:, None], free_constant=True).predicted == x.size - 1
    assert active_neurons(net, x[:, None], free_constant=True).holds


# ---- balancedness and rebalancing (H) --------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["none", "free", "regularized"]), st.integers(1, 2))
def test_rebalance_two_layer_property(seed, bias, c):
    rng = np.random.default_rng(seed)
    m, d, n = 5, 3, 7
    X = rng.normal(size=(n, d))
    scale = rng.lognormal(0, 1.5, size=m)
    W2 = rng.normal(size=m) * scale if c == 1 else rng.normal(size=(m, c)) * scale[:, None]
    net = Network(W1=rng.normal(size=(m, d)) * rng.lognormal(0, 1.5, size=(m, 1)),
                  b1=np.zeros(m) if bias == "none" else rng.normal(size=m), W2=W2,
                  regularize_bias=bias == "regularized")
    y = rng.normal(size=n if c == 1 else (n, c))
    check = rebalance_check(net, X, y, beta=0.7)
    assert check.holds, check
    rebal = check.details["network"]
    assert balance_check(rebal).holds
    assert rebal.penalty() == pytest.approx(net.path_norm(), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["relu", "linear", "leaky_relu"]), st.booleans())
def test_rebalance_deep_property(seed, activation, reg_bias):
    rng = np.random.default_rng(seed)
    dims = [3, 5, 4, 2]
    Ws = [rng.normal(size=(o, i)) * rng.lognormal(0, 1.0, size=(o, 1)) for i, o in zip(dims, dims[1:])]
    bs = [rng.normal(size=o) for o in dims[1:]]
    net = DeepNetwork(Ws, bs, activation=activation, regularize_bias=reg_bias)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    check = rebalance_check(net, X, y, beta=0.5)
    assert check.holds, check
    rebal = check.details["network"]
    assert np.max(deep_balance_errors(rebal)) < 1e-6
    assert balance_check(rebal, rtol=1e-6).holds


def test_balance_check_fails_unbalanced():
    net = Network(W1=np.array([[3.0, 0.0]]), W2=np.array([0.5]))
    check = balance_check(net)
    assert not check.holds
    assert check.details["ratio"] == pytest.approx((9 + 0.25) / 2 / 1.5)
    deep = DeepNetwork([np.array([[2.0]]), np.array([[1.0]]), np.array([[0.25]])],
                       activation="linear")
    assert not balance_check(deep).holds
    rebal = rebalance_deep(deep)
    # minimum of (a^2 + b^2 + c^2)/2 with abc = 0.5 fixed is (3/2) 0.5^(2/3) (AM-GM)
    assert rebal.penalty() == pytest.approx(1.5 * 0.5 ** (2 / 3), rel=1e-8)
    with pytest.raises(ValueError, match="network"):
        balance_check(np.eye(2))


def test_optimal_networks_are_balanced():
    x, y = I2
    net = _fit1d(I2, 0.05).network
    assert balance_check(net).holds
    assert rebalance_check(net, x[:, None], y, beta=0.05).holds


# ---- the examples double as smoke tests -----------------------------------------------------
@pytest.mark.parametrize("script", [
    pytest.param("theory_1d_knots", marks=pytest.mark.slow),
    pytest.param("theory_tv_penalty", marks=pytest.mark.slow),
    "theory_balance",
    pytest.param("theory_deep_linear_spectra", marks=pytest.mark.slow)])
def test_example_runs(script, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("matplotlib")
    path = Path(__file__).resolve().parents[1] / "examples" / f"{script}.py"
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", str(path), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / f"{script}.png").stat().st_size > 10_000
    assert "FAILS" not in proc.stdout.split("gradient descent")[0]
