"""Dual certificates (THEORY A.7, B, I6) checked against exhaustively solved optima."""

import warnings
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import convexnn as cn
from convexnn.duality.certificate import Certificate
from convexnn.duality.dual_points import project_dual
from convexnn.networks.two_layer import Network
from convexnn.path import beta_max, zero_network
from convexnn.two_layer.certificate import certify, certify_fit

LOSSES = ("squared", "logistic", "hinge")
BIASES = ("none", "regularized", "free")


def _quiet_fit(X, y, **kw):
    """fit with exact patterns; inaccurate-solution warnings are inspected via status."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cn.fit(X, y, **{"bias": "none", **kw})


def _data(rng, loss, n, d):
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    if loss != "squared":
        y = np.where(y >= 0, 1.0, -1.0)
    return X, y


def _random_network(rng, d, *, bias, skip, constant, m=3, scale=1.0):
    return Network(W1=scale * rng.standard_normal((m, d)), W2=scale * rng.standard_normal(m),
                   b1=scale * rng.standard_normal(m) if bias != "none" else None,
                   skip=rng.standard_normal(d) if skip else None,
                   c0=float(rng.standard_normal()) if constant else 0.0,
                   regularize_bias=bias == "regularized")


@pytest.fixture(scope="module")
def i6():
    """THEORY I6: random n=8, d=3, no bias, beta=0.3, 58 patterns."""
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    return X, y, 0.3, cn.fit(X, y, beta=0.3, patterns="exact", bias="none")


def test_i6_certificate_at_the_optimum(i6):
    X, y, beta, r = i6
    assert cn.enumerate_patterns(X).n_patterns == 58
    assert r.program.n_patterns == 57  # the all-off pattern contributes nothing
    c = r.certificate
    assert isinstance(c, Certificate)
    assert c.certified and c.exhaustive and not c.refuted
    assert c.method == "exhaustive" and c.n_patterns_checked == 57
    assert c.s == pytest.approx(beta, rel=1e-5)  # s = beta exactly at the optimum
    assert c.relative_gap <= 1e-6
    assert c.upper_bound == pytest.approx(r.recovered_objective, rel=1e-12)
    assert c.lower_bound <= r.objective + 1e-9
    # the standalone entry point on the bare network agrees
    c2 = certify(r.network, X, y, beta=beta, bias="none")
    assert c2.certified and c2.s == pytest.approx(beta, rel=1e-5)
    assert "CERTIFIED" in c.summary_line() and "gap" in str(c)


def test_i6_lower_bound_by_hand(i6):
    """LB = -1/2||lam_s - y||^2 + 1/2||y||^2 with lam_s = (y - yhat) min(1, beta/s)."""
    X, y, beta, r = i6
    c_net = certify(r.network, X, y, beta=beta, refine=False, bias="none")  # the network's own lam
    lam = y - r.network.predict(X)
    lam_s = lam * min(1.0, beta / c_net.s)
    by_hand = -0.5 * np.sum((lam_s - y) ** 2) + 0.5 * np.sum(y**2)
    assert c_net.lower_bound == pytest.approx(by_hand, abs=1e-12)
    # certify_fit also tries the convex solution's dual point and keeps the better valid
    # bound, so it is at least the network's own
    assert r.certificate.lower_bound >= c_net.lower_bound - 1e-12


def test_most_violated_is_consistent(i6):
    X, y, beta, r = i6
    poor = replace(r.network, W2=0.5 * r.network.W2)
    c = certify(poor, X, y, beta=beta, bias="none")
    v = c.most_violated
    lam = y - poor.predict(X)
    assert np.linalg.norm(v.u) <= 1 + 1e-12
    assert v.value == pytest.approx(v.sign * lam @ np.maximum(X @ v.u, 0), rel=1e-12)
    assert v.value <= c.s * (1 + 1e-9)
    assert v.value == pytest.approx(c.s_found, rel=1e-9)


def test_poor_network_not_certified_and_refuted(i6):
    X, y, beta, r = i6
    p_star = r.objective
    for poor in (replace(r.network, W2=0.5 * r.network.W2),
                 _random_network(np.random.default_rng(0), 3, bias="none", skip=False,
                                 constant=False)):
        c = certify(poor, X, y, beta=beta, bias="none")
        assert not c.certified and c.refuted
        assert c.lower_bound <= p_star + 1e-9
        assert c.gap >= c.upper_bound - p_star - 1e-9  # gap bounds the true suboptimality
        assert c.upper_bound - p_star > 1e-3


def test_sampled_gates_miss_the_optimum(i6):
    """3 sampled gates (THEORY A.3: 'sampled-pattern value >= p_cvx'): never certified."""
    X, y, beta, r = i6
    r3 = cn.fit(X, y, beta=beta, patterns=3, seed=1, bias="none")
    assert r3.objective > r.objective + 1e-3
    c = r3.certificate
    # rank 2 with every coordinate penalized: branch and bound proves s (no cell list)
    assert not c.certified and c.exhaustive and c.method == "branch_bound"
    assert c.lower_bound <= r.objective + 1e-9
    # without it, the pattern search can only refute
    c_search = certify(r3.network, X, y, beta=beta, patterns=20, seed=0, time_limit=0, bias="none")
    assert not c_search.certified and not c_search.exhaustive and c_search.method == "search"
    assert c_search.lower_bound <= r.objective + 1e-9
    assert c.refuted  # the search finds a violated constraint: s > beta
    c_all = certify(r3.network, X, y, beta=beta, patterns="exact", bias="none")
    assert not c_all.certified and c_all.exhaustive
    assert c_all.lower_bound <= r.objective + 1e-9
    assert c_all.gap >= r3.objective - r.objective - 1e-7


def test_equivalent_network_has_zero_gap(i6, tmp_path):
    """Split every neuron into two halves (u/sqrt2, a/sqrt2): same function, same penalty,
    so the objective equals p*; save/load it and certify the loaded network."""
    X, y, beta, r = i6
    net = r.network
    split = Network(W1=np.vstack([net.W1, net.W1])[::-1] / np.sqrt(2),
                    W2=np.concatenate([net.W2, net.W2])[::-1] / np.sqrt(2))
    assert split.objective(X, y, beta=beta) == pytest.approx(r.objective, rel=1e-8)
    loaded = Network.load(split.save(tmp_path / "split.npz"))
    c = certify(loaded, X, y, beta=beta, bias="none")
    assert c.certified and c.relative_gap <= 1e-5
    assert c.gap == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bias", BIASES)
@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), skip=st.booleans(), output_bias=st.booleans(),
       n=st.integers(5, 7), d=st.integers(1, 2), frac=st.floats(0.05, 0.8))
def test_certificates_valid_and_tight(loss, bias, seed, skip, output_bias, n, d, frac):
    """For every loss and variant: LB <= p* (the exact optimum) for the optimal network,
    a random network and a pattern search; certified at an optimum found with exact
    patterns; never certified for a random network."""
    event(f"skip={skip}, output_bias={output_bias}, d={d}")
    rng = np.random.default_rng(seed)
    X, y = _data(rng, loss, n, d)
    kw = dict(loss=loss, bias=bias, skip=skip, output_bias=output_bias)
    bmax = beta_max(X, y, **kw)
    assume(bmax > 1e-6)
    beta = frac * bmax
    r = _quiet_fit(X, y, beta=beta, patterns="exact", **kw)
    assume(r.status == "optimal")
    p_star = r.objective
    tol = 1e-7 * max(1.0, abs(p_star))
    c = r.certificate
    assert c.lower_bound <= p_star + tol
    assert c.certified, str(c)
    p_zero = zero_network(X, y, **kw).objective(X, y, beta=beta, loss=loss)
    if p_star < p_zero - 1e-6 * max(1.0, p_zero):
        # a nonzero optimum: complementary slackness makes s = beta (THEORY A.7, I6)
        assert c.s == pytest.approx(beta, rel=1e-3)
    constant = output_bias or bias == "free"
    net = _random_network(rng, d, bias=bias, skip=skip, constant=constant)
    for patterns in (r.program.patterns, 4):
        cr = certify(net, X, y, beta=beta, patterns=patterns, seed=0, **kw)
        assert cr.lower_bound <= p_star + tol
        assert cr.gap >= cr.upper_bound - p_star - tol
        assert not cr.certified
        # a sample is proven complete by branch and bound when every coordinate is
        # penalized (no free bias); otherwise it is a search that can only refute
        assert cr.exhaustive == (patterns is r.program.patterns or bias != "free")
        if patterns is not r.program.patterns:
            assert cr.method == ("search" if bias == "free" else "branch_bound")


def test_one_d_free_bias_closed_form():
    """1-D data, free bias (THEORY A.7 step 2): with 1^T lam = 0,
    s = max_j max(|sum lam (x - x_j)_+|, |sum lam (x_j - x)_+|)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(9)
    y = rng.standard_normal(9)
    lam = y - y.mean()  # the zero network with its best constant
    zero = Network(W1=np.zeros((0, 1)), W2=np.zeros(0), c0=y.mean())
    c = certify(zero, x[:, None], y, beta=1e3, bias="free")
    closed = max(max(abs(lam @ np.maximum(x - xj, 0)), abs(lam @ np.maximum(xj - x, 0)))
                 for xj in x)
    assert c.exhaustive and c.n_patterns_checked == 2 * x.size
    assert c.s == pytest.approx(closed, rel=1e-10)
    assert c.s_found == pytest.approx(closed, rel=1e-10)
    assert c.certified  # beta far above s: the zero network is optimal


