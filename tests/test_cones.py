"""cone_support / pattern_supports against cvxpy, closed forms and brute-force sampling."""

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.core.patterns import add_bias_column, enumerate_1d_bias, enumerate_patterns
from convexnn.duality.cones import cone_support, pattern_supports

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)


def _socp(A, c, free=None):
    """max c^T u s.t. A u >= 0, ||u_pen|| <= 1, solved by cvxpy + Clarabel (independent)."""
    pen = np.ones(c.size, bool) if free is None else ~free
    u = cp.Variable(c.size)
    prob = cp.Problem(cp.Maximize(c @ u), [A @ u >= 0, cp.norm(u[np.flatnonzero(pen)]) <= 1])
    prob.solve(solver="CLARABEL")
    return prob.value, prob.status


def _pattern_instance(seed, bias):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(3, 12)), int(rng.integers(1, 5))
    X = rng.standard_normal((n, d))
    Xt = add_bias_column(X) if bias else X
    D = Xt @ rng.standard_normal(Xt.shape[1]) >= 0
    A = (2.0 * D - 1.0)[:, None] * Xt
    lam = rng.standard_normal(n)
    if bias:
        lam -= lam.mean()  # 1^T lam = 0, as in the certificate with a free bias
    c = rng.choice([-1.0, 1.0]) * (Xt.T @ (D * lam))
    free = None
    if bias:
        free = np.zeros(Xt.shape[1], bool)
        free[-1] = True
    return A, c, free


def _check_bounds(A, c, free, upper, lower, u):
    pen = np.ones(c.size, bool) if free is None else ~free
    assert upper >= lower - 1e-12 * max(1.0, abs(upper))
    assert np.linalg.norm(u[pen]) <= 1 + 1e-12
    scale = np.linalg.norm(A, axis=1) * max(1.0, np.linalg.norm(u))
    assert np.all(A @ u >= -1e-9 * scale)
    assert c @ u == pytest.approx(lower, abs=1e-12 * max(1.0, abs(lower)))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), bias=st.booleans())
def test_cone_support_matches_cvxpy(seed, bias):
    A, c, free = _pattern_instance(seed, bias)
    upper, lower, u = cone_support(A, c, free=free)
    ref, status = _socp(A, c, free)
    _check_bounds(A, c, free, upper, lower, u)
    assert status == "optimal"
    assert upper == pytest.approx(ref, abs=1e-6 * max(1.0, abs(ref)))
    assert lower == pytest.approx(ref, abs=1e-6 * max(1.0, abs(ref)))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_cone_support_general_cone_matches_cvxpy(seed):
    """A generic polyhedral cone (not a pattern cone): s = ||Proj_K(c)|| (Moreau)."""
    rng = np.random.default_rng(seed)
    k, m = int(rng.integers(2, 6)), int(rng.integers(1, 9))
    A, c = rng.standard_normal((m, k)), rng.standard_normal(k)
    upper, lower, u = cone_support(A, c)
    p = cp.Variable(k)  # the projection onto K, independently
    cp.Problem(cp.Minimize(cp.sum_squares(c - p)), [A @ p >= 0]).solve(solver="CLARABEL")
    _check_bounds(A, c, None, upper, lower, u)
    assert upper == pytest.approx(np.linalg.norm(p.value), abs=1e-6)
    assert lower == pytest.approx(upper, abs=1e-9)


def test_orthant_closed_form():
    """K = nonnegative orthant: s = ||c_+||, attained at c_+/||c_+||."""
    c = np.array([1.5, -2.0, 0.0, 2.0])
    upper, lower, u = cone_support(np.eye(4), c)
    assert upper == pytest.approx(2.5, abs=1e-14)
    assert lower == pytest.approx(2.5, abs=1e-14)
    np.testing.assert_allclose(u, [0.6, 0, 0, 0.8], atol=1e-14)


def test_polar_cone_gives_zero():
    """c in the polar cone {-A^T gamma}: s = 0 and u = 0."""
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    upper, lower, u = cone_support(A, np.array([-1.0, -3.0]))
    assert upper == pytest.approx(0.0, abs=1e-14) and lower == 0.0
    assert not u.any()


def test_free_coordinate_unbounded():
    """All rows on (one-sided in the free coordinate) and c_b > 0: b can grow forever."""
    Xt = add_bias_column(np.array([[1.0], [2.0], [3.0]]))
    A = Xt  # all-on pattern: x_j w + b >= 0
    upper, lower, _ = cone_support(A, np.array([0.5, 1.0]), free=np.array([False, True]))
    assert upper == np.inf
    ref, status = _socp(A, np.array([0.5, 1.0]), np.array([False, True]))
    assert status == "unbounded"


def test_free_coordinate_closed_form_1d():
    """Pattern {x >= 1.5} on [x, 1]: the cone is 2w + b >= 0, 4w + b >= 0, b <= 0,
    w + b <= 0 and c^T u = lam_2 (2w + b) + lam_3 (4w + b) = 2w - b for lam = (1,-2,-3,2).
    w < 0 is infeasible; for 0 <= w <= 1 the best b is -2w, giving 4w: s = 4 at (1, -2)."""
    x = np.array([0.0, 1.0, 2.0, 4.0])
    lam = np.array([1.0, -2.0, -3.0, 2.0])
    Xt = add_bias_column(x[:, None])
    D = x >= 1.5
    A = (2.0 * D - 1.0)[:, None] * Xt
    upper, lower, u = cone_support(A, Xt.T @ (D * lam), free=np.array([False, True]))
    assert upper == pytest.approx(4.0, abs=1e-10)
    assert lower == pytest.approx(4.0, abs=1e-10)
    np.testing.assert_allclose(u, [1.0, -2.0], atol=1e-8)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), bias=st.booleans())
