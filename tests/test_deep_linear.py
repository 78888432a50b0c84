"""Tests of convexnn.theory.deep_linear: closed forms (THEORY E.2, E.3) against independent truth.

References: a naive 1-D minimization for the shrinkage, the best of several L-BFGS runs
(I8, I9), finite differences for the trainer's gradient, and the AM-GM bound.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad, minimize_scalar

from convexnn.networks.deep import DeepNetwork
from convexnn.theory import balance_check
from convexnn.theory.deep_linear import (
    _objective_and_grad,
    alignment_check,
    closed_form_check,
    deep_objective_gradient,
    layer_spectra,
    rank_check,
    rank_one_deep_linear,
    shrink,
    spectrum_check,
    train_deep,
    whitened_deep_linear,
)


def _whitened_problem(seed, n=12, d=4, K=3):
    rng = np.random.default_rng(seed)
    X, _ = np.linalg.qr(rng.normal(size=(n, d)))
    Y = X @ (rng.normal(size=(d, K)) * 2.0) + 0.3 * rng.normal(size=(n, K))
    return X, Y


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_shrink_matches_naive_minimization(depth, beta):
    s = np.linspace(0.0, 4.0, 41)
    out = shrink(s, beta, depth)
    for sk, sig in zip(s, out):
        h = lambda q, sk=sk: 0.5 * (q - sk) ** 2 + 0.5 * beta * depth * q ** (2.0 / depth)  # noqa: E731
        grid = np.linspace(0.0, max(sk, 1e-3) * 1.01, 20001)
        q0 = grid[np.argmin(h(grid))]
        best = minimize_scalar(h, bounds=(max(q0 - 1e-3, 0.0), q0 + 1e-3), method="bounded",
                               options={"xatol": 1e-12})
        ref = min(h(best.x), h(0.0))
        assert h(sig) <= ref + 1e-10
    if depth == 2:
        assert np.allclose(out, np.maximum(s - beta, 0.0))
    if depth >= 3:  # hard threshold: the output jumps from 0 to a value bounded away from 0
        assert out[out > 0].min() > 0.1 * beta
    with pytest.raises(ValueError, match="s must"):
        shrink([-1.0], beta, depth)


def test_trainer_gradient():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    dims = [3, 4, 4, 2]
    theta = rng.normal(size=sum(a * b for a, b in zip(dims, dims[1:])))
    for relu in (False, True):
        f = lambda t, r=relu: _objective_and_grad(t, X, Y, 0.3, dims, r)[0]  # noqa: E731
        g = lambda t, r=relu: _objective_and_grad(t, X, Y, 0.3, dims, r)[1]  # noqa: E731
        assert check_grad(f, g, theta) < 1e-5 * np.linalg.norm(g(theta))
        # the public wrapper agrees with DeepNetwork.objective
        Ws = [theta[:12].reshape(4, 3), theta[12:28].reshape(4, 4), theta[28:].reshape(2, 4)]
        net = DeepNetwork(Ws, activation="relu" if relu else "linear")
        obj, grads = deep_objective_gradient(net, X, Y, beta=0.3)
        assert obj == pytest.approx(net.objective(X, Y, beta=0.3), rel=1e-12)
        assert np.allclose(np.concatenate([G.ravel() for G in grads]), g(theta))


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_whitened_closed_form_I8(depth):
    X, Y = _whitened_problem(1)
    beta = 1.0
    sol = whitened_deep_linear(X, Y, beta=beta, depth=depth)
    # the balanced factors attain the closed-form value
    assert closed_form_check(sol.network(), X, Y, sol, rtol=1e-12).holds
    assert closed_form_check(sol.network(widths=[5] * (depth - 1)), X, Y, sol, rtol=1e-12).holds
    run = train_deep(X, Y, beta=beta, widths=[5] * (depth - 1), restarts=4, seed=0)
    assert np.all(run.objectives >= sol.objective - 1e-9)  # p* is a lower bound for every run
    net = run.network
    for check in (closed_form_check(net, X, Y, sol, rtol=1e-7), rank_check(net, rtol=1e-5),
                  alignment_check(net, rtol=1e-6), spectrum_check(net, sol, rtol=1e-4),
                  balance_check(net, rtol=1e-6)):
        assert check.holds, check
    assert max(rank_check(net, rtol=1e-5).measured) == sol.rank <= Y.shape[1]


@pytest.mark.parametrize("beta", [0.2, 1.0, 3.0])
def test_depth3_threshold_and_jump(beta):
    """L = 3: sigma = q solves q + beta q^(-1/3) = s and 1/2 (q-s)^2 + 3/2 beta q^(2/3) =
    1/2 s^2 at the threshold; q = beta^(3/4), s* = 2 beta^(3/4) solve both (by hand)."""
    s_star, jump = 2 * beta**0.75, beta**0.75
    out = shrink(np.array([0.999 * s_star, 1.000001 * s_star]), beta, 3)
    assert out[0] == 0.0
    assert out[1] == pytest.approx(jump, rel=1e-3)
    # data with a singular value in (beta, s*): L = 2 keeps it, L = 3 drops it
    X, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 2)))
    Y = X @ np.diag([3 * s_star, 0.5 * (beta + s_star)])
    ranks = [whitened_deep_linear(X, Y, beta=beta, depth=L).rank for L in (2, 3)]
    assert ranks == [2, 1]


def test_whitened_rows_also_accepted_and_bad_X_rejected():
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 4)))
    X = Q.T  # X X^T = I, d > n
    Y = rng.normal(size=(4, 2))
    sol = whitened_deep_linear(X, Y, beta=0.5, depth=3)
    run = train_deep(X, Y, beta=0.5, widths=[4, 4], restarts=4, seed=1)
    assert run.network.objective(X, Y, beta=0.5) == pytest.approx(sol.objective, rel=1e-7)
    with pytest.raises(ValueError, match="X must be whitened"):
        whitened_deep_linear(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), beta=0.5, depth=3)
    with pytest.raises(ValueError, match="beta"):
        whitened_deep_linear(Q, rng.normal(size=(6, 2)), beta=-1.0, depth=3)


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("depth", [2, 3])
def test_rank_one_I9(activation, depth):
    rng = np.random.default_rng(5)
    c, a = np.abs(rng.normal(size=6)) + 0.1, rng.normal(size=3)
    X, Y = np.outer(c, a), rng.normal(size=(6, 2)) + np.outer(c, [2.0, -1.0])
    beta = 0.5
    sol = rank_one_deep_linear(c, a, Y, beta=beta, depth=depth)
    assert sol.rank == 1
    assert closed_form_check(sol.network(activation=activation), X, Y, sol, rtol=1e-12).holds
    run = train_deep(X, Y, beta=beta, widths=[3] * (depth - 1), activation=activation,
                     restarts=6, seed=0)
    assert np.all(run.objectives >= sol.objective - 1e-9)
    check = closed_form_check(run.network, X, Y, sol, rtol=1e-7)
    assert check.holds, check
    assert rank_check(run.network, rtol=1e-5).measured == [1] * depth
    if activation == "linear":
        assert alignment_check(run.network).holds


def test_rank_one_relu_mixed_sign_is_not_linear():
    """E.3 needs c >= 0: for mixed signs the construction with nonnegative features zeroes
    the samples with c_n < 0, so as a ReLU net it misses p* (the check must say so)."""
    rng = np.random.default_rng(3)
    c, a = np.array([1.0, -1.0, 2.0, -2.0]), rng.normal(size=2)
    X, Y = np.outer(c, a), np.outer(c, [1.5])
    sol = rank_one_deep_linear(c, a, Y, beta=0.1, depth=3)
    relu = sol.network(activation="relu")
    assert not closed_form_check(relu, X, Y, sol).holds


def test_checks_can_fail():
    rng = np.random.default_rng(0)
    net = DeepNetwork([rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=(2, 4))],
                      activation="linear")
    assert not alignment_check(net).holds
    assert not rank_check(net).holds  # random hidden layers have rank 3 or 4 > 2 outputs
    assert [s.size for s in layer_spectra(net)] == [3, 4, 2]
    X, Y = _whitened_problem(0, d=3, K=2)
    sol = whitened_deep_linear(X, Y, beta=0.5, depth=3)
    assert not spectrum_check(net, sol).holds
    assert not closed_form_check(net, X, Y, sol).holds
    with pytest.raises(ValueError, match="widths"):
        sol.network(widths=[1, 1])
