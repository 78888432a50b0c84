"""beta_max (THEORY A.7 corollary, I7) and regularization paths (one compiled program)."""

import warnings

import numpy as np
import pytest

import convexnn as cn
from convexnn import certify
from convexnn.path import PathResult, beta_max, regularization_path, zero_network

VARIANTS = [
    dict(loss="squared"),
    dict(loss="squared", output_bias=True),
    dict(loss="squared", skip=True, output_bias=True),
    dict(loss="squared", bias="regularized"),
    dict(loss="squared", bias="free"),
    dict(loss="logistic"),
    dict(loss="logistic", output_bias=True),
]


def _data(loss, n=8, d=2, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n) + 0.5
    if loss != "squared":
        y = np.where(y >= 0.5, 1.0, -1.0)
    return X, y


def _quiet_fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cn.fit(X, y, patterns="exact", **kw)


def test_beta_max_closed_form_1d():
    """d = 1, no bias: the two cells are {x >= 0} and {x < 0}, so beta_max =
    max(|y^T x_+|, |y^T (-x)_+|) (u = +-1)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(9), rng.standard_normal(9)
    naive = max(abs(y @ np.maximum(x, 0)), abs(y @ np.maximum(-x, 0)))
    assert beta_max(x[:, None], y, bias="none") == pytest.approx(naive, rel=1e-12)


def test_beta_max_free_bias_1d_closed_form():
    """1-D data, free bias: with lam = y - mean(y),
    beta_max = max_j max(|sum lam (x - x_j)_+|, |sum lam (x_j - x)_+|)."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(10), rng.standard_normal(10)
    lam = y - y.mean()
    naive = max(max(abs(lam @ np.maximum(x - t, 0)), abs(lam @ np.maximum(t - x, 0))) for t in x)
    assert beta_max(x[:, None], y, bias="free") == pytest.approx(naive, rel=1e-10)


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_zero_network_optimal_above_beta_max(kw):
    """THEORY I7: for beta >= beta_max the zero network (plus free terms) is optimal and
    p* = loss(z0); slightly below, a nonzero network does strictly better."""
    X, y = _data(kw["loss"])
    bmax = beta_max(X, y, **kw)
    zero = zero_network(X, y, **kw)
    p0 = cn.get_loss(kw["loss"]).value(zero.predict(X), y)
    # independent value of loss(z0) for the squared loss: residual of y on the free terms
    if kw["loss"] == "squared":
        F = [np.ones((8, 1))] if kw.get("output_bias") or kw.get("bias") == "free" else []
        F += [X] if kw.get("skip") else []
        r = y - (np.hstack(F) @ np.linalg.lstsq(np.hstack(F), y, rcond=None)[0] if F else 0.0)
        assert p0 == pytest.approx(0.5 * r @ r, rel=1e-12)
    above = _quiet_fit(X, y, beta=1.01 * bmax, **kw)
    assert above.objective == pytest.approx(p0, rel=1e-6, abs=1e-8)
    c = certify(zero, X, y, beta=1.01 * bmax, **kw)
    assert c.certified and c.s == pytest.approx(bmax, rel=1e-9)
    below = _quiet_fit(X, y, beta=0.9 * bmax, **kw)
    assert below.objective < p0 - 1e-6 * max(1.0, p0)
    assert not certify(zero, X, y, beta=0.9 * bmax, **kw).certified


def test_regularization_path_matches_separate_fits_and_compiles_once(monkeypatch):
    from cvxpy.reductions.solvers.solving_chain import SolvingChain

    compiles = []
    apply = SolvingChain.apply
    monkeypatch.setattr(SolvingChain, "apply",
                        lambda self, *a, **k: compiles.append(1) or apply(self, *a, **k))
    X, y = _data("squared", n=9, d=2)
    bmax = beta_max(X, y, bias="none")
    betas = bmax * np.array([0.9, 0.5, 0.2, 0.1, 0.05])
    path = regularization_path(X, y, betas, patterns="exact", solver="clarabel", bias="none")
    assert isinstance(path, PathResult) and len(path) == 5
    # one compiled problem (cvxpy canonicalizes once), re-solved with a new beta Parameter
    assert all(r.problem is path[0].problem for r in path)
    assert len(compiles) == 1
    for b, r in zip(betas, path):
        assert r.beta == pytest.approx(b)
        separate = cn.fit(X, y, beta=b, patterns="exact", bias="none")
        assert r.objective == pytest.approx(separate.objective, rel=1e-6)
        assert r.recovered_objective == pytest.approx(r.objective, rel=1e-6)
        assert r.certificate is not None and r.certificate.certified
        assert r.certificate.beta == pytest.approx(b)
    # p*(beta) is nondecreasing in beta (the penalty grows pointwise)
    assert np.all(np.diff(path.objectives[::-1]) >= -1e-9)
    assert "certified" in path.summary()


def test_regularization_path_bad_input():
    X, y = _data("squared")
    with pytest.raises(ValueError, match="betas must be a non-empty"):
        regularization_path(X, y, [], bias="none")
    with pytest.raises(ValueError, match="betas must be finite and > 0"):
        regularization_path(X, y, [0.1, -1.0], bias="none")
    with pytest.raises(ValueError, match="bias must be one of"):
        beta_max(X, y, bias="sometimes")