def test_pattern_supports_bounds_relu_maximum(seed, bias):
    """Over all patterns, max upper >= |lam^T (Xt u)_+| for random u (brute force), and
    pruning never changes the maximum."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(4, 9)), int(rng.integers(1, 3))
    X = rng.standard_normal((n, d))
    Xt = add_bias_column(X) if bias else X
    lam = rng.standard_normal(n)
    free = None
    if bias:
        lam -= lam.mean()
        free = np.r_[np.zeros(d, bool), True]
    D = enumerate_1d_bias(X[:, 0]).D if (bias and d == 1) else enumerate_patterns(Xt).D
    full = pattern_supports(Xt, lam, D, free=free, prune=False)
    pruned = pattern_supports(Xt, lam, D, free=free)
    assert pruned.max_upper == pytest.approx(full.max_upper, rel=1e-10, abs=1e-12)
    assert full.max_lower == pytest.approx(full.max_upper, rel=1e-8, abs=1e-10)
    G = rng.standard_normal((20000, Xt.shape[1]))
    if bias:
        G[:, -1] *= 3.0
    vals = np.abs(np.maximum(G @ Xt.T, 0.0) @ lam) / np.linalg.norm(G[:, :d], axis=1)
    assert vals.max() <= full.max_upper * (1 + 1e-9) + 1e-12
    assert vals.max() >= 0.8 * full.max_upper  # sampling gets close: s is attained


def test_bad_input():
    with pytest.raises(ValueError, match="A must have shape"):
        cone_support(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="c must be 1-D"):
        cone_support(np.ones((2, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="free must be a boolean mask"):
        cone_support(np.ones((2, 3)), np.ones(3), free=[True])
    with pytest.raises(ValueError, match="lam must have shape"):
        pattern_supports(np.ones((4, 2)), np.ones(3), np.ones((4, 2), bool))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 60), k=st.integers(2, 6))
def test_batched_supports_equal_nnls(seed, n, k):
    """The batched torch projections (dual active set) and one NNLS per pattern are two
    independent solvers of the same cone supports: they agree to roundoff, pattern by
    pattern, and every lower bound's point lies in its cone."""
    import convexnn.duality.cones as cones
    from convexnn.core.patterns import sample_patterns

    rng = np.random.default_rng(seed)
    Xt = rng.standard_normal((n, k))
    lam = rng.standard_normal(n)
    D = sample_patterns(Xt, 40, seed=seed).D
    old = cones.BATCH_MIN
    try:
        cones.BATCH_MIN = 10**9
        ref = pattern_supports(Xt, lam, D, prune=False)
        cones.BATCH_MIN = 1
        bat = pattern_supports(Xt, lam, D, prune=False)
    finally:
        cones.BATCH_MIN = old
    assert ref.solved.all() and bat.solved.all()
    scale = 1.0 + np.abs(ref.upper).max()
    assert np.allclose(bat.upper, ref.upper, atol=1e-9 * scale)
    assert np.allclose(bat.lower, ref.lower, atol=1e-9 * scale)
    S = 2.0 * D - 1.0
    for i in range(D.shape[1]):
        for col in range(2):
            u = bat.U[i, col]
            assert np.all(S[:, i] * (Xt @ u) >= -1e-9 * np.linalg.norm(Xt, axis=1))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), bias=st.booleans(), frac=st.floats(0.1, 1.5))
def test_search_with_enough_refutes_exactly_when_full_search_does(seed, bias, frac):
    """The pattern search's shortcuts for a refutation (a direct evaluation at each
    pattern's unconstrained maximizer; pattern_supports stopping at ``enough``):

    * the value returned is attained: |lam^T (Xt u)_+| / ||u_pen|| at the returned u;
    * it never exceeds the exact maximum over all cells (enumeration, the truth);
    * it exceeds ``enough`` whenever the full search's value does, and then the search
      refutes; pattern_supports' unsolved pairs keep valid (cheap) upper bounds."""
    from convexnn.duality.dual_norm import _search_s

    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(6, 14)), int(rng.integers(1, 4))
    X = rng.standard_normal((n, d))
    Xt = add_bias_column(X) if bias else X
    lam = rng.standard_normal(n)
    pen = np.ones(Xt.shape[1], bool)
    D = enumerate_patterns(Xt).D
    exact = pattern_supports(Xt, lam, D, prune=False).max_upper
    enough = frac * exact
    full, _, _ = _search_s(Xt, lam, D, None, pen)
    fast, viol, _ = _search_s(Xt, lam, D, None, pen, enough=enough)
    u = viol.u
    attained = abs(float(lam @ np.maximum(Xt @ u, 0.0))) / np.linalg.norm(u[pen])
    assert fast == pytest.approx(attained, rel=1e-9, abs=1e-12)
    assert fast <= exact * (1 + 1e-9) + 1e-12
    assert (fast > enough) == (full > enough)
    part = pattern_supports(Xt, lam, D, enough=enough)
    ref = pattern_supports(Xt, lam, D, prune=False)
    assert np.all(part.upper >= ref.upper * (1 - 1e-9) - 1e-12)
    done = part.solved
    assert np.allclose(part.lower[done], ref.lower[done], atol=1e-9 * (1 + exact))
    assert (part.max_lower > enough) == (ref.max_lower > enough)
