"""Two-layer ReLU CNNs (THEORY D): patches, the network and its torch twin, the pooled
working-set solver, the convex program against an independent CVXPY formulation over
independently enumerated cells, certificates, and the linear-CNN closed forms.

Ground truth here never goes through the package's own program code: patches by hand or
torch's ``unfold``/``conv2d``, cells by perturbing the arrangement's vertices, the convex
program written directly in cvxpy, and gradient runs as upper bounds."""

import itertools

import cvxpy as cp
import numpy as np
import pytest
import torch

import convexnn as cn
from convexnn.cnn.certificate import certify_conv
from convexnn.cnn.program import ConvProgram
from convexnn.core.patterns import sample_patterns
from convexnn.exceptions import ConvexNNTypeError, ConvexNNValueError
from convexnn.networks.conv import ConvNetwork
from convexnn.solvers.registry import SOLVERS
from convexnn.theory.linear_cnn import linear_cnn_check, linear_pooled_cnn, pooled_features
from convexnn.training.conv_train import train_conv

BETA = 0.05


def signals(seed=0, n=6, L=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, L)), rng.standard_normal(n)


def stacked_by_hand(X, p, *, bias, mean):
    """Rows k n + j: patch k of signal j (1-D, stride 1), a bias 1, times 1/K for mean."""
    n, L = X.shape
    K = L - p + 1
    rows = [np.hstack([X[:, k:k + p]] + ([np.ones((n, 1))] if bias else [])) for k in range(K)]
    return np.vstack(rows) / (K if mean else 1.0), K


def cells(Z):
    """Every pattern 1[Zu >= 0] of an open cell of a rank-2 or rank-3 central arrangement
    in general position: each cell is a pointed cone, so it touches a vertex (a line where
    two hyperplanes meet; rank 2: a hyperplane itself), and small perturbations around
    every vertex visit every cell next to it."""
    r = np.linalg.matrix_rank(Z)
    eps, found = 1e-6, {}
    if r == 2:
        for z in Z:
            v = np.array([-z[1], z[0]]) / np.linalg.norm(z)
            for s, t in itertools.product((1, -1), repeat=2):
                u = s * v + t * eps * z / np.linalg.norm(z)
                found[(Z @ u >= 0).tobytes()] = Z @ u >= 0
    else:
        assert r == 3
        for a, b in itertools.combinations(range(len(Z)), 2):
            v = np.cross(Z[a], Z[b])
            if np.linalg.norm(v) < 1e-12:
                continue
            v /= np.linalg.norm(v)
            W = np.linalg.pinv(np.vstack([Z[a], Z[b]]))  # z_a . W[:, 0] = 1, z_b . W[:, 0] = 0
            for sv, s1, s2 in itertools.product((1, -1), repeat=3):
                u = sv * v + eps * (s1 * W[:, 0] + s2 * W[:, 1])
                found[(Z @ u >= 0).tobytes()] = Z @ u >= 0
    D = np.array(list(found.values())).T
    return D[:, D.any(axis=0)]


def cvxpy_cnn_optimum(X, y, p, *, beta, bias, mean, output_bias=False, loss="squared"):
    """The CNN program written directly: per patch k, rows Z_k of the stacked matrix,
    prediction sum_k D_i^(k) Z_k (v_i - w_i), cones (2 D_i^(k) - 1) Z_k v_i >= 0."""
    Z, K = stacked_by_hand(X, p, bias=bias, mean=mean)
    n = X.shape[0]
    D = cells(Z).astype(float)
    V, W = cp.Variable((Z.shape[1], D.shape[1])), cp.Variable((Z.shape[1], D.shape[1]))
    pred, cons = 0, []
    for k in range(K):
        Zk, Dk = Z[k * n:(k + 1) * n], D[k * n:(k + 1) * n]
        pred = pred + cp.sum(cp.multiply(Dk, Zk @ (V - W)), axis=1)
        cons += [cp.multiply(2 * Dk - 1, Zk @ V) >= 0, cp.multiply(2 * Dk - 1, Zk @ W) >= 0]
    if output_bias:
        pred = pred + cp.Variable()
    fit = 0.5 * cp.sum_squares(pred - y) if loss == "squared" else cp.sum(cp.logistic(-cp.multiply(y, pred)))
    reg = cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
    prob = cp.Problem(cp.Minimize(fit + beta * reg), cons)
    prob.solve(solver="CLARABEL")
    return prob.value, D.shape[1]


