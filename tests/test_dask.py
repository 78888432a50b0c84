"""Sweeps on a dask.distributed cluster through joblib equal the serial runs.

The cluster is local (two worker processes with one thread each, on 127.0.0.1), started
and stopped here; on a real cluster only the ``Client(...)`` address changes.
"""

import logging

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
from joblib import Parallel, delayed, parallel_config  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import convexnn as cn  # noqa: E402
from convexnn.estimators import ConvexReLURegressor  # noqa: E402

pytestmark = pytest.mark.slow  # starting worker processes that import torch takes > 20 s


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((24, 2))
    return X, np.sin(X[:, 0]) + 0.1 * rng.standard_normal(24)


def test_compare_on_dask_equals_serial(client, data):
    X, y = data
    kw = dict(beta=0.5, bias="free", seeds=2, optimizers=("gd", "adam"), epochs=30,
              patterns="exact", quiet=True, seed=0, certify=False)
    serial = cn.compare(X, y, n_jobs=1, **kw)
    with parallel_config(backend="dask"), distributed.get_task_stream(client) as stream:
        dist = cn.compare(X, y, n_jobs=2, **kw)
    assert len({task["worker"] for task in stream.data}) == 2  # both processes trained
    assert [(r["optimizer"], r["seed"]) for r in dist.runs] == \
        [(r["optimizer"], r["seed"]) for r in serial.runs]
    for a, b in zip(serial.runs, dist.runs):
        assert b["objective"] == pytest.approx(a["objective"], rel=1e-10)
        assert np.allclose(b["network"].W1, a["network"].W1, rtol=1e-10, atol=1e-12)
    assert dist.optimum_value == serial.optimum_value


def test_regularization_path_chunks_on_dask_equal_serial(client, data):
    X, y = data
    betas = np.geomspace(2.0, 0.05, 4)
    chunks = np.array_split(betas, 2)
    # the working-set solver: results of cvxpy-backed solvers hold a compiled problem
    # (Clarabel's solver object) that cannot be pickled back from a worker
    kw = dict(bias="free", patterns="exact", solver="working_set")

    def sweep():
        return Parallel(n_jobs=2)(delayed(cn.regularization_path)(X, y, c, **kw) for c in chunks)

    with parallel_config(backend="sequential"):
        serial = sweep()
    with parallel_config(backend="dask"):
        dist = sweep()
    obj_serial = np.concatenate([p.objectives for p in serial])
    obj_dist = np.concatenate([p.objectives for p in dist])
    assert np.allclose(obj_dist, obj_serial, rtol=1e-12, atol=0)
    # and both are the one-process path over the whole grid (to solver accuracy)
    whole = cn.regularization_path(X, y, betas, **kw)
    assert np.allclose(obj_dist, whole.objectives, rtol=1e-6)
    assert all(r.certificate.certified for p in dist for r in p)


def test_grid_search_on_dask_equals_serial(client, data):
    X, y = data
    est = ConvexReLURegressor(model="gated", patterns=8, random_state=0, certify=False)
    grid = {"beta": [0.1, 1.0, 10.0]}
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)
    with parallel_config(backend="dask"):
        dist = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert np.allclose(dist.cv_results_[key], serial.cv_results_[key], rtol=1e-10, atol=0)
    assert dist.best_params_ == serial.best_params_
