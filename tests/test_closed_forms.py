"""Tests of convexnn.theory.closed_forms: whitened-data optima (THEORY C, I4, I5).

Independent truths: the exact convex program (``fit(..., patterns="exact")``), a cvxpy
nuclear-norm solve, numpy's SVD, and the closed forms' own attaining networks.
"""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.api import fit
from convexnn.theory.closed_forms import (
    nuclear_prox,
    objective_check,
    whitened_one_hot,
    whitened_two_layer,
)


def _orthonormal_rows(n, d, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, n)))
    return Q.T


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("beta", [0.1, 0.7, 1.2])
def test_whitened_scalar_equals_exact_program_I4(seed, beta):
    # beta stays below ||y_+|| or ||y_-||: at a zero optimum fit() currently flags its
    # solver noise as cone violations (relative to the noise's own scale), see the report
    X = _orthonormal_rows(5, 7, seed)
    y = np.random.default_rng(100 + seed).normal(size=5)
    cf = whitened_two_layer(X, y, beta=beta)
    assert cf.network.objective(X, y, beta=beta) == pytest.approx(cf.objective, rel=1e-12)
    assert np.allclose(cf.network.predict(X), cf.prediction)
    res = fit(X, y, beta=beta, patterns="exact", certify=False, bias="none")
    assert res.exhaustive
    check = objective_check(res.objective, cf, rtol=1e-5)
    assert check.holds, check
    assert cf.network.width <= 2


def test_whitened_scalar_independent_of_X_and_large_beta():
    y = np.array([1.0, -2.0, 0.5, 0.0])
    values = {round(whitened_two_layer(_orthonormal_rows(4, 6, s), y, beta=0.3).objective, 12)
              for s in range(3)}
    assert len(values) == 1
    big = whitened_two_layer(_orthonormal_rows(4, 6, 0), y, beta=10.0)
    assert big.objective == pytest.approx(0.5 * y @ y) and big.network.width == 0


def test_objective_check_can_fail_and_bad_input():
    X = _orthonormal_rows(4, 5, 0)
    y = np.array([1.0, -1.0, 2.0, 0.3])
    cf = whitened_two_layer(X, y, beta=0.5)
    assert not objective_check(cf.objective * 1.01, cf).holds
    with pytest.raises(ValueError, match="orthonormal rows"):
        whitened_two_layer(2 * X, y, beta=0.5)
    with pytest.raises(ValueError, match="one-hot"):
        whitened_one_hot(X, np.ones((4, 2)), beta=0.5)


@pytest.mark.parametrize("beta", [0.3, 1.2, 1.6, 5.0])
def test_one_hot_soft_thresholded_svd_I5(beta):
    import cvxpy as cp

    X = _orthonormal_rows(6, 8, 3)
    labels = np.array([0, 0, 0, 1, 2, 2])
    Y = np.eye(3)[labels]
    cf = whitened_one_hot(X, Y, beta=beta)
    # the network attains the value ...
    assert cf.network.objective(X, Y, beta=beta) == pytest.approx(cf.objective, rel=1e-12)
    assert np.allclose(cf.network.predict(X), cf.prediction)
    # ... which equals the nuclear-norm lower bound (cvxpy and numpy's SVD), so it is optimal
    Z = cp.Variable(Y.shape)
    bound = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Z - Y) + beta * cp.normNuc(Z))).solve(
        solver=cp.CLARABEL)
    assert cf.objective == pytest.approx(bound, rel=1e-6)
    Zs, value = nuclear_prox(Y, beta)
    assert cf.objective == pytest.approx(value, rel=1e-12)
    assert np.allclose(Zs, cf.prediction, atol=1e-10)