# ---- patches, networks, torch twin -----------------------------------------------------
def test_patches_equal_torch_unfold_and_the_stacked_rows_by_hand():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 2, 7, 6))
    conv = cn.Conv(patch=(3, 2), stride=(2, 1))
    U = torch.nn.functional.unfold(torch.tensor(X), (3, 2), stride=(2, 1)).numpy()
    np.testing.assert_array_equal(conv.patches(X), U.transpose(0, 2, 1))
    S, _ = signals(2, n=4, L=6)
    Z, K = stacked_by_hand(S, 3, bias=True, mean=True)
    np.testing.assert_allclose(cn.Conv(patch=3).stacked(S, bias=True), Z, rtol=0, atol=1e-15)
    assert cn.Conv(patch=3).n_patches(cn.Conv.images(S).shape[1:]) == K == 4


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_conv_network_is_torch_conv2d_relu_pool_linear(tmp_path, pooling):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 2, 7, 6)), rng.standard_normal(6)
    conv = cn.Conv(patch=(3, 2), stride=(2, 1), pooling=pooling)
    F, b, a = rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4), rng.standard_normal(4)
    net = ConvNetwork(filters=F, W2=a, conv=conv, b1=b, c0=0.3, regularize_bias=True)
    H = torch.relu(torch.nn.functional.conv2d(torch.tensor(X), torch.tensor(F), torch.tensor(b),
                                              stride=(2, 1)))
    H = H.mean((2, 3)) if pooling == "mean" else H.sum((2, 3))
    expect = (H.numpy() @ a + 0.3)
    np.testing.assert_allclose(net.predict(X), expect, rtol=1e-12, atol=1e-12)
    penalty = 0.5 * (np.sum(F**2) + np.sum(a**2) + np.sum(b**2))
    assert net.objective(X, y, beta=0.7) == pytest.approx(
        0.5 * np.sum((expect - y) ** 2) + 0.7 * penalty, rel=1e-12)
    module = net.to_torch()
    assert isinstance(module.conv, torch.nn.Conv2d)
    from convexnn.training.modules import objective

    f_torch = float(objective(module, torch.tensor(X), torch.tensor(y), beta=0.7).detach())
    assert f_torch == pytest.approx(net.objective(X, y, beta=0.7), rel=1e-12)
    for other in (ConvNetwork.from_torch(module), ConvNetwork.load(net.save(tmp_path / "n"))):
        np.testing.assert_allclose(other.predict(X), expect, rtol=1e-12, atol=1e-12)


# ---- the pooled block operators of the working-set solver --------------------------------
def small_program(seed=0, n=5, L=5, bias="regularized", output_bias=False, patterns=12):
    X, y = signals(seed, n=n, L=L)
    conv = cn.Conv(patch=2)
    imgs = cn.Conv.images(X)
    Z = conv.stacked(imgs, bias=True)
    ps = sample_patterns(Z, patterns, seed=seed)
    return ConvProgram(imgs, y, beta=BETA, loss="squared", conv=conv, bias=bias,
                       output_bias=output_bias, patterns=ps)


