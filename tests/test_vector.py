"""Vector output and cross-entropy: against independent truth (cvxpy formulations written
here, closed forms, brute force, Fenchel-Young, gradient runs as upper bounds)."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import check_grad, minimize

import convexnn as cn
from convexnn.core.losses import get_loss
from convexnn.neurons.pricing import ascent_dual_norm, exact_dual_norm, values_of
from convexnn.theory.closed_forms import whitened_one_hot


# ---- cross-entropy loss ---------------------------------------------------------------------
def _onehot(rng, n, c):
    return np.eye(c)[rng.integers(0, c, n)]


def test_cross_entropy_gradient_conjugate_cvxpy(rng):
    loss = get_loss("cross_entropy")
    Y = _onehot(rng, 5, 3)
    Z = rng.standard_normal((5, 3))
    err = check_grad(lambda z: loss.value(z.reshape(5, 3), Y),
                     lambda z: loss.gradient(z.reshape(5, 3), Y).ravel(), Z.ravel())
    assert err < 1e-5
    # Fenchel-Young equality at the gradient
    G = loss.gradient(Z, Y)
    assert loss.value(Z, Y) + loss.conjugate(G, Y) == pytest.approx(np.sum(Z * G), abs=1e-9)
    # conjugate = sup_z <M, z> - l(z) by numerical maximization (a point inside the domain)
    M = 0.6 * G
    res = minimize(lambda z: -(np.sum(M * z.reshape(5, 3)) - loss.value(z.reshape(5, 3), Y)),
                   np.zeros(15), method="BFGS", options={"gtol": 1e-10})
    assert loss.conjugate(M, Y) == pytest.approx(-res.fun, abs=1e-6)
    assert loss.conjugate(M + 1.0, Y) == np.inf  # rows no longer sum to 1
    Zv = cp.Variable((5, 3))
    Zv.value = Z
    assert float(loss.cvxpy(Zv, Y).value) == pytest.approx(loss.value(Z, Y), rel=1e-10)


# ---- exact pricing ----------------------------------------------------------------------------
@pytest.mark.parametrize("d, bias", [(1, True), (2, False), (2, True)])
def test_exact_dual_norm_against_dense_sampling(rng, d, bias):
    n = 8
    X = rng.standard_normal((n, d))
    Xt = np.hstack([X, np.ones((n, 1))]) if bias else X
    Lam = rng.standard_normal((n, 3))
    pen = np.ones(Xt.shape[1], bool)
    pr = exact_dual_norm(Xt, Lam, pen)
    U = rng.standard_normal((300_000, Xt.shape[1]))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    brute = values_of(Xt, Lam, U).max()
    assert pr.exhaustive
    assert brute <= pr.s + 1e-9  # every sampled direction is below the exact maximum
    assert pr.s <= brute * (1 + 2e-3)  # and the maximum is (nearly) attained by a sample
    assert ascent_dual_norm(Xt, Lam, pen, seed=0).found <= pr.s + 1e-9


def test_exact_dual_norm_free_bias_1d(rng):
    """Free bias: max over w = +-1 and every b; the knots b = -w x_j are the candidates."""
    x = rng.standard_normal(7)
    Xt = np.stack([x, np.ones(7)], axis=1)
    Lam = rng.standard_normal((7, 2))
    Lam -= Lam.mean(0)  # the free constant's constraint 1^T Lam = 0
    pen = np.array([True, False])
    pr = exact_dual_norm(Xt, Lam, pen)
    b = np.linspace(-5, 5, 200_001)
    U = np.concatenate([np.stack([np.full_like(b, w), b], axis=1) for w in (1.0, -1.0)])
    assert pr.s == pytest.approx(values_of(Xt, Lam, U).max(), rel=1e-6)


# ---- done-when: 1-D data with bias, three one-hot outputs vs an independent DNN relaxation --------
def _dnn_relaxation(Xt, D, Y, beta):
    """THEORY C DNN relaxation, written here independently of convexnn.vector.relaxations."""
    n, k = Xt.shape
    Ss = [cp.Variable((k, k), PSD=True) for _ in range(D.shape[1])]
    cons, M = [], 0
    for i, S in enumerate(Ss):
        s = 2.0 * D[:, i] - 1.0
        cons.append((s[:, None] * Xt) @ S @ (s[:, None] * Xt).T >= 0)
        Dx = D[:, i, None] * Xt
        M = M + Dx @ S @ Dx.T
    prob = cp.Problem(cp.Minimize(0.5 * cp.matrix_frac(Y, np.eye(n) + 2 * M)
                                  + beta**2 * sum(cp.trace(S) for S in Ss)), cons)
    prob.solve(solver="CLARABEL")
    return prob.value


def test_1d_bias_three_outputs_matches_dnn_relaxation(rng):
    n = 10
    x = np.sort(rng.uniform(-2, 2, n))
    labels = rng.permutation(np.arange(n) % 3)
    Y = np.eye(3)[labels]
    beta = 0.5
    res = cn.fit(x[:, None], Y, beta=beta, bias="regularized")
    # every pattern of 1-D data with a bias: thresholds in both directions
    xs = np.concatenate([[-np.inf], (x[1:] + x[:-1]) / 2, [np.inf]])
    D = np.concatenate([(x[:, None] >= xs[None, :-1]), (x[:, None] <= xs[None, 1:])], axis=1)
    D = np.unique(D[:, D.any(0)], axis=1)
    ref = _dnn_relaxation(np.stack([x, np.ones(n)], axis=1), D, Y, beta)
    assert res.recovered_objective == pytest.approx(ref, rel=1e-5)
    assert res.certificate.certified and res.certificate.exhaustive
    assert res.certificate.lower_bound <= ref + 1e-6 * ref
    W2 = res.network.W2
    assert W2.shape[1] == 3 and np.linalg.matrix_rank(W2) <= 3
    assert res.network.width <= n * 3


# ---- done-when: whitened data + one-hot labels: the soft-thresholded SVD ----------------------
@pytest.mark.parametrize("model", ["relu", "gated"])
def test_whitened_one_hot_closed_form(rng, model):
    n, d = 6, 8
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    X = Q.T  # X X^T = I
    Y = np.eye(3)[[0, 0, 0, 1, 1, 2]]
    beta = 1.2  # class sizes 3, 2, 1: two classes alive, one thresholded to zero
    cf = whitened_one_hot(X, Y, beta=beta)
    res = cn.fit(X, Y, beta=beta, model=model, patterns="exact", bias="none")
    if model == "relu":
        assert res.objective == pytest.approx(cf.objective, rel=1e-5)
        assert res.certificate.certified
        np.testing.assert_allclose(res.network.predict(X), cf.prediction, atol=1e-4)
    else:  # gated networks include the ReLU ones: never above the ReLU optimum
        assert res.objective <= cf.objective * (1 + 1e-6)


# ---- gated program: our FISTA against Clarabel on the same program -----------------------------
@pytest.mark.parametrize("opts", [dict(bias="regularized"), dict(skip=True, output_bias=True)])
def test_gated_fista_matches_clarabel(rng, opts):
    X = rng.standard_normal((12, 2))
    Y = rng.standard_normal((12, 3))
    a = cn.fit(X, Y, beta=1.0, model="gated", patterns=15, seed=1, solver="fista", **opts)
    b = cn.fit(X, Y, beta=1.0, model="gated", patterns=15, seed=1, solver="clarabel", **opts)
    assert a.status == "optimal" and a.solution.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.recovered_objective == pytest.approx(a.objective, rel=1e-7)
    assert a.certificate.certified  # over its gates (gated optimality)


# ---- options, each checked by gradient runs as upper bounds ------------------------------------
@pytest.mark.parametrize("opts", [pytest.param(dict(bias="free"), marks=pytest.mark.slow),
                                  dict(skip=True), dict(output_bias=True)])
def test_relu_options_certified_and_below_gradient_runs(rng, opts):
    from convexnn import training as tb

    x = np.sort(rng.uniform(-2, 2, 9))
    X = x[:, None]
    Y = np.stack([np.sin(2 * x), np.cos(x)], axis=1)
    res = cn.fit(X, Y, beta=0.3, **opts)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-7)
    assert res.certificate.certified, res.certificate.summary_line()
    bias = opts.get("bias", "none")
    module = tb.random_module(1, 20, bias=bias, n_outputs=2, seed=0,
                              skip=opts.get("skip", False),
                              output_bias=opts.get("output_bias", False))
    run = tb.train(module, X, Y, beta=0.3, optimizer="lbfgs", epochs=20, quiet=True, seed=0)
    assert run.objective >= res.certificate.lower_bound - 1e-9
    assert res.objective <= run.objective + 1e-6


def test_cross_entropy_labels_and_certificate_of_a_trained_network(rng):
    from convexnn import training as tb

    x = np.sort(rng.uniform(-2, 2, 12))
    labels = np.array(["a", "b", "c"])[np.digitize(x, [-0.7, 0.6])]
    res = cn.fit(x[:, None], labels, beta=0.5, loss="cross_entropy", bias="regularized")
    assert list(res.classes_) == ["a", "b", "c"]
    assert res.certificate.certified
    assert np.mean(res.predict_labels(x[:, None]) == labels) == 1.0
    module = tb.random_module(1, 10, bias="regularized", n_outputs=3, seed=0)
    run = tb.train(module, x[:, None], labels, beta=0.5, loss="cross_entropy",
                   optimizer="lbfgs", epochs=50, quiet=True, seed=0)
    cert = cn.certify(run.network, x[:, None], labels, beta=0.5, loss="cross_entropy",
                      bias="regularized")
    # weak duality, both ways: the trained net's bound is below the optimum, which is below it
    assert cert.lower_bound <= res.objective + 1e-9
    assert res.certificate.lower_bound <= run.objective + 1e-9
    assert cert.exhaustive


# ---- bad input ----------------------------------------------------------------------------------
def test_bad_input_clear_errors(rng):
    X = rng.standard_normal((6, 2))
    with pytest.raises(ValueError, match="single class"):
        cn.fit(X, np.zeros(6, int), beta=1.0, loss="cross_entropy", bias="none")
    with pytest.raises(ValueError, match="more than n"):
        cn.fit(X[:2], rng.standard_normal((2, 3)), beta=1.0, bias="none")
    Y = rng.standard_normal((6, 2))
    Y[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cn.fit(X, Y, beta=1.0, bias="none")
    with pytest.raises(ValueError, match="NaN"):
        cn.fit(X, np.array([0.0, 1.0, np.nan, 0.0, 1.0, 1.0]), beta=1.0, loss="cross_entropy", bias="none")
    with pytest.raises(TypeError, match="comparable"):
        cn.fit(X, np.array([1, "a", 2, "b", 1, 2], dtype=object), beta=1.0, loss="cross_entropy", bias="none")
    with pytest.raises(ValueError, match="loss"):
        cn.fit(X, Y * 0 + 1, beta=1.0, loss="hinge", bias="none")
    with pytest.raises(ValueError, match="one-hot"):
        cn.fit(X, rng.standard_normal((6, 2)), beta=1.0, loss="cross_entropy", bias="none")


def test_theory_checks_on_fit_and_trained_network(rng):
    from convexnn import training as tb
    from convexnn.theory.vector import active_neuron_check, output_rank_check

    x = np.sort(rng.uniform(-2, 2, 8))
    Y = np.stack([np.sin(x), x**2, np.cos(2 * x)], axis=1)
    res = cn.fit(x[:, None], Y, beta=0.2, bias="regularized")
    assert output_rank_check(res.network, x[:, None]).holds
    assert active_neuron_check(res.network, 8).holds
    module = tb.random_module(1, 40, bias="regularized", n_outputs=3, seed=0)
    run = tb.train(module, x[:, None], Y, beta=0.2, optimizer="lbfgs", epochs=10, quiet=True)
    chk = output_rank_check(run.network, x[:, None])
    assert chk.holds and chk.details["rank_W2"] == 3
    wide = active_neuron_check(run.network, 2)  # 40 live neurons > 2 * 3: the check says so
    assert not wide.holds and wide.measured == 40


def test_same_input_same_answer_without_a_seed(rng):
    """seed=None means seed 0: two default fits of the same data agree to the last digit
    (neuron generation draws random starts)."""
    x = np.sort(rng.uniform(-2, 2, 12))
    labels = np.array(["a", "b", "c"])[np.digitize(x, [-0.7, 0.6])]
    a, b = (cn.fit(x[:, None], labels, beta=0.3, loss="cross_entropy") for _ in range(2))
    assert a.recovered_objective == b.recovered_objective
    assert a.seed == b.seed == 0
