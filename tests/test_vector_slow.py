"""Vector output on iris (slow): the convex fit against L-BFGS runs, certificates, compare."""

import numpy as np
import pytest

import convexnn as cn
from convexnn import training as tb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="module")
def iris_fit(iris):
    X, y = iris
    return cn.fit(X, y, beta=1.0, loss="cross_entropy", bias="regularized", seed=0)


def test_iris_cross_entropy_beats_lbfgs_and_bound_is_valid(iris, iris_fit):
    """Done-when: recovered objective <= best of two width-150 L-BFGS runs; LB valid; acc >= 0.95."""
    X, y = iris
    r = iris_fit
    Y = np.eye(3)[y]
    runs = []
    for seed in (0, 1):
        module = tb.random_module(4, 150, bias="regularized", n_outputs=3, seed=seed)
        res = tb.train(module, X, y, beta=1.0, loss="cross_entropy", optimizer="lbfgs",
                       epochs=300, seed=seed, quiet=True)
        runs.append(res.objective)
        # weak duality: the certificate's lower bound is below every network's objective
        assert r.certificate.lower_bound <= res.objective + 1e-9
    assert r.recovered_objective <= min(runs) + 1e-7 * abs(min(runs))
    assert r.network.objective(X, Y, beta=1.0, loss="cross_entropy") == pytest.approx(r.recovered_objective, rel=1e-10)
    assert r.certificate.lower_bound <= r.recovered_objective
    assert np.mean(r.predict_labels(X) == y) >= 0.95
    assert not r.certificate.certified  # rank 5: pricing is a heuristic here, never a proof


def test_compare_runs_on_iris(iris):
    from convexnn.training.compare import compare

    X, y = iris
    res = compare(X, y, beta=1.0, loss="cross_entropy", bias="regularized", seeds=1,
                  optimizers=("lbfgs",), epochs=100, widths=[1], n_jobs=1, quiet=True)
    run = res.runs[0]
    assert run["objective"] >= res.optimum.certificate.lower_bound - 1e-9
    assert run["lower_bound"] is not None and run["lower_bound"] <= run["objective"]