def test_pooled_blocks_products_equal_the_dense_operator():
    from convexnn.solvers.kkt import _pooled_gram_sum

    prog = small_program()
    blocks = prog.block_set("cpu")
    n, K = prog.n_samples, prog.K
    Z, D = prog.Xt, prog.D
    pool = np.hstack([np.eye(n)] * K)
    M = [s * pool @ (D[:, i, None] * Z) for i, s in zip(blocks.pat.numpy(), blocks.sign.numpy())]
    rng = np.random.default_rng(0)
    V, w = rng.standard_normal((blocks.m, Z.shape[1])), rng.standard_normal(n)
    np.testing.assert_allclose(blocks.predict(torch.tensor(V)).numpy(),
                               sum(Mb @ v for Mb, v in zip(M, V)), atol=1e-12)
    np.testing.assert_allclose(blocks.adjoint(torch.tensor(w)).numpy(),
                               np.array([Mb.T @ w for Mb in M]), atol=1e-12)
    # the Schur complement's gram over groups: sum_g (h^1/2 P D_g Z T_g^T)(...)^T
    gpat = blocks.groups[0].numpy()
    T = np.triu(rng.standard_normal((len(gpat), Z.shape[1], Z.shape[1])))
    hs = rng.random(n) + 0.5
    dense = sum((hs[:, None] * pool @ (D[:, g, None] * Z) @ Tg.T) @
                (hs[:, None] * pool @ (D[:, g, None] * Z) @ Tg.T).T for g, Tg in zip(gpat, T))
    got = _pooled_gram_sum(blocks, torch.tensor(T), torch.tensor(hs)).numpy()
    np.testing.assert_allclose(got, dense, atol=1e-10)


@pytest.mark.parametrize("patterns", [2, 12])  # 2: the variable-space Newton system
@pytest.mark.parametrize("output_bias", [False, True])
def test_working_set_with_pooling_equals_clarabel(patterns, output_bias):
    a = small_program(output_bias=output_bias, patterns=patterns)
    b = small_program(output_bias=output_bias, patterns=patterns)
    sa, sb = SOLVERS["working_set"](a, tol=1e-8), SOLVERS["clarabel"](b, tol=1e-9)
    assert sa.status == "optimal"
    assert a.objective(sa) == pytest.approx(b.objective(sb), rel=1e-6)
    assert a.constraint_violation(sa) < 1e-8


# ---- the convex program against independent truth ----------------------------------------
@pytest.mark.parametrize("pooling,bias,output_bias,loss", [
    ("mean", "regularized", False, "squared"),
    ("sum", "none", True, "squared"),
    pytest.param("mean", "regularized", True, "logistic", marks=pytest.mark.slow),
])
def test_exact_fit_equals_independent_cvxpy_and_is_certified(pooling, bias, output_bias, loss):
    X, y = signals(4)
    y = np.sign(y) if loss == "logistic" else y
    p_star, P = cvxpy_cnn_optimum(X, y, 2, beta=BETA, bias=bias != "none",
                                  mean=pooling == "mean", output_bias=output_bias, loss=loss)
    res = cn.fit(X, y, beta=BETA, conv=cn.Conv(patch=2, pooling=pooling), bias=bias,
                 output_bias=output_bias, loss=loss, patterns="exact")
    assert res.exhaustive and res.program.n_patterns == P  # the same cells
    assert res.status == "optimal"
    assert res.objective == pytest.approx(p_star, rel=1e-6)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-6)
    cert = res.certificate
    assert cert.certified and cert.method == "exhaustive"
    assert cert.lower_bound <= p_star * (1 + 1e-7)
    # gradient runs of the same CNN and penalty end above the optimum
    for seed in range(3):
        run = train_conv(X, y, conv=cn.Conv(patch=2, pooling=pooling), width=6, beta=BETA,
                         loss=loss, bias=bias, output_bias=output_bias, seed=seed, max_iter=500)
        assert run.objective >= p_star * (1 - 1e-7)


def test_generation_is_proven_by_branch_and_bound_and_equals_the_exact_optimum():
    X, y = signals(5, n=8, L=5)
    exact = cn.fit(X, y, beta=BETA, conv=cn.Conv(patch=2), patterns="exact", certify=False)
    gen = cn.fit(X, y, beta=BETA, conv=cn.Conv(patch=2), patterns="generate", seed=0)
    assert gen.generation.stopped == "proven"
    assert gen.objective == pytest.approx(exact.objective, rel=1e-6)
    assert gen.certificate.certified and gen.certificate.method == "branch_bound"
    assert gen.program.n_patterns < exact.program.n_patterns


