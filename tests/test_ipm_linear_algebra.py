"""The interior-point method's linear algebra against dense numpy ground truth.

The Newton system :math:`\\mathrm{blockdiag}(B_b) \\oplus \\delta I + \\tilde M^\\top H\\tilde M`
is solved in operator form (n-space Woodbury over pattern groups, or the variable-space
matrix in a reused buffer); here it is also assembled densely and solved by numpy.
Step lengths are checked against feasibility at and just past the step, and the
incremental row table against a rebuilt one.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convexnn.solvers.blocks import BlockSet  # noqa: E402
from convexnn.solvers.cone_rows import RowOps  # noqa: E402
from convexnn.solvers.kkt import KKTSolver  # noqa: E402
from convexnn.solvers.soc import NTScaling, lin_step, nt_scaling, soc_step  # noqa: E402
from convexnn.solvers.subproblem import Subproblem  # noqa: E402


def _blocks(seed, n=30, d=4, P=6, paired=True, rows=3):
    """Random blocks; with ``paired`` every pattern carries a + and a - block (C-ReLU)."""
    rng = np.random.default_rng(seed)
    Xt = torch.as_tensor(rng.standard_normal((n, d)))
    D = torch.as_tensor(rng.random((n, P)) < 0.5)
    pat = np.arange(P) if not paired else np.concatenate([np.arange(P), np.arange(P)])
    rng.shuffle(pat)
    m = pat.size
    sign = np.where(rng.random(m) < 0.5, 1.0, -1.0)
    r = rng.integers(0, n, size=(m, rows))
    rmask = rng.random((m, rows)) < 0.8
    return BlockSet(Xt=Xt, D=D, pat=torch.as_tensor(pat), sign=torch.as_tensor(sign),
                    pen=torch.ones(m, d, dtype=torch.float64),
                    rows=torch.as_tensor(r), rmask=torch.as_tensor(rmask),
                    linear=torch.zeros(m, dtype=torch.bool))


def _dense_M(blocks):
    """M (n, m*d): block b's columns sigma_b D_b Xt."""
    X = blocks.Xt.numpy()
    D = blocks.D.numpy()
    cols = [blocks.sign[b].item() * D[:, blocks.pat[b].item()][:, None] * X for b in range(blocks.m)]
    return np.concatenate(cols, axis=1)


@pytest.mark.parametrize("mode", ["n", "x"])
@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("q", [0, 2])
def test_newton_system_matches_dense_solve(mode, paired, q):
    rng = np.random.default_rng(3)
    blocks = _blocks(1, paired=paired)
    m, d, n = blocks.m, blocks.dim, blocks.n
    F = None
    if q:
        F = torch.as_tensor(np.linalg.qr(rng.standard_normal((n, q)))[0])
    prob = Subproblem(blocks, torch.as_tensor(rng.standard_normal(n)), "logistic", 0.1, F)
    btt = torch.as_tensor(rng.random(m) + 0.5)
    bvt = torch.as_tensor(rng.standard_normal((m, d)))
    G = rng.standard_normal((m, d, d))
    Bs = torch.as_tensor(G @ G.transpose(0, 2, 1) + 0.1 * np.eye(d))
    H = torch.as_tensor(rng.random(n))
    delta = 1e-3
    kkt = KKTSolver(prob, btt, bvt, Bs, H, delta, mode=mode)
    assert kkt.mode == mode
    # dense K over (t_b, v_b) per block, then the free terms
    N = m * (d + 1)
    K = np.zeros((N + q, N + q))
    for b in range(m):
        i = b * (d + 1)
        B = np.empty((d + 1, d + 1))
        B[0, 0] = btt[b]
        B[0, 1:] = B[1:, 0] = bvt[b]
        B[1:, 1:] = Bs[b].numpy() + np.outer(bvt[b], bvt[b]) / btt[b].item()
        K[i:i + d + 1, i:i + d + 1] = B
    Mt = np.zeros((n, N + q))
    Mv = _dense_M(blocks)
    for b in range(m):
        Mt[:, b * (d + 1) + 1:(b + 1) * (d + 1)] = Mv[:, b * d:(b + 1) * d]
    if q:
        Mt[:, N:] = F.numpy()
        K[N:, N:] += delta * np.eye(q)
    K += Mt.T @ (H.numpy()[:, None] * Mt)
    rt, rv = rng.standard_normal(m), rng.standard_normal((m, d))
    ra = rng.standard_normal(q) if q else None
    rhs = np.concatenate([np.concatenate([rt[:, None], rv], 1).reshape(-1)] + ([ra] if q else []))
    ref = np.linalg.solve(K, rhs)
    dt, dv, da = kkt.solve(torch.as_tensor(rt), torch.as_tensor(rv),
                           None if ra is None else torch.as_tensor(ra))
    got = np.concatenate([np.concatenate([dt.numpy()[:, None], dv.numpy()], 1).reshape(-1)]
                         + ([da.numpy()] if q else []))
    assert np.allclose(got, ref, rtol=1e-8, atol=1e-10 * np.abs(ref).max())
    # a second factorization reuses the buffers: still exact
    kkt2 = KKTSolver(prob, btt, bvt, 2.0 * Bs, H, delta, mode=mode)
    dt2, _, _ = kkt2.solve(torch.as_tensor(rt), torch.as_tensor(rv),
                           None if ra is None else torch.as_tensor(ra))
    assert not np.allclose(dt2.numpy(), dt.numpy())


