"""scikit-learn estimators: sklearn's own checks, pipelines, and the mathematics behind them."""

import pickle

import cvxpy as cp
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import convexnn as cn
from convexnn.core.patterns import sample_patterns
from convexnn.estimators.files import FORMAT_VERSION
from convexnn.estimators.models import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    stack_networks,
    supports_cross_entropy,
)

#: Checks sklearn itself skips for reasons of this environment, not of the estimator.
ENVIRONMENT_SKIPS = {"check_array_api_input": "SCIPY_ARRAY_API is not set"}


def run_checks(estimator) -> dict:
    """Run check_estimator; every check must pass, except sklearn's environment skips."""
    statuses = {}

    def callback(*, check_name, status, exception, **_):
        statuses[check_name] = (status, exception)

    check_estimator(estimator, on_fail=None, callback=callback)
    for name, (status, exc) in statuses.items():
        if status == "skipped":
            assert name in ENVIRONMENT_SKIPS and ENVIRONMENT_SKIPS[name] in str(exc), (name, exc)
        else:
            assert status == "passed", (name, status, exc)
    assert len(statuses) > 40
    return statuses


# fast settings for the core suite: few sampled gates, no certificate
FAST = dict(model="gated", patterns=8, random_state=0, certify=False)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("est", [
    ConvexReLURegressor(**FAST),
    pytest.param(ConvexReLUClassifier(**FAST), marks=pytest.mark.slow)],
    ids=["regressor", "classifier"])
def test_check_estimator_fast(est):
    run_checks(est)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("est", [ConvexReLURegressor(), ConvexReLUClassifier()],
                         ids=["regressor", "classifier"])
def test_check_estimator_defaults(est):
    run_checks(est)


def lasso_1d_objective(x, y, beta):
    """Independent cvxpy form of 1-D two-layer regression with free biases (THEORY F.1):
    min 1/2 ||A z + c - y||^2 + beta ||z||_1 with atoms (s (x - x_j))_+ at the data."""
    A = np.hstack([np.maximum(x[:, None] - x[None, :], 0), np.maximum(x[None, :] - x[:, None], 0)])
    z, c = cp.Variable(A.shape[1]), cp.Variable()
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ z + c - y) + beta * cp.norm1(z)))
    prob.solve(solver="CLARABEL")
    return prob.value


def test_regressor_is_the_1d_lasso(rng):
    x = np.sort(rng.uniform(-2, 2, 15))
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(15)
    est = ConvexReLURegressor(beta=0.1, bias="free", patterns="exact").fit(x[:, None], y)
    ref = lasso_1d_objective(x, y, 0.1)
    assert est.objective_ == pytest.approx(ref, rel=1e-6)
    # the objective is the network's own, recomputed: loss + beta * penalty
    net = est.network_
    own = 0.5 * np.sum((net.predict(x[:, None]) - y) ** 2) + 0.1 * net.penalty()
    assert own == pytest.approx(ref, rel=1e-6)
    assert est.certified_ and est.certificate_.lower_bound <= ref * (1 + 1e-6)
    # score keeps scikit-learn's meaning (R^2), not the objective
    r2 = 1 - np.sum((est.predict(x[:, None]) - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert est.score(x[:, None], y) == pytest.approx(r2)


def test_binary_classifier_labels_and_objective(rng):
    X = rng.standard_normal((20, 2))
    labels = np.where(X[:, 0] + 0.3 * rng.standard_normal(20) > 0, "yes", "no")
    est = ConvexReLUClassifier(beta=0.5, random_state=0).fit(X, labels)
    assert list(est.classes_) == ["no", "yes"] and est.multi_class_ == "binary"
    s = np.where(labels == "yes", 1.0, -1.0)  # classes_[1] is +1
    f = est.decision_function(X)
    own = np.sum(np.logaddexp(0, -s * f)) + 0.5 * est.network_.penalty()
    assert est.objective_ == pytest.approx(own, rel=1e-6)
    assert est.certificate_.lower_bound <= est.objective_ * (1 + 1e-9)
    P = est.predict_proba(X)
    assert np.allclose(P[:, 1], 1 / (1 + np.exp(-f))) and np.allclose(P.sum(1), 1)
    assert np.array_equal(est.predict(X), est.classes_[(f > 0).astype(int)])
    hinge = ConvexReLUClassifier(loss="hinge", model="gated", patterns=8, random_state=0)
    assert not hasattr(hinge.fit(X, labels), "predict_proba")  # no probabilities for hinge


def test_one_vs_rest_is_per_class_fits(rng):
    X = rng.standard_normal((24, 2))
    y = np.argmax(X @ rng.standard_normal((2, 3)), axis=1)
    est = ConvexReLUClassifier(beta=1.0, model="gated", patterns=10, random_state=3,
                               multi_class="ovr").fit(X, y)
    assert est.multi_class_ == "ovr" and est.network_.n_outputs == 3
    total = 0.0
    for k in range(3):  # each column is the binary program of class k against the rest
        r = cn.fit(X, np.where(y == k, 1.0, -1.0), beta=1.0, loss="logistic", model="gated",
                   bias="regularized", output_bias=True, patterns=10, seed=3)
        assert np.allclose(est.decision_function(X)[:, k], r.network.predict(X), atol=1e-8)
        total += r.objective
    assert est.objective_ == pytest.approx(total, rel=1e-9)
    # the stacked network carries the summed penalty
    assert est.network_.penalty() == pytest.approx(
        sum(r.network.penalty() for r in est.result_), rel=1e-12)


def test_stack_networks_outputs(rng):
    nets = [cn.Network(W1=rng.standard_normal((m, 3)), W2=rng.standard_normal(m),
                       b1=rng.standard_normal(m), c0=float(k), skip=rng.standard_normal(3))
            for k, m in enumerate((2, 0, 4))]
    X = rng.standard_normal((5, 3))
    out = stack_networks(nets).predict(X)
    assert np.allclose(out, np.column_stack([n.predict(X) for n in nets]))


def test_iris_proba_and_accuracy():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), ConvexReLUClassifier(
        beta=1.0, model="gated", patterns=30, random_state=0)).fit(X, y)
    P = pipe.predict_proba(X)
    assert P.shape == (150, 3) and np.allclose(P.sum(axis=1), 1.0)
    assert np.array_equal(pipe.classes_[np.argmax(P, 1)], pipe.predict(X))
    assert pipe.score(X, y) >= 0.95


