"""The two-layer convex programs against independent ground truth."""

import cvxpy as cp
import numpy as np
import pytest
from _lbfgs import train_two_layer
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import LOSSES, MODEL_BIASES

import convexnn as cn
from convexnn.core.patterns import add_bias_column, enumerate_patterns
from convexnn.two_layer.program import TwoLayerProgram

VARIANTS = [(m, b, loss) for (m, b) in MODEL_BIASES for loss in LOSSES]


def data(rng, n=8, d=3, loss="squared"):
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    return X, (y if loss == "squared" else np.where(y >= 0, 1.0, -1.0))


@pytest.mark.parametrize("model,bias,loss", VARIANTS)
def test_recovered_objective_equals_convex(rng, model, bias, loss):
    X, y = data(rng, loss=loss)
    r = cn.fit(X, y, beta=0.3, model=model, bias=bias, loss=loss, patterns="exact", certify=False)
    assert r.status == "optimal"
    assert r.recovered_objective == pytest.approx(r.objective, rel=1e-5, abs=1e-7)
    assert r.n_active <= X.shape[0]  # pruning: at most n neurons (THEORY A.3)
    assert r.constraint_violation < 1e-6


def test_reference_I6(rng):
    """THEORY I6: 58 patterns, p_gated <= p_relu, sampled >= exact, width <= n."""
    X, y = data(np.random.default_rng(0))
    exact = cn.fit(X, y, beta=0.3, patterns="exact", certify=False, bias="none")
    assert exact.patterns.shape[1] == 58
    gated = cn.fit(X, y, beta=0.3, model="gated", patterns="exact", certify=False, bias="none")
    assert gated.objective <= exact.objective + 1e-7
    for seed in range(3):
        sampled = cn.fit(X, y, beta=0.3, patterns=5, seed=seed, certify=False, bias="none")
        assert sampled.objective >= exact.objective - 1e-7


@pytest.mark.parametrize("model", ["relu", "gated"])
def test_clarabel_and_scs_agree(rng, model):
    X, y = data(rng, n=10, d=2)
    a = cn.fit(X, y, beta=0.2, model=model, bias="regularized", solver="clarabel", certify=False)
    b = cn.fit(X, y, beta=0.2, model=model, bias="regularized", solver="scs", tol=1e-9,
               max_iter=200_000, certify=False)
    assert b.objective == pytest.approx(a.objective, rel=1e-4)


def lasso_1d(x, y, beta, skip):
    """THEORY F.1: min 1/2||A z + xi 1 (+ w0 x) - y||^2 + beta ||z||_1 with ReLU atoms at the
    data points, A[n, (s, j)] = (s (x_n - x_j))_+."""
    A = np.hstack([np.maximum(x[:, None] - x[None, :], 0), np.maximum(x[None, :] - x[:, None], 0)])
    z, xi, w0 = cp.Variable(A.shape[1]), cp.Variable(), cp.Variable()
    pred = A @ z + xi + (w0 * x if skip else 0)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(pred - y) + beta * cp.norm1(z)))
    prob.solve(solver="CLARABEL")
    return prob.value


@pytest.mark.parametrize("skip", [False, True])
def test_exact_1d_program_equals_lasso(rng, skip):
    """Two formulations, one optimum (THEORY A.5, F.1)."""
    x = np.sort(rng.uniform(-2, 2, 9))
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(9)
    r = cn.fit(x[:, None], y, beta=0.05, bias="free", skip=skip, patterns="exact", certify=False)
    # 2n cells (THEORY A.9) minus the all-off one, which carries no block
    assert r.exhaustive and r.patterns.shape[1] == 2 * 9 - 1
    assert r.objective == pytest.approx(lasso_1d(x, y, 0.05, skip), rel=1e-6)
    # representer bound with a free affine term: at most n - rank([X, 1]) neurons
    assert r.n_active <= (9 - 2 if skip else 9)


@pytest.mark.parametrize("bias", ["none", "regularized",
                                  pytest.param("free", marks=pytest.mark.slow)])
