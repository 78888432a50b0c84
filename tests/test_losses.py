"""Losses: gradients by finite differences, conjugates by Fenchel-Young, cvxpy forms."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import check_grad, minimize_scalar

from convexnn.losses import LOSSES, get_loss


def labels(name, rng, n):
    y = rng.standard_normal(n)
    return y if LOSSES[name].targets == "real" else np.sign(y) + (y == 0)


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_gradient_matches_finite_differences(name, rng):
    loss = get_loss(name)
    y = labels(name, rng, 7)
    z0 = rng.standard_normal(7)
    err = check_grad(lambda z: loss.value(z, y), lambda z: loss.gradient(z, y), z0)
    assert err < 1e-5


@pytest.mark.parametrize("name", ["squared", "logistic", "hinge"])
def test_conjugate_by_numerical_sup(name, rng):
    """l*(mu) = sup_z mu z - l(z), per sample, against a 1-D numerical maximization."""
    loss = get_loss(name)
    y = labels(name, rng, 4)
    z = rng.standard_normal(4)
    mu = loss.gradient(z, y) * 0.7  # inside the domain for every loss here
    total = 0.0
    for j in range(4):
        res = minimize_scalar(lambda t: -(mu[j] * t - loss.value(np.array([t]), y[j:j + 1])),  # noqa: B023 (called at once)
                              bounds=(-60, 60), method="bounded", options={"xatol": 1e-10})
        total += -res.fun
    assert loss.conjugate(mu, y) == pytest.approx(total, abs=1e-6)


@pytest.mark.parametrize("name", ["squared", "logistic", "hinge"])
def test_fenchel_young_equality_at_gradient(name, rng):
    """l(z) + l*(grad l(z)) = z . grad l(z)."""
    loss = get_loss(name)
    y = labels(name, rng, 6)
    z = rng.standard_normal(6) * 2
    g = loss.gradient(z, y)
    assert loss.value(z, y) + loss.conjugate(g, y) == pytest.approx(z @ g, abs=1e-9)


@pytest.mark.parametrize("name", ["logistic", "hinge"])
def test_conjugate_outside_domain_is_infinite(name):
    y = np.array([1.0, -1.0])
    assert get_loss(name).conjugate(np.array([0.5, 0.0]), y) == np.inf


@pytest.mark.parametrize("name", ["squared", "logistic", "hinge"])
def test_cvxpy_form_equals_numpy(name, rng):
    loss = get_loss(name)
    y = labels(name, rng, 5)
    z = rng.standard_normal(5)
    assert loss.cvxpy(cp.Constant(z), y).value == pytest.approx(loss.value(z, y), rel=1e-9)


def test_label_check_and_unknown_loss():
    with pytest.raises(ValueError, match=r"labels in \{-1, \+1\}.*2\*y - 1"):
        get_loss("logistic").check_targets(np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("l1")