def test_group_predict_and_adjoint_match_dense():
    blocks = _blocks(4, paired=True)
    M = _dense_M(blocks)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((blocks.m, blocks.dim))
    w = rng.standard_normal(blocks.n)
    assert np.allclose(blocks.predict(torch.as_tensor(V)).numpy(), M @ V.reshape(-1))
    assert np.allclose(blocks.adjoint(torch.as_tensor(w)).numpy().reshape(-1), M.T @ w)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 6), scale=st.floats(1e-3, 1e3))
def test_soc_step_is_the_largest_feasible_step(seed, k, scale):
    rng = np.random.default_rng(seed)
    m = 7
    x = rng.standard_normal((m, k))
    x[:, 0] = np.linalg.norm(x[:, 1:], axis=1) + rng.random(m) + 1e-3  # interior
    d = scale * rng.standard_normal((2, m, k))
    a = soc_step(torch.as_tensor(x), torch.as_tensor(d))

    def feasible(alpha):
        z = x + alpha * d
        return bool(np.all(z[..., 0] - np.linalg.norm(z[..., 1:], axis=-1)
                           >= -1e-9 * np.abs(z).max()))

    if np.isinf(a):
        assert feasible(1e6)
    else:
        assert feasible(a * (1 - 1e-7)) and not feasible(a * (1 + 1e-4))


def _dense_nt(eta, w, inverse=False):
    """The NT matrix (or its inverse) written out entry by entry, (m, k, k) numpy (CVXOPT
    notes, section 4.3): eta [[w0, +-w1^T], [+-w1, I + w1 w1^T / (1 + w0)]], 1/eta for
    the inverse."""
    eta, w = eta.numpy(), w.numpy()
    m, k = w.shape
    w0, w1 = w[:, 0], w[:, 1:]
    sg = -1.0 if inverse else 1.0
    W = np.empty((m, k, k))
    W[:, 0, 0] = w0
    W[:, 0, 1:] = W[:, 1:, 0] = sg * w1
    W[:, 1:, 1:] = np.eye(k - 1)[None] + w1[:, :, None] * w1[:, None, :] / (1 + w0)[:, None, None]
    return ((1 / eta) if inverse else eta)[:, None, None] * W


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 8), near=st.floats(1e-8, 1.0))
def test_nt_scaling_products_match_the_dense_matrices(seed, k, near):
    """The structured NT products equal the dense W, W^{-1} (W W^{-1} = I checked too),
    and W maps z to W^{-1}s (the scaling point's defining property, CVXOPT notes 4.3),
    also for pairs near the cones' boundary."""
    rng = np.random.default_rng(seed)
    m = 9

    def interior():
        x = rng.standard_normal((m, k))
        x[:, 0] = np.linalg.norm(x[:, 1:], axis=1) + near * rng.random(m) + 1e-12
        return torch.as_tensor(x)

    s_, z_ = interior(), interior()
    eta, w = nt_scaling(s_, z_)
    W, Wi = _dense_nt(eta, w), _dense_nt(eta, w, inverse=True)
    scaling = NTScaling(eta, w)
    x = rng.standard_normal((m, k))
    xt = torch.as_tensor(x)
    scale = np.abs(W).max() * np.abs(x).max()
    assert np.allclose(scaling.apply(xt).numpy(), np.einsum("mij,mj->mi", W, x),
                       rtol=1e-9, atol=1e-12 * scale)
    assert np.allclose(scaling.inverse(xt).numpy(), np.einsum("mij,mj->mi", Wi, x),
                       rtol=1e-9, atol=1e-12 * np.abs(Wi).max() * np.abs(x).max())
    assert np.allclose(np.einsum("mij,mjk->mik", W, Wi), np.eye(k)[None], atol=1e-6)
    lam1, lam2 = scaling.apply(z_).numpy(), scaling.inverse(s_).numpy()
    assert np.allclose(lam1, lam2, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(lam1).max()))


def test_lin_step_ignores_zero_directions():
    s = torch.tensor([[1.0, 2.0], [4.0, 1.0]])
    d = torch.tensor([[[-2.0, 0.0], [1.0, 0.0]], [[0.0, -1.0], [0.0, 0.0]]])
    assert lin_step(s, d) == pytest.approx(0.5)  # 1 + 0.5 * (-2) = 0 binds first
    assert lin_step(s, torch.zeros_like(d)) == np.inf


def test_incremental_rows_equal_rebuilt_rows():
    blocks = _blocks(7, rows=2)
    A = RowOps.of(blocks)
    # one row into a free slot of block 0, and (widening) three rows into block 1
    for b_idx, j_idx in ((torch.tensor([0]), torch.tensor([5])),
                         (torch.tensor([1, 1, 1]), torch.tensor([2, 3, 4]))):
        b_idx, j_idx, slot = blocks.add_rows(b_idx, j_idx)
        A = A.with_rows(blocks, b_idx, j_idx, slot)
        ref = RowOps.of(blocks)
        assert torch.equal(A.A, ref.A) and torch.equal(A.mask, ref.mask)
