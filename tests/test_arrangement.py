"""Exact enumeration by deletion-restriction against independent ground truth: Cover's
count, the LP breadth-first search, an LP over every sign vector, dense random directions;
the cost estimate refuses large arrangements before any work."""

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import convexnn as cn
from convexnn.core.arrangement import arrangement_cells, cover_count, dr_cost
from convexnn.core.patterns import (
    _cells_bfs,
    _cells_to_patterns,
    _hyperplanes,
    _rank_reduce,
    add_bias_column,
    enumerate_1d_bias,
    enumerate_patterns,
    enumeration_cost,
    pattern_count,
)
from convexnn.exceptions import PatternBudgetError


def as_set(D):
    return {col.tobytes() for col in np.packbits(D, axis=0).T}


def lp_truth(X):
    """Every pattern 1[Xu >= 0] of a full-dimensional cell, by an LP per sign vector of the
    distinct nonzero rows (brute force over 2^H; independent of the enumeration code)."""
    norms = np.linalg.norm(X, axis=1)
    nz = norms > 1e-12
    U = X[nz] / norms[nz, None]
    # distinct hyperplanes: rows equal up to sign (by direct comparison, not rounding keys)
    reps, rep_of, orient = [], np.zeros(len(U), int), np.zeros(len(U))
    for j, u in enumerate(U):
        for k, v in enumerate(reps):
            if np.allclose(u, v, atol=1e-9) or np.allclose(u, -v, atol=1e-9):
                rep_of[j], orient[j] = k, (1.0 if np.allclose(u, v, atol=1e-9) else -1.0)
                break
        else:
            rep_of[j], orient[j] = len(reps), 1.0
            reps.append(u)
    A = np.array(reps).reshape(len(reps), X.shape[1])
    out = set()
    for s in itertools.product((1.0, -1.0), repeat=len(reps)):
        s = np.array(s)
        res = linprog(np.zeros(X.shape[1]), A_ub=-(s[:, None] * A), b_ub=-np.ones(len(s)),
                      bounds=[(None, None)] * X.shape[1], method="highs")
        if res.status == 0:
            D = np.ones(X.shape[0], bool)
            D[nz] = orient * s[rep_of] > 0
            out.add(np.packbits(D).tobytes())
    return out


def check_gates(X, ps):
    assert np.array_equal(X @ ps.gates.T >= 0, ps.D)


@pytest.mark.parametrize("n,d", [(3, 3), (5, 5), (6, 8), (7, 6), (9, 8), (10, 9), (9, 4),
                                 (12, 5), (11, 3), (13, 7)])
def test_general_position_equals_cover(n, d):
    X = np.random.default_rng(n * 31 + d).standard_normal((n, d))
    ps = enumerate_patterns(X)
    assert ps.n_patterns == pattern_count(n, min(n, d)) and ps.exhaustive
    assert len(as_set(ps.D)) == ps.n_patterns
    check_gates(X, ps)


def degenerate_cases():
    rng = np.random.default_rng(7)
    P2 = rng.standard_normal((4, 2))
    line = np.array([[t, 2 * t + 1] for t in (-1.0, 0.0, 0.5, 2.0)])  # collinear points
    grid = rng.integers(-2, 3, (8, 3)).astype(float)
    base = rng.standard_normal((5, 4))
    return {
        "collinear_with_bias": add_bias_column(np.vstack([P2, line])),
        "integer_grid": grid,
        "duplicate_and_parallel": np.vstack([base, base[:2], -2 * base[2:3], 3 * base[3:4]]),
        "zero_rows": np.vstack([base, np.zeros((2, 4))]),
        "rank_deficient": rng.standard_normal((7, 3)) @ rng.standard_normal((3, 5)),
        "rank_equals_n_with_duplicates": np.vstack([np.eye(4), np.eye(4)[:2]]),
        "square_grid_bias": add_bias_column(np.array([[i, j] for i in range(3) for j in range(3)], float)),
        "one_d_bias": add_bias_column(np.array([[0.0], [1.0], [1.0], [2.5], [-1.0]])),
    }


