"""Branch and bound over directions against independent truth: exhaustive cell
enumeration, planted maximizers, a second LP solver, brute-force vertex enumeration, and
validity under a truncated budget."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from convexnn.core.patterns import _rank_reduce, enumerate_patterns
from convexnn.duality.bb_leaves import leaf_bounds
from convexnn.duality.bb_nodes import NodeSet, Rows
from convexnn.duality.bb_region import cut_rays, region_rays
from convexnn.duality.branch_bound import dual_norm_bb, maximize_relu, search
from convexnn.duality.cones import pattern_supports
from convexnn.duality.node_lp import solve_node_lp


def exhaustive_max(X, lam):
    """max over every cell and both signs of the cone maxima (THEORY A.7, exhaustive)."""
    D = enumerate_patterns(X).D
    ps = pattern_supports(X, lam, D, prune=False)
    return float(ps.upper[:, 0].max()), float(ps.upper[:, 1].max())


def relu_value(X, lam, u):
    return float(lam @ np.maximum(X @ u, 0.0))


@pytest.mark.parametrize("n,d,seed", [(12, 3, 0), (16, 4, 1), (20, 4, 2), (30, 3, 3), (14, 5, 4)])
def test_matches_exhaustive_enumeration(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    lam = rng.standard_normal(n)
    plus, minus = exhaustive_max(X, lam)
    r = maximize_relu(X, lam)
    assert r.complete and r.stopped == "complete"
    assert plus * (1 - 1e-9) <= r.upper <= plus * (1 + 1e-8) + 1e-12
    assert r.lower <= plus * (1 + 1e-9) + 1e-12
    assert np.linalg.norm(r.u) == pytest.approx(1.0)
    assert relu_value(X, lam, r.u) == pytest.approx(r.lower, rel=1e-9, abs=1e-12)
    both = dual_norm_bb(X, lam, floor=0.0)
    assert both.complete
    assert both.upper == pytest.approx(max(plus, minus), rel=1e-8)
    assert both.sign * relu_value(X, lam, both.u) == pytest.approx(both.lower, rel=1e-9)
    assert both.sign == (1 if plus >= minus else -1)


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


@pytest.mark.parametrize("d,seed", [(3, 0), (4, 1), (5, 2), (6, 3)])
def test_planted_maximizer(d, seed):
    X, lam, value, u_star = planted(40, d, seed)
    r = maximize_relu(X, lam)
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
    assert r.violated is True and r.stopped == "violation" and not r.complete
    assert 0.9 * value < r.lower <= value * (1 + 1e-12)
    assert r.upper >= value * (1 - 1e-12)  # still a valid bound (the open nodes')
    # a seed above stop_above: a violation before any node, with no finite bound
    X2, lam2, value2, u2 = planted(30, 4, 6)
    r = maximize_relu(X2, lam2, stop_above=0.5 * value2, starts=u2[None, :])
    assert r.violated and r.nodes == 0 and r.upper == np.inf
    assert r.lower == pytest.approx(value2, rel=1e-9)
    # no violation: the search completes with violated False
    r = maximize_relu(X, lam, stop_above=1.01 * value)
    assert r.complete and r.violated is False and r.upper <= 1.01 * value * (1 + 1e-9)
    assert relu_value(X, lam, r.u) == pytest.approx(r.lower, rel=1e-9)


def test_truncated_budget_still_valid_and_deterministic():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 4))
    lam = rng.standard_normal(30)
    plus, minus = exhaustive_max(X, lam)
    r = search(X, lam, max_nodes=100)
    assert r.stopped == "node budget" and not r.complete
    assert r.upper >= max(plus, minus) * (1 - 1e-12)
    assert r.lower <= max(plus, minus) * (1 + 1e-12)
    again = search(X, lam, max_nodes=100)
    assert (again.upper, again.lower, again.nodes) == (r.upper, r.lower, r.nodes)
    capped = search(X, lam, time_limit=0.0)
    assert capped.stopped == "time cap" and capped.upper >= max(plus, minus) * (1 - 1e-12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(4, 14), st.integers(2, 4), st.integers(0, 10_000))
def test_upper_bounds_every_cell_and_sample(n, d, seed):
    """Property: the proven upper bound is at least every cell's maximum and every sampled
    value, and the lower value is attained (brute force over the enumerated arrangement),
    also with parallel, opposite, duplicate and zero rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    kind = seed % 4
    if kind == 1:
        X[1] = 2.0 * X[0]
    elif kind == 2:
        X[1] = -0.5 * X[0]
    elif kind == 3:
        X[-1] = 0.0
    lam = rng.standard_normal(n)
    plus, minus = exhaustive_max(X, lam)
    r = search(X, lam)
    U = rng.standard_normal((2000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    sampled = float(np.abs(np.maximum(U @ X.T, 0.0) @ lam).max())
    assert r.upper >= max(plus, minus, sampled) * (1 - 1e-9) - 1e-12
    assert r.lower <= max(plus, minus) * (1 + 1e-9) + 1e-12
    assert r.upper <= max(plus, minus) * (1 + 1e-8) + 1e-12


def test_merged_rows_value():
    """Rows with the same direction merge; the merged value matches the data's to within
    the stated merge error (here 0: exact duplicates and positive multiples)."""
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((10, 3))
    Z = np.vstack([Z, 2.0 * Z[:3], -Z[3:5], np.zeros((1, 3))])
    lam = rng.standard_normal(Z.shape[0])
    rows = Rows.from_data(Z, lam)
    assert rows.N.shape[0] == 10 + 2  # 10 directions + 2 opposite ones
    V = rng.standard_normal((500, 3))
    direct = np.maximum(V @ Z.T, 0.0) @ lam
    assert np.allclose(rows.value(V), direct, atol=rows.merge_error + 1e-12)


@pytest.mark.parametrize("r,k", [(5, 12), (30, 6)])  # primal form; dual form (r > k + 2)
def test_node_lp_bound_against_highs(r, k):
    """The certified dual bound is at least the LP optimum (HiGHS) and close to it."""
    rng = np.random.default_rng(1)
    B, m = 40, 2
    W = rng.standard_normal((B, r)) + 1.0
    c = rng.random((B, k))
    V = rng.standard_normal((B, k, r))
    N = rng.random((B, m, r)) + 0.5
    ub, val, a, t = solve_node_lp(W, -N, np.ones((B, m)), V, c)
    assert np.all((t >= 0) & (t <= 1))
    for i in range(B):
        A_ub = np.block([[V[i], -np.eye(k)], [N[i], np.zeros((m, k))]])
        res = linprog(np.r_[-W[i], c[i]], A_ub=A_ub, b_ub=np.r_[np.zeros(k), np.ones(m)],
                      bounds=[(0, None)] * (r + k), method="highs")
        opt = -res.fun
        assert ub[i] >= opt - 1e-9 * max(1.0, abs(opt))
        assert ub[i] <= opt + 1e-7 * max(1.0, abs(opt))
        assert val[i] <= opt + 1e-9 * max(1.0, abs(opt))


def _brute_rays(E, H):
    r = E.shape[0]
    F = np.vstack([np.linalg.inv(E), H])
    out = []
    for S in itertools.combinations(range(F.shape[0]), r - 1):
        A = F[list(S)]
        if np.linalg.matrix_rank(A, tol=1e-10) < r - 1:
            continue
        v = np.linalg.svd(A)[2][-1]
        for s in (v, -v):
            if (F @ s >= -1e-10).all():
                s = s / np.linalg.norm(s)
                if not any(np.allclose(s, u, atol=1e-8) for u in out):
                    out.append(s)
    return out


def test_region_rays_match_vertex_enumeration():
    rng = np.random.default_rng(0)
    B, r, T = 30, 4, 3
    E = rng.standard_normal((B, r, r))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    H = rng.standard_normal((B, T, r))
    nH = rng.integers(0, T + 1, B)
    G, _, count, _ = region_rays(E, H, nH)
    # the same region, its last constraint applied incrementally
    G2, m2, c2, bits = region_rays(E, H[:, :-1], np.minimum(nH, T - 1))
    G3, _, c3, _ = cut_rays(G2, m2, c2, np.where((nH == T)[:, None], H[:, -1], 0.0), bits)
    for b in range(B):
        assert c3[b] == count[b]
        assert all(any(np.allclose(G[b][:, i], G3[b][:, j], atol=1e-9) for j in range(c3[b]))
                   for i in range(count[b]))
        ref = _brute_rays(E[b], H[b, :nH[b]])
        got = G[b][:, :count[b]].T
        assert len(ref) == len(got)
        assert all(any(np.allclose(g, u, atol=1e-7) for g in got) for u in ref)


def test_concave_leaf_is_exact():
    """A cone with only negative rows undecided: the leaf bound equals the best cell
    maximum over the cells it meets (exhaustive cell enumeration inside the cone)."""
    rng = np.random.default_rng(5)
    r, k = 4, 5
    E = np.abs(rng.standard_normal((r, r))) + np.eye(r)
    E /= np.linalg.norm(E, axis=0)
    Z = rng.standard_normal((k, r))
    lam = -rng.random(k)
    c = rng.standard_normal(r) + 2.0 * E.sum(axis=1)
    rows = Rows.from_data(Z, lam)
    m = rows.N.shape[0]
    ns = NodeSet(E=E[None], sign=np.ones(1), c=c[None], ptr=np.array([0, m]),
                 rows=np.arange(m), fix=np.zeros(m, np.int8), tdual=-np.ones(m),
                 vals=rows.N @ E, gptr=np.zeros(2, np.int64), gens=np.zeros((0, r)),
                 gmask=np.zeros(0, np.uint64), gbits=np.full(1, r), pending=-np.ones(1),
                 bound=np.full(1, np.inf), branch=-np.ones(1, np.int64),
                 ustar=np.zeros((1, r)), depth=np.zeros(1, np.int32))
    up, lo, v = leaf_bounds(rows, ns)
    # reference: maximize c.v + f(v) over the cone and ball by dense sampling + cell solves
    from convexnn.duality.cones import cone_support

    best = 0.0
    for bits in itertools.product((0, 1), repeat=m):
        on = np.array(bits, bool)
        A = np.vstack([np.linalg.inv(E), np.where(on, 1.0, -1.0)[:, None] * rows.N])
        best = max(best, cone_support(A, c + rows.w[on] @ rows.N[on])[0])
    assert up[0] == pytest.approx(best, rel=1e-8)
    assert lo[0] == pytest.approx(best, rel=1e-8)


def test_rank_reduced_data():
    """Rank-deficient data: the search runs in the row space and maps u back."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((25, 3)) @ rng.standard_normal((3, 6))
    lam = rng.standard_normal(25)
    assert _rank_reduce(X)[0].shape[1] == 3
    plus, minus = exhaustive_max(X, lam)
    r = search(X, lam)
    assert r.complete and r.upper == pytest.approx(max(plus, minus), rel=1e-8)
    assert r.sign * relu_value(X, lam, r.u) == pytest.approx(r.lower, rel=1e-9)


def test_batched_inverse_marks_singular_nodes():
    """A singular Newton system (a degenerate node LP) gives NaN for that node only; the
    others get their exact inverses (the LP driver then drops just that node)."""
    from convexnn.duality.node_lp_bound import batched_inverse

    rng = np.random.default_rng(0)
    S = rng.standard_normal((3, 4, 4))
    S[1] = np.outer(S[1, 0], S[1, 1])  # rank one
    inv = batched_inverse(S)
    assert np.isnan(inv[1]).all()
    for b in (0, 2):
        assert np.allclose(inv[b] @ S[b], np.eye(4), atol=1e-10)
