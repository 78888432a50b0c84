"""Compact reprs and honest wording where an answer holds over a subset only.

Checks: each repr is short (< 1 KB) and carries the numbers it claims (parsed back and
compared with the attributes); a gated fit's certificate never says "globally optimal";
``compare`` against a sampled p_S warns when a gradient run ends below it, and the run's
numpy objective confirms that it is below (so the warning is a fact, not a guess).
"""

import re
import warnings

import numpy as np
import pytest

import convexnn as cn
from convexnn.training.compare import BelowSampledBoundWarning

MAX_REPR = 1000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    return rng.standard_normal((10, 2)), rng.standard_normal(10)


@pytest.fixture(scope="module")
def fit_exact(data):
    X, y = data
    return cn.fit(X, y, beta=0.5, bias="free", patterns="exact")


def _number(text: str, key: str) -> float:
    return float(re.search(rf"{key}=([-+0-9.eE]+)", text).group(1))


def test_fit_and_certificate_reprs_short_and_true(fit_exact):
    r = fit_exact
    text = repr(r)
    assert len(text) < MAX_REPR and text.count("\n") <= 4
    assert f"status={r.status!r}" in text
    assert _number(text, "objective") == pytest.approx(r.objective, rel=1e-9)
    assert f"patterns={r.program.n_patterns} (exact)" in text and "n=10, d=2" in text
    c = repr(r.certificate)
    assert len(c) < MAX_REPR
    assert _number(c, "lower") == pytest.approx(r.certificate.lower_bound, rel=1e-9)
    assert ("certified" in c) == r.certificate.certified or "not certified" in c
    # the generated dataclass repr would print the pattern matrix and the program
    assert "array(" not in text and "TwoLayerProgram" not in text


def test_path_compare_train_reprs_short(data):
    X, y = data
    path = cn.regularization_path(X, y, [2.0, 0.5, 0.25], bias="free", patterns="exact")
    text = repr(path)
    assert len(text) < MAX_REPR and "3 betas from 2 to 0.25" in text
    assert f"certified {sum(r.certificate.certified for r in path)}/3" in text
    assert str(path) == text  # print() shows the same short text
    res = cn.compare(X, y, beta=0.5, bias="free", seeds=2, optimizers=("gd",), epochs=20,
                     patterns="exact", n_jobs=1, quiet=True, certify=False)
    assert len(repr(res)) < MAX_REPR and "2 runs" in repr(res)
    train = cn.training.train(cn.training.random_module(2, 3, seed=0), X, y,
                                   beta=0.5, epochs=500, optimizer="gd", quiet=True)
    t = repr(train)
    assert len(t) < MAX_REPR and _number(t, "objective") == pytest.approx(train.objective, rel=1e-9)


def test_gated_certificate_says_over_these_gates(data):
    X, y = data
    g = cn.fit(X, y, beta=0.5, model="gated", bias="regularized", patterns=15, seed=0)
    assert g.certificate.method == "gated" and g.certificate.certified
    line = g.certificate.summary_line()
    assert "globally" not in line and "over these gates" in line
    assert "globally" not in g.summary() and "globally" not in str(g.certificate)
    assert "over its gates" in repr(g)
    # a ReLU fit over every pattern keeps the global claim
    r = cn.fit(X, y, beta=0.5, bias="regularized", patterns="exact")
    assert r.certificate.certified and "CERTIFIED globally optimal" in r.summary()


def test_compare_below_sampled_bound_warns_and_says_so(data):
    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = cn.compare(X, y, beta=0.1, seeds=2, optimizers=("lbfgs",), widths=[8], epochs=30,
                         patterns=2, seed=0, n_jobs=1, quiet=True, certify=False, bias="none")
    assert not res.optimum.exhaustive
    p_s = res.optimum_value
    # independent: each run's returned network, evaluated in numpy
    values = [r["network"].objective(X, y, beta=0.1) for r in res.runs]
    below = [v for v in values if v < p_s * (1 - 1e-6)]
    assert below, "test setup: the wide L-BFGS runs should beat 2 sampled patterns"
    hits = [w for w in caught if issubclass(w.category, BelowSampledBoundWarning)]
    assert len(hits) == 1 and issubclass(BelowSampledBoundWarning, UserWarning)
    assert f"{len(below)}/2 runs ended below the sampled upper bound" in str(hits[0].message)
    assert len(res.below_bound) == len(below)
    table = res.table()
    assert "sampled upper bound p_S" in table and "<= p_S" in table
    assert "reached" not in table and "convex optimum" not in table
    fig = res.plot()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("sampled upper bound" in s for s in labels)
    assert not any("optimum p*" in s for s in labels)


def test_compare_exact_keeps_optimum_wording(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", BelowSampledBoundWarning)
        res = cn.compare(X, y, beta=0.5, seeds=1, optimizers=("gd",), epochs=10,
                         patterns="exact", n_jobs=1, quiet=True, certify=False, bias="none")
    assert res.below_bound == [] and "convex optimum p*" in res.table()
    labels = [t.get_text() for t in res.plot().axes[0].get_legend().get_texts()]
    assert any("convex optimum p* (exact)" in s for s in labels)