def test_weak_duality_against_random_restarts(bias):
    """p_cvx <= every L-BFGS run of the non-convex problem, and = the best run (THEORY A.3)."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    beta = 0.2
    r = cn.fit(X, y, beta=beta, bias=bias, patterns="exact", certify=False)
    runs = [train_two_layer(X, y, beta=beta, width=8, bias=bias, seed=s) for s in range(12)]
    assert min(runs) >= r.objective - 1e-6
    assert min(runs) == pytest.approx(r.objective, rel=2e-3)


def test_beta_parameter_resolves_without_rebuilding(rng):
    X, y = data(rng)
    Xt = X
    prog = TwoLayerProgram(X, y, beta=0.3, loss="squared", model="relu", bias="none", skip=False,
                           output_bias=False, patterns=enumerate_patterns(Xt))
    problem = prog.build()
    problem.solve(solver="CLARABEL")
    prog.parameters["beta"].value = 0.1
    assert prog.build() is problem
    problem.solve(solver="CLARABEL")
    fresh = cn.fit(X, y, beta=0.1, patterns="exact", certify=False, bias="none")
    assert problem.value == pytest.approx(fresh.objective, rel=1e-6)


def test_free_output_bias_and_skip(rng):
    """Free terms only lower the optimum; with a free constant the centered problem applies."""
    X, y = data(rng)
    y = y + 5.0
    plain = cn.fit(X, y, beta=0.3, patterns="exact", certify=False, bias="none")
    withc = cn.fit(X, y, beta=0.3, patterns="exact", output_bias=True, certify=False, bias="none")
    both = cn.fit(X, y, beta=0.3, patterns="exact", output_bias=True, skip=True, certify=False, bias="none")
    assert both.objective <= withc.objective <= plain.objective
    assert withc.network.c0 != 0.0
    assert both.recovered_objective == pytest.approx(both.objective, rel=1e-5)


def test_beta_above_max_gives_zero_network(rng):
    """For beta >= max_u |y^T (Xu)_+| (over unit u) the zero network is optimal (THEORY I7)."""
    X, y = data(rng, n=6, d=2)
    Xt = X
    ps = enumerate_patterns(Xt)
    # beta_max by brute force over a fine grid of unit directions in 2-D
    ang = np.linspace(0, 2 * np.pi, 20001)
    U = np.stack([np.cos(ang), np.sin(ang)])
    bmax = np.max(np.abs(y @ np.maximum(X @ U, 0)))
    r = cn.fit(X, y, beta=1.01 * bmax, patterns=ps.D, certify=False, bias="none")
    assert r.objective == pytest.approx(0.5 * y @ y, rel=1e-6)
    assert r.n_active == 0
    r = cn.fit(X, y, beta=0.9 * bmax, patterns=ps.D, certify=False, bias="none")
    assert r.objective < 0.5 * y @ y - 1e-6


def test_bias_column_patterns_include_all_on_for_free_bias(rng):
    X, y = data(rng, n=12, d=4)
    r = cn.fit(X, y, beta=0.5, bias="free", patterns=3, seed=0, certify=False)
    assert r.patterns.all(axis=0).any()
    Xt = add_bias_column(X)
    assert np.array_equal(Xt @ r.gates.T >= 0, r.patterns)


def test_purely_affine_optimum_keeps_its_free_constant():
    """Large beta with a free affine term: the optimum is affine (no neuron), and the free
    constant carried by weightless blocks must survive recovery (THEORY A.5)."""
    x, y = np.array([0, 2, 6, 7.0]), np.array([0, 0, 3, 7.0])
    r = cn.fit(x[:, None], y, beta=3.16, bias="free", skip=True, patterns="exact", certify=False)
    assert r.status == "optimal"
    # independent value: least-squares line through the data (zero penalty)
    A = np.stack([x, np.ones_like(x)], 1)
    resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    assert r.objective == pytest.approx(0.5 * resid @ resid, rel=1e-6)
    assert r.recovered_objective == pytest.approx(r.objective, rel=1e-6)


def test_zero_optimum_is_not_flagged_inaccurate(rng):
    """Solver noise around the zero solution is no cone violation."""
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    r = cn.fit(X, y, beta=1e3, patterns="exact", certify=False, bias="none")
    assert r.status == "optimal" and r.n_active == 0
    assert r.objective == pytest.approx(0.5 * y @ y, rel=1e-7)


def test_recovery_exact_for_hinge_with_margins_at_the_kink():
    """Hinge loss at small beta: most margins sit exactly at 1, so dropping small blocks
    changes the loss at first order; recovery must keep the exact network (THEORY I11)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = np.where(np.linalg.norm(X, axis=1) > 1, 1.0, -1.0)
    r = cn.fit(X, y, beta=1e-3, loss="hinge", bias="regularized", patterns="exact",
               solver="clarabel", certify=False)
    assert r.status == "optimal"
    # within Clarabel's absolute accuracy (dropping blocks at 1e-6 gave +1.9e-5)
    assert r.recovered_objective == pytest.approx(r.objective, abs=1e-7)
    assert r.n_active <= 10