@pytest.mark.parametrize("name", list(degenerate_cases()))
def test_degenerate_equals_lp_brute_force(name):
    X = degenerate_cases()[name]
    ps = enumerate_patterns(X)
    assert as_set(ps.D) == lp_truth(X)
    assert len(as_set(ps.D)) == ps.n_patterns
    check_gates(X, ps)


@pytest.mark.parametrize("name", [k for k, X in degenerate_cases().items()
                                  if np.linalg.matrix_rank(X) >= 3])  # lower: closed forms
def test_degenerate_equals_lp_bfs(name):
    X = degenerate_cases()[name]
    Z, _ = _rank_reduce(X)
    A, group, orient, zero = _hyperplanes(Z)
    bfs, _ = _cells_bfs(A, np.random.default_rng(0), 10**6)
    dr, _ = arrangement_cells(A)
    assert as_set(_cells_to_patterns(bfs, group, orient, zero)) == \
        as_set(_cells_to_patterns(dr.astype(float), group, orient, zero))


def test_one_d_bias_matches_closed_form():
    x = np.array([3.0, -1.0, 3.0, 0.5, 2.0, -1.0, 7.0])
    assert as_set(enumerate_patterns(add_bias_column(x[:, None])).D) == as_set(enumerate_1d_bias(x).D)


def test_dense_random_directions_find_no_other_pattern():
    X = np.random.default_rng(3).standard_normal((8, 4))
    exact = as_set(enumerate_patterns(X).D)
    U = np.random.default_rng(4).standard_normal((4, 200_000))
    sampled = as_set(X @ U >= 0)
    assert sampled <= exact and len(sampled) >= 0.9 * len(exact)  # tiny cells are rarely hit


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 7), st.integers(2, 4), st.integers(0, 10**6))
def test_random_small_integer_data_equals_lp_brute_force(n, d, seed):
    X = np.random.default_rng(seed).integers(-2, 3, (n, d)).astype(float)
    if not X.any():
        X[0, 0] = 1.0
    ps = enumerate_patterns(X)
    assert as_set(ps.D) == lp_truth(X)
    check_gates(X, ps)


def test_cost_table_counts_the_recursion():
    # rank = H: one call, the 2^H sign vectors
    assert dr_cost(5, 5) == (1, 2**5 * 5)
    calls, work = dr_cost(14, 13)
    assert calls < 30 and work >= cover_count(14, 13)
    assert cover_count(14, 13) == 16382 and cover_count(10, 9) == 1022


def test_enumeration_cost_refuses_fast_with_a_useful_message():
    X = np.random.default_rng(0).standard_normal((200, 40))
    t = time.perf_counter()
    cost = enumeration_cost(X)
    assert not cost.fits() and cost.cells_upper_bound > 10**20
    with pytest.raises(PatternBudgetError, match=r"(?s)at least [\d.,e+]+ patterns.*patterns=<int>"):
        enumerate_patterns(X)
    with pytest.raises(PatternBudgetError):
        cn.fit(X, X[:, 0], beta=1.0, patterns="exact", bias="none")
    assert time.perf_counter() - t < 2.0


def test_time_budget_refuses_before_work():
    X = np.random.default_rng(0).standard_normal((16, 7))
    cost = enumeration_cost(X)
    assert cost.cells_upper_bound == 19898 and cost.fits()
    with pytest.raises(PatternBudgetError, match="max_seconds"):
        enumerate_patterns(X, max_seconds=cost.estimated_seconds / 10)


@pytest.mark.parametrize("n,d,limit", [(10, 9, 5.0), (14, 13, 10.0)])
def test_issue_sizes_enumerate_in_seconds(n, d, limit):
    X = np.random.default_rng(0).standard_normal((n, d))
    t = time.perf_counter()
    ps = enumerate_patterns(X)
    assert time.perf_counter() - t < limit
    assert ps.n_patterns == pattern_count(n, d)