def test_gated_certificate():
    """Gated ReLU (THEORY B): the dual constraint is ||Xt^T D_i mu|| <= beta over the gates."""
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    r = cn.fit(X, y, beta=0.2, model="gated", patterns="exact", bias="regularized")
    c = r.certificate
    assert c.method == "gated" and c.certified
    assert c.s == pytest.approx(0.2, rel=1e-5)
    # by hand: lam = y - yhat (at the predictions the bound came from), s = max_i
    # ||Xt^T D_i lam|| over the program's gates
    assert c.dual_point in ("network", "convex solution")
    yhat = r.network.predict(X) if c.dual_point == "network" else r.program.predict(r.solution)
    lam = y - yhat
    Xt = np.hstack([X, np.ones((8, 1))])
    s = max(np.linalg.norm(Xt.T @ (r.program.D[:, i] * lam)) for i in range(r.program.n_patterns))
    assert s == pytest.approx(c.s, rel=1e-10)
    # the gated dual bounds the gated optimum over these gates (weak duality)
    assert c.lower_bound <= r.objective + 1e-8


def test_project_dual_matches_cvxpy():
    """Projection onto {F^T lam = 0} and the logistic/hinge box y*lam in [0, 1]."""
    rng = np.random.default_rng(2)
    n = 12
    X = rng.standard_normal((n, 2))
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    lam0 = y * rng.uniform(-0.5, 1.5, n)
    F = np.hstack([X, np.ones((n, 1))])
    lo, hi = np.minimum(0, y), np.maximum(0, y)
    lam = project_dual(lam0, F, lo, hi)
    v = cp.Variable(n)
    cp.Problem(cp.Minimize(cp.sum_squares(v - lam0)), [F.T @ v == 0, v >= lo, v <= hi]).solve(
        solver="CLARABEL")
    np.testing.assert_allclose(lam, v.value, atol=1e-6)
    assert np.all(lam >= lo) and np.all(lam <= hi)
    np.testing.assert_allclose(F.T @ lam, 0, atol=1e-12)
    # without bounds: the orthogonal projection
    lam_sq = project_dual(lam0, F, np.full(n, -np.inf), np.full(n, np.inf))
    Q, _ = np.linalg.qr(F)
    np.testing.assert_allclose(lam_sq, lam0 - Q @ (Q.T @ lam0), atol=1e-12)


