"""Losses: gradients by finite differences, conjugates by Fenchel-Young, cvxpy forms."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import check_grad, minimize_scalar

from convexnn.core.losses import LOSSES, get_loss


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


# ---- the oracle members the solvers and certificates use --------------------------------------
SCALAR = ["squared", "logistic", "hinge"]


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_hessian_diag_matches_finite_differences_of_the_gradient(name, rng):
    loss = get_loss(name)
    y = labels(name, rng, 6)
    z = rng.standard_normal(6)
    h = 1e-6
    fd = (loss.gradient(z + h, y) - loss.gradient(z - h, y)) / (2 * h)  # separable: diagonal
    np.testing.assert_allclose(loss.hessian_diag(z, y), fd, rtol=1e-6, atol=1e-9)
    # smoothness: every l_j'' is at most the Lipschitz constant of l_j'
    zz = np.linspace(-8, 8, 201)
    yy = np.resize(y, zz.size)
    assert np.all(loss.hessian_diag(zz, yy) <= loss.lipschitz + 1e-12)


def test_cross_entropy_hessian_diag_matches_finite_differences(rng):
    loss = get_loss("cross_entropy")
    Y = np.eye(3)[rng.integers(0, 3, 5)]
    Z = rng.standard_normal((5, 3))
    h, fd = 1e-6, np.empty_like(Z)
    for k in range(3):
        E = np.zeros_like(Z)
        E[:, k] = h
        fd[:, k] = (loss.gradient(Z + E, Y) - loss.gradient(Z - E, Y))[:, k] / (2 * h)
    np.testing.assert_allclose(loss.hessian_diag(Z, Y), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", SCALAR + ["cross_entropy"])
def test_torch_value_equals_numpy_value(name, rng):
    import torch

    loss = get_loss(name)
    if name == "cross_entropy":
        y, z = np.eye(3)[rng.integers(0, 3, 6)], 5 * rng.standard_normal((6, 3))
    else:
        y, z = labels(name, rng, 6), 5 * rng.standard_normal(6)
    got = float(loss.torch_value(torch.as_tensor(z), torch.as_tensor(y)))
    assert got == pytest.approx(loss.value(z, y), rel=1e-12)


@pytest.mark.parametrize("name", SCALAR)
def test_torch_terms_agree_with_numpy(name, rng):
    """(value, gradient, Hessian diagonal) of the IPM's smooth part: the loss itself, or
    zero for the loss taken as an LP epigraph (the hinge)."""
    import torch

    loss = get_loss(name)
    y, z = labels(name, rng, 6), rng.standard_normal(6)
    value, grad, hess = loss.torch_terms(torch.as_tensor(z), torch.as_tensor(y))
    if loss.epigraph_lp:
        assert value == 0.0 and not grad.abs().max() and not hess.abs().max()
        return
    assert value == pytest.approx(loss.value(z, y), rel=1e-12)
    np.testing.assert_allclose(grad.numpy(), loss.gradient(z, y), rtol=1e-12)
    np.testing.assert_allclose(hess.numpy(), loss.hessian_diag(z, y), rtol=1e-12)
    assert loss.constant_hessian == bool(np.ptp(loss.hessian_diag(5 * rng.standard_normal(50),
                                                                   np.resize(y, 50))) == 0)


@pytest.mark.parametrize("name", SCALAR)
def test_dual_box_holds_the_gradients_and_bounds_the_conjugate_domain(name, rng):
    """lambda = -grad l(z) lies in the box for every z; just outside it l* is infinite."""
    loss = get_loss(name)
    y = labels(name, rng, 8)
    lo, hi = loss.dual_box(y)
    for z in 3 * rng.standard_normal((5, 8)):
        lam = -loss.gradient(z, y)
        assert np.all(lo - 1e-12 <= lam) and np.all(lam <= hi + 1e-12)
        assert np.isfinite(loss.conjugate(-lam, y))
    if np.isfinite(hi).all():
        assert loss.conjugate(-(hi + 1e-3), y) == np.inf


@pytest.mark.parametrize("name", SCALAR)
def test_dual_cvxpy_equals_minus_conjugate(name, rng):
    loss = get_loss(name)
    y = labels(name, rng, 5)
    lo, hi = loss.dual_box(y)
    lam = -loss.gradient(rng.standard_normal(5), y)
    lam = np.clip(lam, lo, hi)
    got = float(loss.dual_cvxpy(cp.Constant(lam), y).value)
    assert got == pytest.approx(-loss.conjugate(-lam, y), rel=1e-9, abs=1e-12)