def test_certificate_of_a_suboptimal_network_is_valid_and_not_certified():
    """A short L-BFGS run: the bound is below the independent optimum and the gap is real
    (cn.certify dispatches to the CNN kind); the fit's certificate (its convex solution's
    dual point) certifies, and the recovered network's own dual point alone gives a valid
    bound within the square root of the solver's accuracy."""
    X, y = signals(6)
    p_star, _ = cvxpy_cnn_optimum(X, y, 2, beta=BETA, bias=True, mean=True)
    run = train_conv(X, y, conv=cn.Conv(patch=2), width=2, beta=BETA, seed=1, max_iter=3)
    cert = cn.certify(run.network, X, y, beta=BETA)
    assert cert.method == "exhaustive" and not cert.certified and cert.refuted
    assert cert.lower_bound <= p_star * (1 + 1e-7) < run.objective
    fit = cn.fit(X, y, beta=BETA, conv=cn.Conv(patch=2))
    assert fit.certificate.certified
    again = certify_conv(fit.network, X, y, beta=BETA)
    assert again.lower_bound <= p_star * (1 + 1e-7) and again.relative_gap < 1e-3
    assert again.exhaustive and not again.refuted


@pytest.mark.slow
def test_images_fit_is_below_lbfgs_and_its_bound_below_everything():
    """2-D images (rank of Z > 6: no proof): the generated fit is at most every L-BFGS run,
    the recovered CNN attains it, and the lower bound is below both."""
    rng = np.random.default_rng(7)
    X, y = rng.random((24, 5, 5)), np.sign(rng.standard_normal(24))
    conv = cn.Conv(patch=3)
    res = cn.fit(X, y, beta=0.5, conv=conv, seed=0, max_rounds=6)
    runs = [train_conv(X, y, conv=conv, width=8, beta=0.5, seed=s, max_iter=400).objective
            for s in range(3)]
    assert res.objective <= min(runs) * (1 + 1e-6)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.certificate.lower_bound <= res.objective
    assert not res.certificate.certified


# ---- the spec ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,error", [
    (dict(conv=(3, 3)), ConvexNNTypeError),
    (dict(conv=cn.Conv(patch=9)), ConvexNNValueError),
    (dict(conv=cn.Conv(patch=2), skip=True), ConvexNNValueError),
    (dict(conv=cn.Conv(patch=2), bias="free"), ConvexNNValueError),
    (dict(conv=cn.Conv(patch=2), model="gated"), ConvexNNValueError),
    (dict(conv=cn.Conv(patch=2), depth=3), ConvexNNValueError),
])
def test_conv_specs_are_validated(kwargs, error):
    X, y = signals()
    with pytest.raises(error):
        cn.fit(X, y, beta=BETA, **kwargs)


def test_conv_refuses_bad_layers_and_bad_vector_targets():
    with pytest.raises(ConvexNNValueError):
        cn.Conv(patch=0)
    with pytest.raises(ValueError):
        cn.Conv(patch=2, pooling="max")
    X, _ = signals()
    with pytest.raises(ConvexNNValueError, match="cross_entropy"):
        cn.fit(X, np.ones((6, 2)), beta=BETA, conv=cn.Conv(patch=2), loss="logistic")
    with pytest.raises(ConvexNNTypeError, match="unknown keyword argument.*'max_add'"):
        cn.fit(X, np.arange(6) % 3, beta=BETA, conv=cn.Conv(patch=2), loss="cross_entropy",
               max_add=64)
    scalar = train_conv(X, np.ones(6), conv=cn.Conv(patch=2), width=2, beta=BETA, max_iter=2)
    with pytest.raises(ValueError, match="outputs"):
        cn.fit(X, np.arange(6) % 3, beta=BETA, conv=cn.Conv(patch=2), loss="cross_entropy",
               init=scalar.network)


# ---- linear CNNs (THEORY D closed forms) -------------------------------------------------
def test_linear_pooled_closed_form_equals_cvxpy_and_gradient_runs():
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((12, 5, 5)), rng.standard_normal(12)
    conv = cn.Conv(patch=3, pooling="mean")
    S = pooled_features(X, conv)  # independent: the mean of the patches by hand
    by_hand = np.mean([X[:, i:i + 3, j:j + 3].reshape(12, 9) for i in range(3) for j in range(3)], 0)
    np.testing.assert_allclose(S, by_hand, atol=1e-14)
    z = cp.Variable(9)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(S @ z - y) + 0.3 * cp.norm(z, 2)))
    prob.solve(solver="CLARABEL")
    assert linear_pooled_cnn(X, y, conv=conv, beta=0.3).objective == pytest.approx(prob.value, rel=1e-7)
    check = linear_cnn_check(X, y, conv=conv, beta=0.3, pooled=True, restarts=3)
    assert check.holds, check