def test_nonstationary_free_terms_bound_stays_valid(i6):
    """A network with a badly chosen skip term and output constant: lam violates
    X^T lam = 0 and 1^T lam = 0; the projected point still gives LB <= p*."""
    X, y, beta, _ = i6
    r = cn.fit(X, y, beta=beta, patterns="exact", skip=True, output_bias=True, bias="none")
    bad = replace(r.network, skip=r.network.skip + 1.0, c0=r.network.c0 - 2.0)
    c = certify(bad, X, y, beta=beta, skip=True, output_bias=True, bias="none")
    assert c.free_residual > 1e-3 and c.refuted and not c.certified
    assert c.lower_bound <= r.objective + 1e-9


def test_trained_by_gradient_descent(i6):
    """A network trained by torch (float64 L-BFGS on the non-convex objective): LB <= p*,
    and the gap bounds its suboptimality."""
    import torch

    X, y, beta, r = i6
    torch.manual_seed(0)
    W1 = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    W2 = torch.randn(8, dtype=torch.float64, requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    opt = torch.optim.LBFGS([W1, W2], max_iter=2000, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        f = torch.relu(Xt @ W1.T) @ W2
        obj = 0.5 * torch.sum((f - yt) ** 2) + 0.5 * beta * (W1.pow(2).sum() + W2.pow(2).sum())
        obj.backward()
        return obj

    opt.step(closure)
    net = Network(W1=W1.detach().numpy(), W2=W2.detach().numpy())
    c = certify(net, X, y, beta=beta, bias="none")
    assert c.upper_bound >= r.objective - 1e-9
    assert c.lower_bound <= r.objective + 1e-9
    assert c.gap >= c.upper_bound - r.objective - 1e-9
    if c.upper_bound - r.objective > 1e-4 * r.objective:
        assert not c.certified


def test_bad_input(i6):
    X, y, beta, r = i6
    net = r.network
    with pytest.raises(ValueError, match="bias must be one of"):
        certify(net, X, y, beta=beta, bias="maybe")
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        certify(net, X, y, beta=-1.0, bias="none")
    with pytest.raises(ValueError, match="skip=True"):
        certify(replace(net, skip=np.ones(3)), X, y, beta=beta, bias="none")
    with pytest.raises(ValueError, match="output_bias=True"):
        certify(replace(net, c0=1.0), X, y, beta=beta, bias="none")
    with pytest.raises(ValueError, match="nonzero hidden biases"):
        certify(replace(net, b1=np.ones(net.width)), X, y, beta=beta, bias="none")
    with pytest.raises(ValueError, match="features"):
        certify(net, X[:, :2], y, beta=beta, bias="none")
    with pytest.raises(ValueError, match="outputs"):
        certify(Network(W1=np.ones((2, 3)), W2=np.ones((2, 2))), X, y, beta=beta, bias="none")
    with pytest.raises(ValueError, match="labels"):
        certify(net, X, y, beta=beta, loss="logistic", bias="none")


def test_certify_fit_reuses_the_fit(i6):
    X, y, beta, r = i6
    c = certify_fit(r)
    assert c.certified and c.n_patterns_checked == r.program.n_patterns
    assert c.time < 10 * (r.timings["solve"] + r.timings["setup"]) + 0.05


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), bias=st.booleans())
def test_global_bound_dominates_exhaustive_s(seed, bias):
    """The closed-form bound used by the pattern search is >= the exhaustive dual norm."""
    from convexnn.core.patterns import add_bias_column
    from convexnn.duality.cones import pattern_supports
    from convexnn.duality.dual_norm import global_bound as _global_bound

    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(4, 9)), int(rng.integers(1, 3))
    X = rng.standard_normal((n, d))
    Xt = add_bias_column(X) if bias else X
    lam = rng.standard_normal(n) * rng.uniform(0, 3, n)
    pen = np.ones(Xt.shape[1], bool)
    if bias:
        lam -= lam.mean()
        pen[-1] = False
    D = cn.enumerate_patterns(Xt).D
    s = pattern_supports(Xt, lam, D, free=None if not bias else ~pen).max_upper
    assert _global_bound(Xt, lam, pen) >= s * (1 - 1e-12)


