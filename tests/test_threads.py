"""Thread limits (convexnn.core.threads): BLAS pools capped during small solves, restored after.

Independent checks: threadpoolctl's own report of the pools' thread counts, read inside
the solver (through a patched routine) and after it; the solve's answer is compared with
an uncapped solve of the same program.
"""

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import convexnn as cn
from convexnn.core import threads as _threads
from convexnn.solvers import kkt


def _blas_counts() -> list[int]:
    import scipy.linalg  # noqa: F401

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """Every BLAS pool at 2 threads for the test (a machine with one core reports 1)."""
    with threadpool_limits(2, user_api="blas"):
        yield


def test_limit_blas_caps_and_restores(two_threads):
    before = _blas_counts()
    # the pools convexnn's cached controller knows (a library loaded after it was built,
    # e.g. a solver's single-threaded BLAS, is not among them: order of the tests)
    known = _threads.blas_threads()
    with _threads.limit_blas(1, n_samples=10):
        assert all(c == 1 for c in _blas_counts())
    assert _blas_counts() == before
    # large problems and threads=None keep the caller's setting
    with _threads.limit_blas(1, n_samples=_threads.SMALL_SAMPLES):
        assert _blas_counts() == before
    with _threads.limit_blas(None, n_samples=10):
        assert _blas_counts() == before
    assert _threads.blas_threads() == known


def test_working_set_solve_runs_blas_single_threaded(two_threads, monkeypatch, rng):
    X, y = rng.standard_normal((12, 2)), rng.standard_normal(12)
    seen = []
    real = kkt.DenseCholesky.__init__

    def spy(self, K):  # the solver's dense factorizations: record the pools' threads
        seen.append(tuple(_blas_counts()))
        real(self, K)

    monkeypatch.setattr(kkt.DenseCholesky, "__init__", spy)
    before = _blas_counts()
    capped = cn.fit(X, y, beta=0.3, patterns="exact", solver="working_set", certify=False, bias="none")
    assert seen and all(set(s) == {1} for s in seen)
    assert _blas_counts() == before  # restored
    seen.clear()
    free = cn.fit(X, y, beta=0.3, patterns="exact", solver="working_set", certify=False,
                  num_threads=None, bias="none")  # no cap: the caller's pools
    assert seen and all(s == tuple(before) for s in seen)
    assert capped.objective == pytest.approx(free.objective, rel=1e-7)


def test_fit_caps_blas_outside_the_solver_too(two_threads, monkeypatch, rng):
    """The numpy work of ``fit`` around the solve (the program's constraint re-check, in
    the solver's gap certificate and after it) runs on one BLAS thread for small data, so
    no pool is left spinning against the solver's widened products; ``num_threads=None``
    leaves the pools alone."""
    from convexnn.two_layer.program import TwoLayerProgram

    X, y = rng.standard_normal((12, 2)), rng.standard_normal(12)
    seen = []
    real = TwoLayerProgram.constraint_violation

    def spy(self, sol):
        seen.append(tuple(_blas_counts()))
        return real(self, sol)

    monkeypatch.setattr(TwoLayerProgram, "constraint_violation", spy)
    before = _blas_counts()
    cn.fit(X, y, beta=0.3, patterns="exact", certify=False, bias="none")
    assert len(seen) >= 2 and all(set(s) == {1} for s in seen)
    assert _blas_counts() == before
    seen.clear()
    cn.fit(X, y, beta=0.3, patterns="exact", certify=False, num_threads=None, bias="none")
    assert len(seen) >= 2 and all(s == tuple(before) for s in seen)


def test_worker_threads_sets_torch_and_blas(two_threads):
    import torch

    threads = torch.get_num_threads()
    try:
        _threads.worker_threads(1)
        assert torch.get_num_threads() == 1 and set(_blas_counts()) == {1}
    finally:
        torch.set_num_threads(threads)