@pytest.mark.slow
def test_grid_search_pipeline_diabetes():
    X, y = load_diabetes(return_X_y=True)
    est = ConvexReLURegressor(model="gated", patterns=20, random_state=0, certify=False)
    gs = GridSearchCV(make_pipeline(StandardScaler(), est),
                      {"convexreluregressor__beta": [10.0, 1000.0]}, cv=2).fit(X, y / 100)
    scores = gs.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and gs.best_score_ == scores.max()
    best = gs.best_estimator_[-1]
    assert best.beta == gs.best_params_["convexreluregressor__beta"] and best.objective_ > 0


def test_clone_pickle_and_save_load(tmp_path, rng):
    X = rng.standard_normal((20, 3))
    y = np.array(["a", "b", "c", "d"] * 5)
    est = ConvexReLUClassifier(beta=0.3, model="gated", patterns=6, random_state=1)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "network_")
    est.fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    assert back.result_ is None and np.array_equal(back.predict_proba(X), est.predict_proba(X))
    path = est.save(tmp_path / "clf")
    loaded = ConvexReLUClassifier.load(path)
    assert loaded.get_params() == est.get_params() and loaded.result_ is None
    assert np.array_equal(loaded.classes_, est.classes_)
    assert np.array_equal(loaded.decision_function(X), est.decision_function(X))
    assert loaded.objective_ == est.objective_
    # one certificate (the multinomial vector program) or one per class (one-vs-rest)
    as_list = lambda c: c if isinstance(c, list | tuple) else [c]  # noqa: E731
    assert ([c.lower_bound for c in as_list(loaded.certificate_)]
            == [c.lower_bound for c in as_list(est.certificate_)])
    with np.load(path, allow_pickle=False) as f:  # plain npz + json, versioned
        assert f"\"format_version\": {FORMAT_VERSION}" in str(f["header"])
    with pytest.raises(ValueError, match="ConvexReLUClassifier, not a ConvexReLURegressor"):
        ConvexReLURegressor.load(path)
    D = sample_patterns(X, 4, seed=0).D  # realizable patterns of X
    reg = ConvexReLURegressor(beta=0.3, patterns=D).fit(X, X[:, 0])
    again = ConvexReLURegressor.load(reg.save(tmp_path / "reg.npz"))
    assert np.array_equal(again.patterns, reg.patterns)
    assert np.array_equal(again.predict(X), reg.predict(X))


def test_bad_parameters_are_named(rng):
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    with pytest.raises(ValueError, match="model"):
        ConvexReLURegressor(model="tanh").fit(X, y)
    with pytest.raises(ValueError, match="beta"):
        ConvexReLURegressor(beta=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        ConvexReLUClassifier(loss="squared").fit(X, y > 0)
    with pytest.raises(ValueError, match="2 classes"):
        ConvexReLUClassifier().fit(X, np.zeros(10))


@pytest.mark.slow
def test_multi_class_strategy(rng):
    X, y = rng.standard_normal((12, 2)), np.arange(12) % 3
    est = ConvexReLUClassifier(multi_class="multinomial")
    if supports_cross_entropy():  # the vector program: one shared network, softmax
        est.fit(X, y)
        assert est.multi_class_ == "multinomial" and np.allclose(est.predict_proba(X).sum(1), 1)
    else:
        with pytest.raises(ValueError, match="cross_entropy"):
            est.fit(X, y)