def test_refinement_tightens_and_stays_valid():
    """Logistic loss at small beta: the gradient's dual point is only as accurate as the
    primal predictions; the cutting-plane dual solve gives a bound at least as good, still
    below the optimum, and certifies it."""
    rng = np.random.default_rng(0)
    X, y = _data(rng, "logistic", 5, 1)
    beta = 0.125 * beta_max(X, y, loss="logistic", bias="none")
    r = _quiet_fit(X, y, beta=beta, loss="logistic", patterns="exact")
    plain = certify(r.network, X, y, beta=beta, loss="logistic", refine=False, bias="none")
    refined = certify(r.network, X, y, beta=beta, loss="logistic", bias="none")
    assert refined.lower_bound >= plain.lower_bound - 1e-12
    assert refined.lower_bound <= r.objective + 1e-8
    assert refined.certified and refined.relative_gap <= 1e-6
    assert plain.dual_point == "network"


def test_gated_search_over_sampled_gates_is_seeded():
    """certify(..., patterns=<int>, seed=s) on a gated network is reproducible."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((12, 3)), rng.standard_normal(12)
    r = cn.fit(X, y, beta=0.3, model="gated", patterns=10, seed=0, certify=False, bias="none")
    a = certify(r.network, X, y, beta=0.3, patterns=40, seed=5, bias="none")
    b = certify(r.network, X, y, beta=0.3, patterns=40, seed=5, bias="none")
    assert a.s == b.s and a.lower_bound == b.lower_bound
