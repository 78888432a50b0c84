"""Branch and bound over directions against independent truth: exhaustive cell
enumeration, planted maximizers, and validity under a truncated budget."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.core.patterns import enumerate_patterns
from convexnn.duality.branch_bound import dual_norm_bb, maximize_relu
from convexnn.duality.cones import pattern_supports


def exhaustive_max(X, lam):
    """max over every cell and both signs of the cone maxima (THEORY A.7, exhaustive)."""
    D = enumerate_patterns(X).D
    ps = pattern_supports(X, lam, D, prune=False)
    return float(ps.upper[:, 0].max()), float(ps.upper[:, 1].max())


@pytest.mark.parametrize("n,d,seed", [(12, 3, 0), (16, 4, 1), (20, 4, 2), (30, 3, 3)])
def test_matches_exhaustive_enumeration(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    lam = rng.standard_normal(n)
    plus, minus = exhaustive_max(X, lam)
    r = maximize_relu(X, lam)
    assert r.complete and not r.violated
    assert r.lower <= plus * (1 + 1e-9) + 1e-12
    assert r.upper >= plus * (1 - 1e-9)
    assert r.upper <= plus * (1 + 1e-8) + 1e-12
    # the direction attains the lower value
    u = r.u
    assert np.linalg.norm(u) == pytest.approx(1.0)
    assert lam @ np.maximum(X @ u, 0) == pytest.approx(r.lower, rel=1e-9, abs=1e-12)
    up, lo, _, sign, complete, _ = dual_norm_bb(X, lam, floor=0.0)
    assert complete
    assert up == pytest.approx(max(plus, minus), rel=1e-8)
    assert sign == (1 if plus >= minus else -1)


def planted(n_extra, d, seed):
    """X = [Q; R] with Q orthogonal and lambda zero on R: max = ||lambda_Q,+|| at
    Q^T lambda_+ / ||.||, whatever the extra hyperplanes of R do to the arrangement."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    R = rng.standard_normal((n_extra, d))
    lam0 = rng.standard_normal(d)
    X = np.vstack([Q, R])
    lam = np.concatenate([lam0, np.zeros(n_extra)])
    value = float(np.linalg.norm(np.maximum(lam0, 0)))
    u_star = Q.T @ np.maximum(lam0, 0) / value
    return X, lam, value, u_star


@pytest.mark.parametrize("d,seed", [(3, 0), (4, 1), (5, 2)])
def test_planted_maximizer(d, seed):
    X, lam, value, u_star = planted(40, d, seed)
    r = maximize_relu(X, lam, time_limit=60)
    assert r.complete
    assert r.upper == pytest.approx(value, rel=1e-8)
    assert r.lower == pytest.approx(value, rel=1e-8)
    assert np.linalg.norm(r.u - u_star) < 1e-6


def test_threshold_certifies_and_stop_finds_violation():
    X, lam, value, _ = planted(30, 4, 5)
    # a floor above the maximum: everything is pruned, upper = the floor
    r = maximize_relu(X, lam, floor=1.01 * value)
    assert r.complete and r.upper == pytest.approx(1.01 * value)
    # stop at the first direction above 0.9 * max: a violation with a valid value
    r = maximize_relu(X, lam, stop_above=0.9 * value)
    assert r.violated and 0.9 * value < r.lower <= value * (1 + 1e-12)
    assert lam @ np.maximum(X @ r.u, 0) == pytest.approx(r.lower, rel=1e-9)


def test_truncated_budget_still_valid():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((24, 4))
    lam = rng.standard_normal(24)
    plus, _ = exhaustive_max(X, lam)
    r = maximize_relu(X, lam, max_nodes=40)
    assert not r.complete
    assert r.upper >= plus * (1 - 1e-12)
    assert r.lower <= plus * (1 + 1e-12)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(6, 14), st.integers(2, 4), st.integers(0, 10_000))
def test_upper_bounds_every_cell(n, d, seed):
    """Property: the proven upper bound is at least every cell's maximum, and the lower
    value is attained (brute force over the enumerated arrangement)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if rng.random() < 0.3:  # duplicate / parallel rows: a degenerate arrangement
        X[1] = 2.0 * X[0]
    lam = rng.standard_normal(n)
    plus, _ = exhaustive_max(X, lam)
    r = maximize_relu(X, lam)
    assert r.upper >= plus * (1 - 1e-9) - 1e-12
    assert r.lower <= plus * (1 + 1e-9) + 1e-12
