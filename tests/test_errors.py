"""convexnn's own errors: bad arguments are named by fit/compare themselves, and every
error is a ConvexNNError that is still a ValueError or TypeError."""

import inspect
import warnings

import numpy as np
import pytest

import convexnn as cn
from convexnn.exceptions import (
    ConvexNNError,
    ConvexNNTypeError,
    ConvexNNValueError,
    NetworkFileError,
    PatternBudgetError,
    UnrealizablePatternsError,
    UnrealizablePatternsWarning,
)
from convexnn.solvers.options import WORKING_SET, accepted_options
from convexnn.solvers.working_set import MemoryBudgetError, WorkingSetSolver


@pytest.fixture
def Xy(rng):
    X = rng.standard_normal((8, 2))
    return X, X[:, 0] - 0.5 * X[:, 1]


def test_error_family_keeps_builtin_bases():
    for cls in (ConvexNNValueError, NetworkFileError, PatternBudgetError, UnrealizablePatternsError,
                MemoryBudgetError):
        assert issubclass(cls, ConvexNNError) and issubclass(cls, ValueError)
    assert issubclass(ConvexNNTypeError, ConvexNNError) and issubclass(ConvexNNTypeError, TypeError)


def test_unknown_keyword_is_named_by_fit(Xy):
    with pytest.raises(ConvexNNTypeError, match=r"(?s)'foo'.*max_iter") as info:
        cn.fit(*Xy, beta=1.0, foo=1, bias="none")
    assert "__init__" not in str(info.value)
    with pytest.raises(TypeError, match=r"'bar', 'foo'"):
        cn.fit(*Xy, beta=1.0, solver="clarabel", bar=2, foo=1, bias="none")


def test_whitelist_matches_the_solvers_signatures():
    params = set(inspect.signature(WorkingSetSolver.__init__).parameters) - {"self", "tol", "verbose"}
    assert set(WORKING_SET) == params
    assert set(accepted_options("auto")) == params


def test_accepted_options_reach_the_solvers(Xy):
    r = cn.fit(*Xy, beta=1.0, max_iter=80, screen_steps=3, certify=False, bias="none")
    assert r.status == "optimal"
    r2 = cn.fit(*Xy, beta=1.0, solver="clarabel", tol_gap_abs=1e-9, max_iter=100, certify=False, bias="none")
    assert r2.status == "optimal" and np.isclose(r.objective, r2.objective, rtol=1e-5)


@pytest.mark.parametrize("tol", [-1, 0, 0.0, float("nan"), float("inf"), 1.5])
def test_bad_tol_is_refused(Xy, tol):
    with pytest.raises(ConvexNNValueError, match="tol"):
        cn.fit(*Xy, beta=1.0, tol=tol, bias="none")


def test_tol_type(Xy):
    with pytest.raises(ConvexNNTypeError, match="tol"):
        cn.fit(*Xy, beta=1.0, tol="small", bias="none")


def test_complex_data_is_refused_naming_it(Xy):
    X, y = Xy
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(ConvexNNTypeError, match=r"^X must be real"):
            cn.fit(X + 1j, y, beta=1.0, bias="none")
        with pytest.raises(ConvexNNTypeError, match=r"^y must be real"):
            cn.fit(X, y.astype(complex), beta=1.0, bias="none")


def test_all_false_patterns_are_named(Xy):
    X, y = Xy
    with pytest.raises(ConvexNNValueError, match=r"^patterns has no active entry"):
        cn.fit(X, y, beta=1.0, patterns=np.zeros((8, 3), bool), bias="none")
    # all-off columns next to usable ones are dropped (they give a zero neuron)
    D = np.c_[np.zeros(8, bool), X @ [1.0, 0.0] >= 0, np.zeros(8, bool)]
    r = cn.fit(X, y, beta=1.0, patterns=D, certify=False, bias="none")
    assert r.patterns.shape == (8, 1) and r.status == "optimal"


def test_unrealizable_patterns_raise_or_warn(rng):
    x = np.arange(6.0)[:, None]  # rank 1: only "all on" and "x_0 only" are patterns
    y = np.sin(x[:, 0])
    D = rng.random((6, 10)) < 0.5
    D[0] = True
    D[1:, 0] = True  # column 0 is all on
    with pytest.warns(UnrealizablePatternsWarning, match=r"patterns: \d+ of the \d+"):
        r = cn.fit(x, y, beta=0.1, patterns=D, certify=False, bias="none")
    assert r.status == "optimal"
    realizable = D[1:].all(axis=0) | ~D[1:].any(axis=0)  # all on, or x_0 only
    with pytest.raises(UnrealizablePatternsError, match="patterns"):
        cn.fit(x, y, beta=0.1, patterns=D[:, ~realizable], certify=False, bias="none")
    # a gated fit cannot use the mixed set at all: refused before the solve
    with pytest.warns(UnrealizablePatternsWarning), \
            pytest.raises(UnrealizablePatternsError, match="model='gated' needs a gate"):
        cn.fit(x, y, beta=0.1, patterns=D, model="gated", certify=False, bias="none")


def test_compare_n_jobs_zero(Xy):
    with pytest.raises(ConvexNNValueError, match="n_jobs"):
        cn.compare(*Xy, beta=1.0, n_jobs=0, quiet=True, bias="none")
    with pytest.raises(ConvexNNTypeError, match="n_jobs"):
        cn.compare(*Xy, beta=1.0, n_jobs=1.5, quiet=True, bias="none")


def test_validators_raise_the_family(Xy):
    X, y = Xy
    with pytest.raises(ConvexNNValueError, match="beta"):
        cn.fit(X, y, beta=-1.0, bias="none")
    with pytest.raises(ConvexNNValueError, match="model"):
        cn.fit(X, y, beta=1.0, model="tanh", bias="none")
    with pytest.raises(ConvexNNValueError, match="NaN"):
        cn.fit(np.full((3, 2), np.nan), y[:3], beta=1.0, bias="none")