@pytest.mark.parametrize("loss", ["squared", pytest.param("logistic", marks=pytest.mark.slow)])
def test_linear_per_patch_nuclear_norm_program_equals_gradient_runs(loss):
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((10, 4, 4)), rng.standard_normal(10)
    y = np.sign(y) if loss == "logistic" else y
    check = linear_cnn_check(X, y, conv=cn.Conv(patch=3), beta=0.4, pooled=False, restarts=3,
                             loss=loss)
    assert check.holds, check
    assert np.all(check.details["runs"] >= check.predicted * (1 - 1e-6))


def test_large_beta_gives_the_zero_linear_cnn():
    rng = np.random.default_rng(10)
    X, y = rng.standard_normal((8, 4, 4)), rng.standard_normal(8)
    conv = cn.Conv(patch=2)
    beta = 1.01 * np.linalg.norm(pooled_features(X, conv).T @ y)
    opt = linear_pooled_cnn(X, y, conv=conv, beta=beta)
    assert np.all(opt.weights == 0) and opt.objective == pytest.approx(0.5 * y @ y)


# ---- the done-when on digits (slow) -------------------------------------------------------
@pytest.mark.slow
def test_digits_fit_beats_ten_lbfgs_runs_and_bounds_are_valid():
    from sklearn.datasets import load_digits

    from convexnn.training.compare_conv import compare_conv

    d = load_digits()
    mask = (d.target == 3) | (d.target == 8)
    X, y = d.images[mask][:300] / 16.0, np.where(d.target[mask][:300] == 3, 1.0, -1.0)
    cmp = compare_conv(X, y, beta=1.0, conv=cn.Conv(patch=3, pooling="mean"), seeds=10, seed=0)
    fit = cmp.optimum
    assert fit.objective <= cmp.best.objective
    assert fit.recovered_objective == pytest.approx(fit.objective, rel=1e-6)
    assert fit.network.objective(X, y, beta=1.0) == pytest.approx(fit.objective, rel=1e-6)
    lb = fit.certificate.lower_bound
    assert lb <= fit.objective and all(lb <= r.objective for r in cmp.runs)


