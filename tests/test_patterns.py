"""Activation patterns: exact counts against Cover's formula and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.core.patterns import (
    add_bias_column,
    enumerate_1d_bias,
    enumerate_patterns,
    make_patterns,
    pattern_count,
    patterns_from_array,
    sample_patterns,
)
from convexnn.exceptions import (
    PatternBudgetError,
    UnrealizablePatternsError,
    UnrealizablePatternsWarning,
)


def as_set(D):
    return {col.tobytes() for col in np.packbits(D, axis=0).T}


def test_pattern_count_formula():
    assert pattern_count(8, 3) == 2 * (1 + 7 + 21) == 58
    assert pattern_count(5, 1) == 2
    assert pattern_count(3, 5) == 2 ** 3  # r >= n: every sign vector


@pytest.mark.parametrize("n,d", [(8, 3), (10, 2), (7, 1), (9, 4)])
def test_exact_count_general_position(rng, n, d):
    X = rng.standard_normal((n, d))
    ps = enumerate_patterns(X)
    assert ps.exhaustive
    assert ps.n_patterns == pattern_count(n, d)
    # the gates realise the patterns
    assert np.array_equal(X @ ps.gates.T >= 0, ps.D)


def test_exact_contains_every_sampled_pattern(rng):
    X = rng.standard_normal((9, 3))
    exact = as_set(enumerate_patterns(X).D)
    sampled = as_set(sample_patterns(X, 5000, seed=1).D)
    assert sampled <= exact
    # dense sampling finds (almost surely) all cells of this small arrangement
    assert len(sampled) >= 0.9 * len(exact)


def test_parallel_and_duplicate_rows(rng):
    X = rng.standard_normal((8, 3))
    X2 = np.vstack([X, 3 * X[:2], -X[2:4], X[5:6]])  # parallel, antiparallel, duplicate
    ps = enumerate_patterns(X2)
    assert ps.n_patterns == pattern_count(8, 3)
    assert np.array_equal(X2 @ ps.gates.T >= 0, ps.D)


def test_zero_rows_are_always_on(rng):
    X = np.vstack([rng.standard_normal((6, 2)), np.zeros((2, 2))])
    ps = enumerate_patterns(X)
    assert ps.D[-2:].all()
    assert ps.n_patterns == pattern_count(6, 2)


def test_rank_deficient_data(rng):
    # rank 2 embedded in R^4: count is that of rank 2
    X = rng.standard_normal((10, 2)) @ rng.standard_normal((2, 4))
    ps = enumerate_patterns(X)
    assert ps.n_patterns == pattern_count(10, 2)
    assert np.array_equal(X @ ps.gates.T >= 0, ps.D)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=2, max_size=12))
def test_1d_bias_closed_form_equals_sweep(values):
    x = np.array(values, dtype=float)
    closed = enumerate_1d_bias(x)
    sweep = enumerate_patterns(add_bias_column(x[:, None]))
    assert as_set(closed.D) == as_set(sweep.D)
    assert closed.n_patterns == 2 * np.unique(x).size
    X = add_bias_column(x[:, None])
    assert np.array_equal(X @ closed.gates.T >= 0, closed.D)


def test_budget_error_names_count_and_suggests_sampling(rng):
    X = rng.standard_normal((200, 10))
    with pytest.raises(PatternBudgetError, match=r"(?s)patterns.*Sample gates"):
        enumerate_patterns(X, max_patterns=1000)


def test_sampling_is_seeded_and_deduplicated(rng):
    X = rng.standard_normal((30, 4))
    a, b = sample_patterns(X, 50, seed=3), sample_patterns(X, 50, seed=3)
    assert np.array_equal(a.D, b.D)
    assert len(as_set(a.D)) == a.n_patterns <= 50
    assert not np.array_equal(a.D, sample_patterns(X, 50, seed=4).D)


def test_user_patterns_and_gates(rng):
    X = rng.standard_normal((12, 3))
    D = X @ rng.standard_normal((3, 6)) >= 0
    ps = patterns_from_array(D, X)
    assert ps.gates is not None and np.array_equal(X @ ps.gates.T >= 0, ps.D)
    # a pattern that is no cell: no gate vector exists
    bad = np.zeros((12, 1), bool)
    bad[::2] = True
    X1 = np.arange(12.0)[:, None]
    with pytest.raises(UnrealizablePatternsError, match="patterns"):
        patterns_from_array(bad, X1)
    # mixed: a warning, and no gates (a gated network could not use them)
    with pytest.warns(UnrealizablePatternsWarning, match="1 of the 2"):
        ps = patterns_from_array(np.c_[bad, np.ones(12, bool)], X1)
    assert ps.gates is None and ps.n_patterns == 2


def test_make_patterns_rejects_bad_values(rng):
    X = rng.standard_normal((5, 2))
    with pytest.raises(ValueError, match="patterns"):
        make_patterns(X, "everything")
    with pytest.raises(ValueError, match="shape"):
        make_patterns(X, np.ones((4, 3), bool))
    with pytest.raises(TypeError, match="patterns"):
        make_patterns(X, 2.5)


@pytest.mark.parametrize("kind", ["random", "coplanar", "integer_grid"])
def test_facet_recursion_equals_lp_search(rng, kind):
    """Two independent exact algorithms (facet recursion vs BFS with LP feasibility tests)
    find the same cells, also on degenerate data with many concurrent hyperplanes."""
    from convexnn.core.patterns import _cells_bfs, _cells_to_patterns, _hyperplanes, _rank_reduce

    if kind == "random":
        X = rng.standard_normal((10, 4))
    elif kind == "coplanar":
        X = rng.standard_normal((9, 3))
        X = np.vstack([X, X[0] + X[1], X[2] - X[4], X[5] + X[6] - X[7]])
    else:
        X = rng.integers(-2, 3, (12, 4)).astype(float)
    ps = enumerate_patterns(X)
    Z, _ = _rank_reduce(X)
    A, group, orient, zero = _hyperplanes(Z)
    signs, _ = _cells_bfs(A, rng, 10**6)
    assert as_set(_cells_to_patterns(signs, group, orient, zero)) == as_set(ps.D)
    assert np.array_equal(X @ ps.gates.T >= 0, ps.D)