def test_compare_jobs_call_worker_threads_only_in_workers(monkeypatch, rng):
    """A run in another process than the caller's limits its threads; in the caller's
    own process (n_jobs=1) nothing is changed."""
    import os

    from convexnn.training import compare as comparison

    calls = []
    monkeypatch.setattr(_threads, "worker_threads", lambda k=1: calls.append(k))
    X, y = rng.standard_normal((6, 1)), rng.standard_normal(6)
    settings = {"model": "relu", "bias": "none", "skip": False, "output_bias": False,
                "beta": 0.5, "loss": "squared", "epochs": 2, "optimum": 1.0, "log_every": 1,
                "certify": False, "certify_patterns": None}
    job = {"optimizer": "gd", "width": 2, "seed": 0, "lr": None, "batch_size": None,
           "parent": os.getpid()}
    comparison._train_run(X, y, job, settings)
    assert calls == []
    comparison._train_run(X, y, {**job, "parent": -1}, settings)
    assert calls == [1]


def test_wide_products_lift_the_cap_only_when_allowed_and_large(two_threads, monkeypatch):
    """num_threads="auto": a product of at least WIDE_FLOPS gets the process's own BLAS
    threads back inside the capped solve on a machine with WIDE_MIN_CORES cores, whatever
    its load (the thread count changes LAPACK's roundoff: a load-dependent choice made the
    answer depend on the load); a small product, fewer cores or an explicit cap keep one
    thread."""
    _threads._controller()
    # the pools convexnn's controller knows and that run two threads now (a library
    # loaded later, or a single-threaded one, is not among them: order of the tests)
    two = {k for k, v in _threads.blas_threads().items() if v == 2}
    if not two:
        pytest.skip("no BLAS pool of convexnn's controller runs two threads here")

    def counts():
        return {v for k, v in _threads.blas_threads().items() if k in two}

    monkeypatch.setattr(_threads, "_OWN_THREADS", 2)
    big, small = _threads.WIDE_FLOPS, _threads.WIDE_FLOPS / 10
    many, few = _threads.WIDE_MIN_CORES, _threads.WIDE_MIN_CORES - 1
    for allow, flops, cores, expect in [(True, big, many, 2), (True, small, many, 1),
                                        (False, big, many, 1), (True, big, few, 1)]:
        monkeypatch.setattr(_threads, "machine_cores", lambda cores=cores: cores)
        with _threads.limit_blas(1, n_samples=10), _threads.allow_wide_products(allow):
            with _threads.wide_products(flops):
                assert counts() == {expect}, (allow, flops, cores)
            assert counts() == {1}  # the cap is back after the product


def test_auto_threads_widen_the_schur_factorization(two_threads, monkeypatch, rng):
    """In a solve with the default num_threads="auto" the n x n Schur complement of a
    large enough program is factored with the process's threads; num_threads=1 keeps
    one; both give the same answer."""
    monkeypatch.setattr(_threads, "_OWN_THREADS", 2)
    monkeypatch.setattr(_threads, "WIDE_FLOPS", 1e5)
    monkeypatch.setattr(_threads, "machine_cores", lambda: _threads.WIDE_MIN_CORES)
    X, y = rng.standard_normal((60, 3)), rng.standard_normal(60)
    seen = []
    real = kkt.DenseCholesky.__init__

    _threads._controller()
    two = {k for k, v in _threads.blas_threads().items() if v == 2}
    if not two:
        pytest.skip("no BLAS pool of convexnn's controller runs two threads here")

    def spy(self, K):
        seen.append(max(v for k, v in _threads.blas_threads().items() if k in two))
        real(self, K)

    monkeypatch.setattr(kkt.DenseCholesky, "__init__", spy)
    auto = cn.fit(X, y, beta=0.1, patterns=30, seed=0, certify=False, bias="none")
    assert seen and max(seen) == 2
    seen.clear()
    one = cn.fit(X, y, beta=0.1, patterns=30, seed=0, certify=False, num_threads=1, bias="none")
    assert seen and set(seen) == {1}
    assert auto.objective == pytest.approx(one.objective, rel=1e-7)


def test_num_threads_is_validated():
    import numpy as np

    X, y = np.ones((4, 1)) * np.arange(4)[:, None], np.arange(4.0)
    for bad in ("many", 0, -1, 1.5, True):
        with pytest.raises(cn.ConvexNNError, match="num_threads"):
            cn.fit(X, y, beta=0.1, num_threads=bad, bias="none")