@pytest.mark.slow
def test_exact_1d_example_prints_runs_above_the_certified_optimum(tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "cnn_exact_1d.py"
    monkeypatch.setattr(sys, "argv", [script.name, "--out", str(tmp_path), "--n", "6",
                                      "--seeds", "2"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "CERTIFIED globally optimal" in out
    widths = [line for line in out.splitlines() if line.strip().startswith("width")]
    assert widths and all(line.endswith("all >= p*: True") for line in widths)
    counts = [line.split() for line in out.splitlines() if "Cover's bound" in line]
    assert counts and all(int(c[3]) <= int(c[-1].rstrip(")")) for c in counts)
    assert (tmp_path / "cnn_exact_1d.png").stat().st_size > 10_000


# ---- vector output (THEORY C on the stacked patches) -------------------------------------
def test_vector_cnn_with_a_zero_column_equals_the_independent_scalar_optimum():
    """Squared loss on Y = [y, 0]: zeroing any network's second output weights lowers both
    its loss and its penalty, so the vector CNN's optimum is the scalar CNN's -- written
    directly in cvxpy over independently enumerated cells.  The neuron generation's exact
    pricing (face enumeration of the stacked patches) proves it."""
    X, y = signals(4)
    p_star, _ = cvxpy_cnn_optimum(X, y, 2, beta=BETA, bias=True, mean=True)
    res = cn.fit(X, np.column_stack([y, np.zeros_like(y)]), beta=BETA, conv=cn.Conv(patch=2),
                 bias="regularized", seed=0)
    assert res.network.n_outputs == 2 and res.status == "optimal"
    assert res.generation.stopped == "proven"
    assert res.objective == pytest.approx(p_star, rel=1e-6)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-8)
    assert res.certificate.certified and res.certificate.lower_bound <= p_star * (1 + 1e-7)
    W2 = res.network.W2
    assert np.abs(W2[:, 1]).max() <= 1e-4 * np.abs(W2[:, 0]).max()


def test_vector_cnn_with_one_patch_is_the_dense_vector_network():
    """A patch as large as the signal (K = 1, sum pooling) is a dense layer: the CNN kind's
    pooled program and the vector kind's dense one reach the same proven optimum."""
    rng = np.random.default_rng(3)
    X, labels = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    kw = dict(beta=0.2, loss="cross_entropy", bias="regularized", seed=0)
    cnn = cn.fit(X, labels, conv=cn.Conv(patch=3, pooling="sum"), **kw)
    dense = cn.fit(X, labels, **kw)
    assert cnn.certificate.certified and dense.certificate.certified
    assert cnn.objective == pytest.approx(dense.objective, rel=1e-6)
    assert list(cnn.classes_) == [0, 1, 2]
    np.testing.assert_allclose(cnn.network.predict(X), cnn.network.hidden(X) @ cnn.network.W2
                               + cnn.network.c0)


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_cross_entropy_cnn_is_proven_and_below_every_gradient_run(pooling):
    """Three classes on 1-D signals (short patches: exact pricing): the certificate's dual
    norm is exact and its gap small (near-parallel filters can end the generation a little
    short of the 1e-5 tolerance), the recovered CNN and its torch twin attain the fit, and no
    L-BFGS run of the same CNN and penalty ends below the proven lower bound."""
    X, _ = signals(8, n=9, L=5)
    labels = np.arange(9) % 3
    conv = cn.Conv(patch=2, pooling=pooling)
    res = cn.fit(X, labels, beta=0.1, conv=conv, loss="cross_entropy", bias="regularized",
                 seed=0)
    cert = res.certificate
    assert res.status == "optimal" and cert.exhaustive and cert.relative_gap < 1e-3
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-8)
    module = res.network.to_torch()
    with torch.no_grad():
        out = module(torch.as_tensor(cn.Conv.images(X))).numpy()
    np.testing.assert_allclose(out, res.network.predict(X), rtol=1e-10, atol=1e-12)
    for seed in range(3):
        run = train_conv(X, labels, conv=conv, width=8, beta=0.1, loss="cross_entropy",
                         seed=seed, max_iter=500)
        assert run.network.n_outputs == 3
        assert run.objective >= cert.lower_bound * (1 - 1e-7)
        again = cn.certify(run.network, X, labels, beta=0.1, loss="cross_entropy")
        assert again.lower_bound <= res.objective * (1 + 1e-7)
        assert again.upper_bound == pytest.approx(run.objective, rel=1e-9)


def test_vector_cnn_seeded_by_a_gradient_run_is_never_worse_than_it():
    rng = np.random.default_rng(11)
    X, labels = rng.random((30, 6, 6)), rng.integers(0, 3, 30)
    conv = cn.Conv(patch=3)
    run = train_conv(X, labels, conv=conv, width=6, beta=0.5, loss="cross_entropy", seed=0,
                     max_iter=300)
    res = cn.fit(X, labels, beta=0.5, conv=conv, loss="cross_entropy", bias="regularized",
                 init=run.network, max_rounds=3, seed=0)
    assert res.objective <= run.objective * (1 + 1e-9)
    assert res.recovered_objective == pytest.approx(res.objective, rel=1e-8)
    cert = res.certificate
    assert cert.lower_bound <= res.objective and not cert.certified


@pytest.mark.slow
def test_digits_classes_example_is_below_its_lbfgs_runs(tmp_path, monkeypatch, capsys):
    """examples/cnn_digits.py --classes: a 3-output cross-entropy CNN on digits 0/1/2, the
    convex fit printed at or below its L-BFGS runs, with its training accuracy."""
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "cnn_digits.py"
    monkeypatch.setattr(sys, "argv", [script.name, "--out", str(tmp_path), "--n", "90",
                                      "--classes", "0", "1", "2", "--runs", "3",
                                      "--lbfgs-iter", "500"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "is at or below the best of 3 L-BFGS runs" in out
    assert "3 outputs" in out and (tmp_path / "cnn_digits.png").stat().st_size > 10_000