def test_pruning_keeps_predictions_and_never_raises_the_penalty(rng):
    """prune_blocks on random dependent fits (independent check of its two invariants)."""
    from convexnn.core.pruning import prune_blocks

    n, K = 6, 15
    fits = np.abs(rng.standard_normal((n, K))) * rng.uniform(1e-8, 1, K)
    rho = rng.uniform(0.1, 1, K)
    F = np.ones((n, 1))
    scale, a = prune_blocks(fits, rho, F)
    assert np.all(scale >= 0)
    assert np.count_nonzero(scale) <= n - 1
    assert np.allclose(fits @ scale + F @ a, fits.sum(axis=1), atol=1e-9)
    assert rho @ scale <= rho.sum() + 1e-12


def test_pruning_near_null_space_takes_one_svd(rng, monkeypatch):
    """Nearly parallel fits whose near-null singular values lie between 10 rtol and
    rtol * top: the null space is computed once and updated, not recomputed per block (a
    drift test that ignored the top singular value recomputed the same basis K + 1 times
    and pruned nothing: diabetes' recovery took 461 SVDs and 158 s)."""
    import convexnn.core.pruning as pruning

    n, K = 60, 200
    b = np.abs(rng.standard_normal(n))
    Q1, _ = np.linalg.qr(rng.standard_normal((n, 20)))
    Q2, _ = np.linalg.qr(rng.standard_normal((K, 20)))
    fits = (np.outer(b, np.ones(K)) / np.linalg.norm(b) + 1e-3 * Q1[:, :10] @ Q2[:, :10].T
            + 1.5e-8 * Q1[:, 10:] @ Q2[:, 10:].T)
    rho = rng.uniform(0.1, 1, K)
    calls = []
    orig = pruning._null_space
    monkeypatch.setattr(pruning, "_null_space", lambda M, r: calls.append(1) or orig(M, r))
    scale, a = pruning.prune_blocks(fits, rho, None)
    assert len(calls) <= 3
    assert np.count_nonzero(scale) <= 20
    assert np.allclose(fits @ scale, fits.sum(axis=1), atol=1e-6)
    assert rho @ scale <= rho.sum() + 1e-12


@given(n=st.integers(3, 40), K=st.integers(1, 40), rank_drop=st.integers(0, 3),
       eps=st.sampled_from([0.0, 1e-12, 1e-7, 1e-4, 1e-1]), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_independence_shortcut_agrees_with_the_svd(n, K, rank_drop, eps, seed):
    """``_independent`` (the Cholesky shortcut that skips pruning's SVD) only says True
    where the SVD finds no singular value below sqrt(margin / K) * top, so it never hides
    a null space prune_blocks would act on (rtol <= 1e-6)."""
    from convexnn.core.pruning import INDEPENDENCE_MARGIN, _independent, _null_space

    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, K))
    if rank_drop and K > 1:  # near-dependent columns: a combination of others plus eps
        for j in range(min(rank_drop, K - 1)):
            M[:, j] = M[:, j + 1 :].sum(axis=1) + eps * rng.standard_normal(n)
    Mn = M / np.linalg.norm(M, axis=0)
    sv = np.linalg.svd(Mn, compute_uv=False)
    if _independent(Mn.copy()):
        assert K <= n
        assert sv[-1] ** 2 > 0.5 * INDEPENDENCE_MARGIN
        for rtol in (1e-9, 1e-6):
            assert _null_space(Mn, rtol)[0].shape[1] == 0
    elif K <= n and sv[-1] ** 2 > 2 * INDEPENDENCE_MARGIN:
        pytest.fail("independent columns with margin were not recognized")
