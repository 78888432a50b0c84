r"""A structured primal-dual interior-point method for a working set of blocks (torch).

For blocks b (pattern :math:`D_{i_b}`, sign :math:`\sigma_b`, working cone rows
:math:`A_b`, see :mod:`convexnn.solvers.blocks`) and free terms :math:`Fa` it solves

.. math::
    \min_{t, v, a}\ \ell\Big(\sum_b M_b v_b + F a\Big) + \beta\sum_b t_b
    \quad\text{s.t.}\quad (t_b, v_{b,\pi}) \in \mathcal Q,\quad A_b v_b \ge 0,

with :math:`\mathcal Q` the second-order cone.  The hinge loss is the LP
:math:`\min \mathbf 1^\top\xi` s.t. :math:`\xi \ge 0,\ \xi + y\circ\hat y \ge 1`; the
squared and logistic losses enter through their gradient and diagonal Hessian.

Method: Mehrotra predictor-corrector with Nesterov-Todd scaling (Vandenberghe, "The
CVXOPT linear and quadratic cone program solvers", 2010, sections 3-4), infeasible start.
The Newton system :math:`(\nabla^2 f + G^\top\Theta G)\Delta x = \rho` has the structure

.. math::
    \mathrm{blockdiag}(B_b) + \tilde M^\top H \tilde M,\qquad
    \tilde M = [M_1 \cdots M_m\ F],\ H \text{ diagonal } (n),

(loss Hessian plus the eliminated hinge variables), so it is solved through the
:math:`n\times n` matrix :math:`I + H^{1/2}\sum_b M_b (B_b^{-1})_{vv} M_b^\top H^{1/2}`
(Woodbury, with the free terms bordered), accumulated block-chunk by block-chunk without
forming :math:`\tilde M`; or, when the working set has fewer variables than samples,
through the :math:`d'm \times d'm` matrix :math:`\mathrm{blockdiag}(B) + M^\top HM`
(see :class:`KKTSolver`).

Stopping rule: relative primal and dual residuals (the dual one relative to the largest
term it is the difference of: its roundoff floor) and the complementarity gap
:math:`s^\top z / \max(1, |p|)` all below ``tol``.  The caller certifies the result with
the exact duality gap of the full program (:mod:`convexnn.solvers.working_set`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .blocks import BlockSet

#: The hinge loss uses the variable-space Newton system up to this many block variables.
DENSE_HINGE_LIMIT = 3000
#: Iterations before ``separate`` is first called (the starting point is a ridge
#: solution, not informative about which rows bind).  Measured (iterations with 2 / 3):
#: diabetes 21 / 20, breast cancer squared 35 / 31, logistic 28 / 28, 1-D exact 17 / 17;
#: from 0, 1, 6 or 8 diabetes takes 23, 24, 28, 32.
SEPARATE_FROM = 3
#: Bytes of one chunk of the Schur-complement factor G (sized to stay in cache).
GRAM_CHUNK_BYTES = 4 * 1024**2


def _torch():
    import torch

    return torch


# ---- second-order cone algebra (batched over blocks) ------------------------------------
def _soc_nt(s, z):
    r"""Nesterov-Todd scaling point of SOC pairs: returns (eta, w) with
    :math:`W = \eta\begin{pmatrix} w_0 & w_1^\top\\ w_1 & I + w_1w_1^\top/(1+w_0)\end{pmatrix}`,
    :math:`W z = W^{-1}s = \lambda` (CVXOPT notes, section 4.3)."""
    torch = _torch()

    def jnorm(x):
        return torch.sqrt(torch.clamp(x[:, 0] ** 2 - (x[:, 1:] ** 2).sum(1), min=1e-300))

    ns, nz = jnorm(s), jnorm(z)
    sb, zb = s / ns[:, None], z / nz[:, None]
    gam = torch.sqrt(torch.clamp((1 + (sb * zb).sum(1)) / 2, min=1e-300))
    w = torch.cat([sb[:, :1] + zb[:, :1], sb[:, 1:] - zb[:, 1:]], 1) / (2 * gam[:, None])
    return torch.sqrt(ns / nz), w


def _soc_W(eta, w, inverse=False):
    """The NT matrix W (or its inverse), batched, shape (m, k, k)."""
    torch = _torch()
    m, k = w.shape
    w0, w1 = w[:, 0], w[:, 1:]
    sg = -1.0 if inverse else 1.0
    W = torch.empty(m, k, k, dtype=w.dtype, device=w.device)
    W[:, 0, 0] = w0
    W[:, 0, 1:] = sg * w1
    W[:, 1:, 0] = sg * w1
    W[:, 1:, 1:] = (torch.eye(k - 1, dtype=w.dtype, device=w.device)[None]
                    + w1[:, :, None] * w1[:, None, :] / (1 + w0)[:, None, None])
    return ((1 / eta) if inverse else eta)[:, None, None] * W


def _jprod(u, v):
    r"""Jordan product :math:`u\circ v = (u^\top v,\ u_0v_1 + v_0u_1)`."""
    torch = _torch()
    return torch.cat([(u * v).sum(1, keepdim=True), u[:, :1] * v[:, 1:] + v[:, :1] * u[:, 1:]], 1)


def _jdiv(lam, r):
    r"""x with :math:`\lambda\circ x = r`."""
    torch = _torch()
    det = lam[:, 0] ** 2 - (lam[:, 1:] ** 2).sum(1)
    x0 = (lam[:, 0] * r[:, 0] - (lam[:, 1:] * r[:, 1:]).sum(1)) / det
    x1 = (r[:, 1:] - x0[:, None] * lam[:, 1:]) / lam[:, :1]
    return torch.cat([x0[:, None], x1], 1)


def _soc_step(x, d):
    r"""Largest :math:`\alpha` with :math:`x + \alpha d_k` in the SOC for every cone and
    every direction :math:`d_k` (x interior, shape (m, k); d of shape (..., m, k)).

    With :math:`\bar x = x/\|x\|_J` and the Lorentz transformation L mapping
    :math:`\bar x` to :math:`e = (1, 0)`, :math:`\rho = Ld/\|x\|_J` and
    :math:`\alpha = 1/\max(0, \|\rho_1\| - \rho_0)` (CVXOPT notes, section 4.3)."""
    torch = _torch()
    if x.shape[0] == 0:
        return math.inf
    nx = torch.sqrt(torch.clamp(x[:, 0] ** 2 - (x[:, 1:] ** 2).sum(1), min=1e-300))
    xb = x / nx[:, None]
    x0, x1 = xb[:, 0], xb[:, 1:]
    d0, d1 = d[..., 0], d[..., 1:]
    x1d1 = (x1 * d1).sum(-1)
    rho0 = x0 * d0 - x1d1
    rho1 = d1 + x1 * (x1d1 / (1.0 + x0) - d0)[..., None]
    worst = float(((torch.linalg.vector_norm(rho1, dim=-1) - rho0) / nx).max())
    return 1.0 / worst if worst > 0 else math.inf


def _lin_step(s, d):
    """Largest alpha with s + alpha d_k >= 0 (s > 0) for every direction d_k (d of shape
    (..., *s.shape); entries with d = 0, e.g. masked ones, never bind)."""
    if s.numel() == 0:
        return math.inf
    worst = float((-d / s).max())
    return 1.0 / worst if worst > 0 else math.inf


# ---- losses on the prediction (torch) ---------------------------------------------------
def loss_terms(name, yhat, y):
    r"""(value, gradient, diagonal Hessian) of the smooth part of the loss at ŷ
    (hinge: zero; it is carried by the LP constraints)."""
    torch = _torch()
    if name == "squared":
        r = yhat - y
        return 0.5 * float(r @ r), r, torch.ones_like(r)
    if name == "logistic":
        m = y * yhat
        sig = torch.sigmoid(-m)
        return float(torch.nn.functional.softplus(-m).sum()), -y * sig, sig * (1 - sig)
    z = torch.zeros_like(yhat)
    return 0.0, z, z


# ---- working cone rows (batched products) -----------------------------------------------
class RowOps:
    r"""Products with the padded working rows :math:`A_b` (m, r, d'), zero where masked.

    Batched row-vector products (``bmm`` of (m, 1, k) by (m, k, l)) are several times
    faster on the CPU than the equivalent einsums, so both A and :math:`A^\top` are held
    contiguous."""

    def __init__(self, A, rmask):
        self.A = A
        self.AT = A.transpose(1, 2).contiguous()
        self.width = int(A.shape[1])
        self.mask = rmask.to(A.dtype)  # the row mask as floats (no promotion per product)

    def apply(self, v):
        """:math:`A_bv_b`, shape (m, r)."""
        return _rowvec(v, self.AT)

    def adjoint(self, u):
        """:math:`A_b^\top u_b`, shape (m, d')."""
        torch = _torch()
        if not self.width:
            return torch.zeros(self.A.shape[0], self.A.shape[2], dtype=u.dtype, device=u.device)
        return _rowvec(u, self.A)

    def with_rows(self, blocks: BlockSet, b_idx, j_idx, slot) -> RowOps:
        """After ``blocks.add_rows``: the new rows written in place, or rebuilt when the
        padded table widened."""
        if int(blocks.rows.shape[1]) != self.width:
            return RowOps.of(blocks)
        if b_idx.numel():
            sg = 2.0 * blocks.D[j_idx, blocks.pat[b_idx]].to(self.A.dtype) - 1.0
            rows = sg[:, None] * blocks.Xt[j_idx]
            self.A[b_idx, slot] = rows
            self.AT[b_idx, :, slot] = rows
            self.mask[b_idx, slot] = 1.0
        return self

    @classmethod
    def of(cls, blocks: BlockSet) -> RowOps:
        """The working rows of ``blocks``."""
        return cls(blocks.row_matrix(), blocks.rmask)

    def gram(self, theta):
        r""":math:`A_b^\top\mathrm{diag}(\theta_b)A_b`, shape (m, d', d')."""
        return (self.AT * theta[:, None, :]) @ self.A


def _rowvec(x, M):
    """Batched :math:`x_b^\top M_b` for x (m, k), M (m, k, l): shape (m, l) (for a
    symmetric M, :math:`M_bx_b`).  On the CPU numpy's stacked matmul runs these many tiny
    products about three times faster than torch's bmm."""
    if x.device.type == "cpu":
        torch = _torch()
        with np.errstate(all="ignore"):  # inf/nan propagate as in torch (breakdowns are caught)
            return torch.from_numpy(np.matmul(x.numpy()[:, None, :], M.numpy())[:, 0, :])
    return (x[:, None, :] @ M)[:, 0, :]


# ---- the subproblem ---------------------------------------------------------------------
@dataclass
class Subproblem:
    """Data of the working-set program: blocks, targets, loss, beta, free basis F (n, q)."""

    blocks: BlockSet
    y: object
    loss: str
    beta: float
    F: object = None  # torch (n, q) orthonormal, or None
    cache: dict = field(default_factory=dict)

    @property
    def q(self) -> int:
        return 0 if self.F is None else int(self.F.shape[1])

    @property
    def hinge(self) -> bool:
        return self.loss == "hinge"

    def predict(self, v, a):
        yhat = self.blocks.predict(v)
        if self.F is not None:
            yhat = yhat + self.F @ a
        return yhat


@dataclass
class IPMState:
    """Iterate of :class:`InteriorPoint` (primal t, v, a, xi; slacks s_*, duals z_*)."""

    t: object
    v: object
    a: object
    xi: object
    s_soc: object
    z_soc: object
    s_lin: object
    z_lin: object
    s_h: object  # (2, n) hinge slacks, or None
    z_h: object


def complementarity(st: IPMState, rmask, hinge: bool) -> tuple[float, int]:
    r"""(:math:`s^\top z`, :math:`\nu`): the total complementarity of an iterate over its
    cones, working rows (``rmask``) and hinge pairs, and their number (degree);
    :math:`\mu = s^\top z/\nu`."""
    tot = float((st.s_soc * st.z_soc).sum()) + float((st.s_lin * st.z_lin * rmask).sum())
    nu = st.s_soc.shape[0] + int(rmask.sum())
    if hinge:
        tot += float((st.s_h * st.z_h).sum())
        nu += 2 * st.s_h.shape[1]
    return tot, max(nu, 1)


@dataclass
class IPMResult:
    state: IPMState
    status: str  # "optimal" | "iteration_limit" | "stalled" (numerical floor) | "failed"
    iterations: int
    primal: float
    gap: float
    pres: float
    dres: float
    time: float
    history: list = field(default_factory=list)


# ---- Newton systems ---------------------------------------------------------------------
class KKTSolver:
    r"""Factorization of :math:`K = \mathrm{blockdiag}(B_b) \oplus \delta I_q +
    \tilde M^\top H\tilde M` for one interior-point iteration.

    Each :math:`B_b` acts on :math:`(t_b, v_b)` and is given through the stable pieces
    ``btt`` (m,), ``bvt`` (m, d') and the Schur complement of :math:`t_b`, ``Bs``
    (m, d', d'); H (n,) >= 0.  Two exact factorizations, chosen by size:

    * n-space (n <= d'm): :math:`B_s = RR^\top`, :math:`G_b = H^{1/2}M_bR_b^{-\top}`,
      :math:`S = I + \sum_b G_bG_b^\top` (Woodbury), the free terms bordered through
      :math:`\Phi = H^{1/2}F`;
    * variable space (d'm < n): the dense :math:`(d'm + q)^2` matrix with t eliminated.
    """

    def __init__(self, prob: Subproblem, btt, bvt, Bs, H, delta, mode: str = "auto"):
        torch = _torch()
        self.prob, self.btt, self.bvt, self.Bs, self.H, self.delta = prob, btt, bvt, Bs, H, delta
        blocks = prob.blocks
        m, d = Bs.shape[0], Bs.shape[1]
        self.hs = torch.sqrt(H)
        n, q = blocks.n, prob.q
        dt_, dev = Bs.dtype, Bs.device
        if mode == "auto":
            # the n-space (Woodbury) form subtracts nearly equal terms when H is large
            # (the hinge's margin samples): use the variable space for it when affordable
            mode = "n" if (n <= d * m or m == 0) else "x"
            if prob.hinge and d * m <= DENSE_HINGE_LIMIT:
                mode = "x"
        self.mode = mode
        self.kept = m * d
        if self.mode == "n":
            Rchol = torch.linalg.cholesky(Bs)
            eye = torch.eye(d, dtype=dt_, device=dev).expand(m, d, d)
            Rinv = torch.linalg.solve_triangular(Rchol, eye, upper=False)
            # B_s^{-1} r = R^{-T}(R^{-1} r): two batched row-vector products
            self.Rinv, self.RinvT = Rinv, Rinv.transpose(1, 2).contiguous()
            S = _gram_sum(blocks, _group_factors(blocks, Rinv), self.hs)
            self.kept = blocks.n_groups * d
            idx = range(n)
            S[idx, idx] += 1.0  # numpy (lower triangle) or torch
            self.Schol = DenseCholesky(S)
            if q:
                self.Phi = self.hs[:, None] * prob.F
                SiPhi = self.Schol.solve(self.Phi)
                Ka = self.Phi.T @ SiPhi + delta * torch.eye(q, dtype=dt_, device=dev)
                self.Kachol = torch.linalg.cholesky(Ka)
        else:
            N = m * d
            gram = _weighted_gram(prob, H)
            if dev.type == "cpu":
                # a reused Fortran-ordered buffer (a fresh one costs page faults), factored
                # in place; only its lower triangle is read
                ws = prob.cache.setdefault("kkt_workspace", {})
                if ws.get("K") is None or ws["K"].shape != gram.shape:
                    ws["K"] = np.empty(gram.shape, order="F")
                    ws["diag"] = _block_diagonal_index(m, d, N + q)
                K = ws["K"]
                np.copyto(K, gram)
                Kf = K.reshape(-1, order="F")
                Kf[ws["diag"]] += Bs.numpy().reshape(-1)
                if q:
                    K[range(N, N + q), range(N, N + q)] += delta
            else:
                K = gram.clone()
                idx = torch.arange(N, device=dev).view(m, d)
                K[idx[:, :, None], idx[:, None, :]] += Bs
                if q:
                    K[N:, N:] += delta * torch.eye(q, dtype=dt_, device=dev)
            self.Kchol = DenseCholesky(K)

    def _block_solve(self, rt, rv):
        """B^{-1}(rt, rv) blockwise, through the Schur complement of t."""
        rv2 = rv - self.bvt * (rt / self.btt)[:, None]
        dv = _rowvec(_rowvec(rv2, self.RinvT), self.Rinv)
        dt = (rt - (self.bvt * dv).sum(1)) / self.btt
        return dt, dv

    def solve(self, rt, rv, ra):
        """Solve K (dt, dv, da) = (rt, rv, ra)."""
        torch = _torch()
        prob = self.prob
        if self.mode == "n":
            _, yv = self._block_solve(rt, rv)
            rhs1 = self.hs * prob.blocks.predict(yv)
            da = None
            if prob.q:
                da = torch.cholesky_solve(
                    (ra - self.Phi.T @ self.Schol.solve(rhs1))[:, None], self.Kachol)[:, 0]
                rhs1 = rhs1 + self.Phi @ da
            w = self.hs * self.Schol.solve(rhs1)
            dt, dv = self._block_solve(rt, rv - prob.blocks.adjoint(w))
            return dt, dv, da
        m, d = self.Bs.shape[0], self.Bs.shape[1]
        rv2 = rv - self.bvt * (rt / self.btt)[:, None]
        rhs = rv2.reshape(-1)
        if prob.q:
            rhs = torch.cat([rhs, ra])
        sol = self.Kchol.solve(rhs)
        dv = sol[: m * d].view(m, d)
        da = sol[m * d:] if prob.q else None
        dt = (rt - (self.bvt * dv).sum(1)) / self.btt
        return dt, dv, da

    def apply(self, dt, dv, da):
        """K times (dt, dv, da), for iterative refinement."""
        torch = _torch()
        prob = self.prob
        bv = (self.bvt * dv).sum(1)
        kt = self.btt * dt + bv
        kv = (torch.einsum("mij,mj->mi", self.Bs, dv) + self.bvt * (bv / self.btt)[:, None]
              + self.bvt * dt[:, None])
        u = prob.blocks.predict(dv)
        if prob.q:
            u = u + prob.F @ da
        Hu = self.H * u
        kv = kv + prob.blocks.adjoint(Hu)
        ka = (prob.F.T @ Hu + self.delta * da) if prob.q else None
        return kt, kv, ka


class DenseCholesky:
    r"""Cholesky factor :math:`K = LL^\top` of a dense SPD matrix.  On the CPU it is
    LAPACK's ``dpotrf`` on the lower triangle, in place (its BLAS threads, whatever
    torch's intra-op setting; K may be a Fortran-ordered numpy array holding only its lower
    triangle, as BLAS ``syrk`` leaves it); on other devices torch's.  Raises RuntimeError
    when K is not numerically positive definite."""

    def __init__(self, K):
        torch = _torch()
        self.torch_factor = None
        if isinstance(K, torch.Tensor) and K.device.type != "cpu":
            self.torch_factor = torch.linalg.cholesky(K)
            return
        from scipy.linalg.lapack import dpotrf

        if isinstance(K, torch.Tensor):
            K = K.numpy().T  # symmetric: the transpose is the Fortran-ordered same matrix
        c, info = dpotrf(K, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise RuntimeError(f"dense Cholesky failed: leading minor {info} is not positive definite")
        self.c = c

    def solve(self, b):
        """:math:`K^{-1}b` for b of shape (N,) or (N, k) (a torch tensor)."""
        torch = _torch()
        if self.torch_factor is not None:
            out = torch.cholesky_solve(b[:, None] if b.dim() == 1 else b, self.torch_factor)
            return out[:, 0] if b.dim() == 1 else out
        from scipy.linalg.lapack import dpotrs

        x, info = dpotrs(self.c, b.numpy(), lower=1)
        if info != 0:  # pragma: no cover - argument errors only
            raise RuntimeError(f"dpotrs failed with info={info}")
        return torch.from_numpy(x)


def _group_factors(blocks: BlockSet, Rinv):
    r"""Per pattern group g (:attr:`BlockSet.groups`) an upper-triangular :math:`T_g` with
    :math:`T_g^\top T_g = \sum_{b\in g}R_b^{-\top}R_b^{-1} = \sum_{b\in g}B_b^{-1}` (from
    ``Rinv`` = :math:`R_b^{-1}`, lower triangular): the R factor of the stacked
    :math:`[R_{b_1}^{-1}; R_{b_2}^{-1}]` (no inverse is formed, so no accuracy is lost).
    Blocks sharing a pattern then enter the Schur complement once,
    :math:`\sum_{b\in g}M_bB_b^{-1}M_b^\top = D_g\tilde XT_g^\top T_g\tilde X^\top D_g`
    (the signs square away): half the columns for C-ReLU."""
    torch = _torch()
    gpat, gidx, slot = blocks.groups
    g, d = int(gpat.shape[0]), blocks.dim
    width = int(slot.max()) + 1 if slot.numel() else 1
    if width == 1:
        out = torch.empty(g, d, d, dtype=Rinv.dtype, device=Rinv.device)
        out[gidx] = Rinv
        return out
    stack = torch.zeros(g, width, d, d, dtype=Rinv.dtype, device=Rinv.device)
    stack[gidx, slot] = Rinv
    return torch.linalg.qr(stack.view(g, width * d, d), mode="r").R


def _gram_sum(blocks: BlockSet, T, hs):
    r""":math:`\sum_g G_gG_g^\top` with :math:`G_g = \mathrm{diag}(h^{1/2})\,D_g\tilde XT_g^\top`
    (:func:`_group_factors`), accumulated over chunks of groups small enough to stay in
    cache (:data:`GRAM_CHUNK_BYTES`; G is never held whole).  On the CPU, scipy's BLAS
    forms G chunk by chunk (gemm into a reused buffer) and syrk accumulates the lower
    triangle in place (half the flops of a GEMM); the result is then a Fortran-ordered
    numpy array holding the lower triangle only (for :class:`DenseCholesky`, which factors
    it in place: the factor is valid until the next call for the same blocks)."""
    torch = _torch()
    n, d, g = blocks.n, blocks.dim, int(T.shape[0])
    step = max(1, GRAM_CHUNK_BYTES // (8 * max(1, n * d)))
    Xh = blocks.Xt * hs[:, None]
    if blocks.Xt.device.type != "cpu":
        S = torch.zeros(n, n, dtype=blocks.Xt.dtype, device=blocks.Xt.device)
        for lo in range(0, g, step):
            sl = slice(lo, min(g, lo + step))
            gc = sl.stop - sl.start
            G = (Xh @ T[sl].reshape(gc * d, d).T).view(n, gc, d)
            G.mul_(blocks.group_masks(sl)[:, :, None])
            S.addmm_(G.view(n, gc * d), G.view(n, gc * d).T)
        return S
    from scipy.linalg.blas import dgemm, dsyrk

    # scipy's BLAS only (numpy may carry another BLAS whose idle threads would compete);
    # the buffers are reused across iterations (fresh multi-MB arrays cost page faults)
    ws = blocks.__dict__.setdefault("_gram_workspace", {})
    if ws.get("shape") != (n, step * d):
        ws.update(shape=(n, step * d), G=np.empty((n, step * d), order="F"),
                  low=np.empty((n, n), order="F"))
    low = ws["low"]
    Xn = Xh.numpy().T  # Fortran-ordered (d, n) view of Xh^T
    Tn = T.numpy()
    for lo in range(0, g, step):
        sl = slice(lo, min(g, lo + step))
        gc = sl.stop - sl.start
        # G = Xh T^T for every group of the chunk in one product: (n, gc*d) Fortran-ordered
        G = dgemm(1.0, Xn, Tn[sl].reshape(gc * d, d).T, trans_a=1, c=ws["G"][:, :gc * d],
                  overwrite_c=1)
        G.T.reshape(gc, d, n)[...] *= blocks.group_masks(sl).T.numpy()[:, None, :]
        low = dsyrk(1.0, G, beta=float(lo > 0), c=low, trans=0, lower=1, overwrite_c=1)
    return low


def _weighted_gram(prob: Subproblem, H):
    r""":math:`[M\ F]^\top H [M\ F]`, shape (d'm + q, d'm + q), accumulated over chunks of
    samples (the (n, d'm) matrix M is never held whole).  For the squared loss H = 1 and
    the matrix is computed once per working set (cached on the subproblem).  On the CPU
    it is a Fortran-ordered numpy array whose lower triangle scipy's BLAS syrk
    accumulates (the upper triangle is not set)."""
    torch = _torch()
    blocks = prob.blocks
    constant = prob.loss == "squared"
    if constant and prob.cache.get("gram") is not None:
        return prob.cache["gram"]
    n, d, m = blocks.n, blocks.dim, blocks.m
    N, q = m * d, prob.q
    cpu = blocks.Xt.device.type == "cpu"
    if cpu:
        from scipy.linalg.blas import dsyrk

        out = np.zeros((N + q, N + q), order="F")
    else:
        out = torch.zeros(N + q, N + q, dtype=blocks.Xt.dtype, device=blocks.Xt.device)
    hs = torch.sqrt(H)
    step = max(1, (64 * 1024**2) // (8 * max(N + q, 1)))
    Dm = blocks.masks()
    for lo in range(0, n, step):
        sl = slice(lo, min(n, lo + step))
        Mc = (blocks.Xt[sl][:, None, :] * (Dm[sl] * hs[sl, None])[:, :, None]).reshape(-1, N)
        if q:
            Mc = torch.cat([Mc, hs[sl, None] * prob.F[sl]], 1)
        if cpu:  # Mc^T Mc with Mc^T Fortran-ordered: no copy
            out = dsyrk(1.0, Mc.numpy().T, beta=1.0, c=out, trans=0, lower=1, overwrite_c=1)
        else:
            out.addmm_(Mc.T, Mc)
    if constant:
        prob.cache["gram"] = out
    return out


def _block_diagonal_index(m: int, d: int, size: int):
    """Flat (Fortran-order) indices of the m diagonal d x d blocks of a (size, size) matrix,
    in the row-major order of an (m, d, d) array."""
    b = np.arange(m)[:, None, None] * d
    i, j = np.arange(d)[None, :, None], np.arange(d)[None, None, :]
    return ((b + i) + (b + j) * size).reshape(-1)


# ---- the method -------------------------------------------------------------------------
class InteriorPoint:
    r"""Mehrotra predictor-corrector interior-point method for a :class:`Subproblem`.

    Parameters
    ----------
    tol : float, default=1e-9
        Relative tolerance on residuals and on the complementarity gap.
    max_iter : int, default=80
    step_fraction : float, default=0.99
        Fraction of the step to the boundary of the cones.
    regularization : float, default=1e-13
        Static regularization :math:`\delta` added to the block matrices (relative to
        their scale) and to the free-term block.
    refine : int, default=2
        Iterative-refinement steps on the unreduced dual equation of each direction.
    refine_reduced : int, default=2
        Iterative-refinement steps on the reduced (Woodbury) system, for the hinge loss
        (whose large Hessian entries make that form lose accuracy).
    init : {"balanced", "cvxopt"}, default="balanced"
        Starting point (see :meth:`initial_state`).
    correctors : int, default=3
        At most this many Gondzio centrality correctors per iteration (Colombo & Gondzio,
        Comput. Optim. Appl. 41, 2008), each accepted only if it lengthens the step by
        10% of ``corrector_step``.
    corrector_step : float, default=0.2
        Step-length increase the correctors aim for.
    verbose : bool, default=False
    """

    def __init__(self, tol: float = 1e-9, max_iter: int = 80, step_fraction: float = 0.99,
                 regularization: float = 1e-13, refine: int = 2, init: str = "balanced",
                 correctors: int = 3, corrector_step: float = 0.2, refine_reduced: int = 2,
                 verbose: bool = False):
        self.refine_reduced = refine_reduced
        self.init = init
        self.correctors = correctors
        self.corrector_step = corrector_step
        self.tol = tol
        self.max_iter = max_iter
        self.step_fraction = step_fraction
        self.regularization = regularization
        self.refine = refine
        self.verbose = verbose

    # -- residuals --------------------------------------------------------------------
    def _residuals(self, prob: Subproblem, st: IPMState, A):
        torch = _torch()
        blocks = prob.blocks
        pen = blocks.pen
        yhat = prob.predict(st.v, st.a)
        fval, grad, hess = loss_terms(prob.loss, yhat, prob.y)
        g = grad - (prob.y * st.z_h[1] if prob.hinge else 0.0)
        rd_t = prob.beta - st.z_soc[:, 0]
        Mg = blocks.adjoint(g)
        rd_v = Mg - pen * st.z_soc[:, 1:]
        # the dual residual is a difference of terms this large (its roundoff floor)
        rd_scale = max(prob.beta, _amax(Mg))
        if A.width:
            Az = A.adjoint(st.z_lin * A.mask)
            rd_v = rd_v - Az
            rd_scale = max(rd_scale, _amax(Az))
        rd_a = prob.F.T @ g if prob.q else None
        rd_xi = (1.0 - st.z_h[0] - st.z_h[1]) if prob.hinge else None
        rp_soc = torch.cat([st.t[:, None], st.v * pen], 1) - st.s_soc
        rp_lin = (A.apply(st.v) - st.s_lin) * A.mask
        rp_h = None
        if prob.hinge:
            rp_h = torch.stack([st.xi - st.s_h[0], st.xi + prob.y * yhat - 1.0 - st.s_h[1]])
        pobj = fval + prob.beta * float(st.t.sum()) + (float(st.xi.sum()) if prob.hinge else 0.0)
        return dict(yhat=yhat, hess=hess, rd_t=rd_t, rd_v=rd_v, rd_a=rd_a, rd_xi=rd_xi,
                    rp_soc=rp_soc, rp_lin=rp_lin, rp_h=rp_h, pobj=pobj, rd_scale=rd_scale)

    def _mu(self, prob, st):
        return complementarity(st, prob.blocks.rmask, prob.hinge)

    # -- one Newton solve -------------------------------------------------------------
    def _scalings(self, prob, st, A, hess):
        r"""NT scalings and the stable pieces of :math:`B_b = (E\Theta E)_b + A_b^\top
        \Theta_{lin} A_b`: with :math:`\Theta = W^{-2} = \eta^{-2}\bar W^{-2}`,
        :math:`\Theta_{tt} = (2w_0^2 - 1)/\eta^2`, :math:`\Theta_{vt} = -2w_0w_1/\eta^2`,
        and the Schur complement of t is :math:`[(W^2)_{vv}]^{-1} =
        \eta^{-2}(I + 2w_1w_1^\top)^{-1} = \eta^{-2}\big((I - \hat w\hat w^\top) +
        \hat w\hat w^\top/(1 + 2\|w_1\|^2)\big)` -- no cancellation near the boundary."""
        torch = _torch()
        blocks = prob.blocks
        d = blocks.dim
        dt_, dev = blocks.Xt.dtype, blocks.Xt.device
        eta, w = _soc_nt(st.s_soc, st.z_soc)
        W = _soc_W(eta, w)
        Wi = _soc_W(eta, w, inverse=True)
        lam_soc = _rowvec(st.z_soc, W)  # W is symmetric
        w0, w1 = w[:, 0], w[:, 1:]
        ie2 = 1.0 / eta ** 2
        pen = blocks.pen
        btt = (2 * w0 ** 2 - 1) * ie2
        bvt = -2 * (w0 * ie2)[:, None] * w1 * pen
        nw2 = (w1 ** 2).sum(1)
        what = w1 / torch.sqrt(torch.clamp(nw2, min=1e-300))[:, None]
        eye = torch.eye(d, dtype=dt_, device=dev)
        P = eye[None] - what[:, :, None] * what[:, None, :] * (1 - 1 / (1 + 2 * nw2))[:, None, None]
        Bs = P * ie2[:, None, None] * pen[:, :, None] * pen[:, None, :]
        rm = blocks.rmask
        sl = torch.where(rm, st.s_lin, torch.ones_like(st.s_lin))
        zl = torch.where(rm, st.z_lin, torch.ones_like(st.z_lin))
        th_lin = zl / sl * A.mask
        if A.width:
            Bs = Bs + A.gram(th_lin)
        scale = torch.clamp(Bs.diagonal(dim1=1, dim2=2).abs().amax(1), min=1e-300)
        Bs = Bs + (self.regularization * scale)[:, None, None] * eye
        H = hess.clone()
        th_h = lam_h = None
        if prob.hinge:
            th_h = st.z_h / st.s_h
            H = H + th_h[0] * th_h[1] / (th_h[0] + th_h[1])
            lam_h = torch.sqrt(st.s_h * st.z_h)
        sc = dict(W=W, Wi=Wi, lam_soc=lam_soc, th_lin=th_lin, lam_lin=torch.sqrt(sl * zl),
                  rl=torch.sqrt(zl / sl) * A.mask, th_h=th_h, lam_h=lam_h,
                  rh=torch.sqrt(st.z_h / st.s_h) if prob.hinge else None)
        return (btt, bvt, Bs), H, sc

    def _direction(self, prob, st, A, res, sc, kkt, rc_soc, rc_lin, rc_h):
        r"""Newton direction for residuals ``res`` (None: all zero; entries may be None)
        and complementarity right-hand sides ``rc`` (None: zero) in the scaled space
        :math:`\lambda\circ(\tilde{ds} + \tilde{dz}) = rc`,
        :math:`\tilde{ds} = W^{-1}\Delta s`, :math:`\tilde{dz} = W\Delta z`.  Zero parts
        are skipped (the combined direction and the correctors have no residuals)."""
        torch = _torch()
        blocks = prob.blocks
        y = prob.y
        rm = A.mask
        Wi, rl, pen = sc["Wi"], sc["rl"], blocks.pen
        res = res or {}
        rp_soc, rp_lin, rd_t, rd_v = (res.get(k) for k in ("rp_soc", "rp_lin", "rd_t", "rd_v"))
        # u = W^{-1}(q - W^{-1} r_p) with q = lambda \ rc
        q_soc = None if rc_soc is None else _jdiv(sc["lam_soc"], rc_soc)
        w_soc = q_soc if rp_soc is None else (-_rowvec(rp_soc, Wi) if q_soc is None
                                               else q_soc - _rowvec(rp_soc, Wi))
        u_soc = None if w_soc is None else _rowvec(w_soc, Wi)  # the NT matrices are symmetric
        q_lin = None if rc_lin is None else rc_lin / sc["lam_lin"] * rm
        w_lin = q_lin if rp_lin is None else (-rl * rp_lin if q_lin is None else q_lin - rl * rp_lin)
        rt = torch.zeros_like(st.t) if u_soc is None else u_soc[:, 0].clone()
        rv = torch.zeros_like(st.v) if u_soc is None else pen * u_soc[:, 1:]
        if rd_t is not None:
            rt -= rd_t
        if rd_v is not None:
            rv -= rd_v
        if A.width and w_lin is not None:
            rv += A.adjoint(rl * w_lin)
        ra = None
        if prob.q:
            ra = -res["rd_a"] if res.get("rd_a") is not None else torch.zeros(prob.q, dtype=rt.dtype,
                                                                               device=rt.device)
        if prob.hinge:
            # xi eliminated: (th0 + th1) dxi + th1 y dyhat = r_xi; written so that no two
            # large (theta-scaled) terms are subtracted
            zero_n = torch.zeros_like(y)
            rd_xi = res.get("rd_xi") if res.get("rd_xi") is not None else zero_n
            rp_h = res.get("rp_h") if res.get("rp_h") is not None else torch.zeros_like(sc["lam_h"])
            th0, th1 = sc["th_h"][0], sc["th_h"][1]
            tot_h = th0 + th1
            q_h = (rc_h / sc["lam_h"]) if rc_h is not None else torch.zeros_like(sc["lam_h"])
            aq = sc["rh"] * q_h  # a_i q_i
            rp0, rp1 = rp_h[0], rp_h[1]
            harm = th0 * th1 / tot_h
            base = (-rd_xi + aq[0] + aq[1]) / tot_h
            extra = y * ((th0 * aq[1] - th1 * aq[0] + th1 * rd_xi) / tot_h - harm * (rp1 - rp0))
            rv = rv + blocks.adjoint(extra)
            if prob.q:
                ra = ra + prob.F.T @ extra
        dt, dv, da = kkt.solve(rt, rv, ra)
        last = math.inf
        for _ in range(self.refine_reduced if (kkt.mode == "n" and prob.hinge) else 0):
            kt, kv, ka = kkt.apply(dt, dv, da)
            et, ev = rt - kt, rv - kv
            ea = (ra - ka) if prob.q else None
            err = _amax(et, ev, ea)
            if err <= 1e-15 * max(_amax(rt, rv, ra), 1e-300) or not err < 0.5 * last:
                break  # converged, or refinement stopped helping
            last = err
            ct, cv, ca = kkt.solve(et, ev, ea)
            dt, dv = dt + ct, dv + cv
            if prob.q:
                da = da + ca
        # scaled slack and dual directions
        gs_soc = torch.cat([dt[:, None], dv * pen], 1)
        if rp_soc is not None:
            gs_soc += rp_soc
        dst_soc = _rowvec(gs_soc, Wi)
        dzt_soc = -dst_soc if q_soc is None else q_soc - dst_soc
        gs_lin = A.apply(dv) if A.width else torch.zeros_like(st.s_lin)
        if rp_lin is not None:
            gs_lin += rp_lin
        gs_lin *= rm
        dst_lin = rl * gs_lin
        dzt_lin = -dst_lin if q_lin is None else (q_lin - dst_lin) * rm
        out = dict(t=dt, v=dv, a=da, xi=None, s_soc=gs_soc, z_soc=_rowvec(dzt_soc, Wi),
                   s_lin=gs_lin, z_lin=rl * dzt_lin, s_h=None, z_h=None,
                   dst_soc=dst_soc, dzt_soc=dzt_soc, dst_lin=dst_lin, dzt_lin=dzt_lin)
        if prob.hinge:
            dyhat = blocks.predict(dv)
            if prob.q:
                dyhat = dyhat + prob.F @ da
            ydy = y * dyhat
            gs_h = torch.stack([base + th1 / tot_h * (rp0 - rp1 - ydy),
                                base + th0 / tot_h * (ydy + rp1 - rp0)])
            dxi = gs_h[0] - rp0
            dst_h = sc["rh"] * gs_h
            dzt_h = q_h - dst_h
            out.update(xi=dxi, s_h=gs_h, z_h=sc["rh"] * dzt_h, dst_h=dst_h, dzt_h=dzt_h)
        return out

    def _dual_equation(self, prob, A, res, dd):
        r"""Residual of the linearized dual equation
        :math:`r_d + \nabla^2 f\,\Delta x - G^\top\Delta z` of a direction, per variable."""
        blocks = prob.blocks
        dy = blocks.predict(dd["v"])
        if prob.q:
            dy = dy + prob.F @ dd["a"]
        g = res["hess"] * dy
        if prob.hinge:
            g = g - prob.y * dd["z_h"][1]
        e_t = res["rd_t"] - dd["z_soc"][:, 0]
        e_v = res["rd_v"] + blocks.adjoint(g) - blocks.pen * dd["z_soc"][:, 1:]
        if A.width:
            e_v = e_v - A.adjoint(dd["z_lin"] * A.mask)
        e_a = (res["rd_a"] + prob.F.T @ g) if prob.q else None
        e_xi = (res["rd_xi"] - dd["z_h"][0] - dd["z_h"][1]) if prob.hinge else None
        return dict(rd_t=e_t, rd_v=e_v, rd_a=e_a, rd_xi=e_xi)

    def _max_step(self, prob, sc, dd):
        """Largest step keeping the scaled iterates lambda + a*ds~, lambda + a*dz~ in the
        cones (equivalent to s + a ds, z + a dz, since W maps the cone onto itself)."""
        torch = _torch()
        a = min(_soc_step(sc["lam_soc"], torch.stack([dd["dst_soc"], dd["dzt_soc"]])),
                _lin_step(sc["lam_lin"], torch.stack([dd["dst_lin"], dd["dzt_lin"]])))
        if prob.hinge:
            a = min(a, _lin_step(sc["lam_h"], torch.stack([dd["dst_h"], dd["dzt_h"]])))
        return a

    # -- initial point ----------------------------------------------------------------
    def initial_state(self, prob: Subproblem) -> IPMState:
        r"""CVXOPT-style start: with :math:`\Theta = I`, solve
        :math:`(\nabla^2 f + G^\top G)x = -\nabla f(0) - c + G^\top h` (a ridge problem),
        take :math:`s = Gx - h`, :math:`z = -s` (dual feasible for a quadratic loss) and
        shift both into the cones' interiors."""
        torch = _torch()
        blocks = prob.blocks
        m, d, n = blocks.m, blocks.dim, blocks.n
        dt_, dev = blocks.Xt.dtype, blocks.Xt.device
        A = RowOps.of(blocks)
        zeros_h = torch.zeros(2, n, dtype=dt_, device=dev) if prob.hinge else None
        st = IPMState(t=torch.zeros(m, dtype=dt_, device=dev), v=torch.zeros(m, d, dtype=dt_, device=dev),
                      a=torch.zeros(prob.q, dtype=dt_, device=dev),
                      xi=torch.zeros(n, dtype=dt_, device=dev) if prob.hinge else None,
                      s_soc=None, z_soc=None, s_lin=None, z_lin=None, s_h=zeros_h, z_h=zeros_h)
        yhat0 = torch.zeros(n, dtype=dt_, device=dev)
        _, grad, hess = loss_terms(prob.loss, yhat0, prob.y)
        Bs = torch.diag_embed(blocks.pen) + 1e-8 * torch.eye(d, dtype=dt_, device=dev)
        if A.width:
            Bs = Bs + A.gram(A.mask)
        H = hess.clone()
        if prob.hinge:
            H = H + 0.5
        kkt = KKTSolver(prob, torch.ones(m, dtype=dt_, device=dev),
                        torch.zeros(m, d, dtype=dt_, device=dev), Bs, H, 1e-8)
        # rhs = -grad f(0) - c + G^T h
        g = grad.clone()
        if prob.hinge:
            g = g - prob.y  # G^T h through the eliminated xi (h = 1 on the margin rows)
        rt = torch.full((m,), -prob.beta, dtype=dt_, device=dev)
        rv = -blocks.adjoint(g)
        ra = -(prob.F.T @ g) if prob.q else None
        t, v, a = kkt.solve(rt, rv, ra)
        s_soc = torch.cat([t[:, None], v * blocks.pen], 1)
        s_lin = (A.apply(v) if A.width else torch.zeros(m, 0, dtype=dt_, device=dev))
        st.t, st.v = t, v
        if prob.q:
            st.a = a
        parts = [("soc", s_soc), ("lin", s_lin)]
        if prob.hinge:
            yhat = prob.predict(v, st.a)
            xi = 0.5 * (1.0 - prob.y * yhat)  # minimizer of xi^2 + (xi + y yhat - 1)^2
            st.xi = xi
            parts.append(("h", torch.stack([xi, xi + prob.y * yhat - 1.0])))
        rm = blocks.rmask
        shifted = {}
        for sign in (1.0, -1.0):
            worst = -math.inf
            for name, s in parts:
                if name == "soc":
                    e = sign * s[:, 0] - s[:, 1:].norm(dim=1)
                    worst = max(worst, float((-e).max()) if e.numel() else -math.inf)
                elif name == "lin":
                    if s.numel() and bool(rm.any()):
                        worst = max(worst, float((-sign * s)[rm].max()))
                elif s.numel():
                    worst = max(worst, float((-sign * s).max()))
            shift = (1.0 + worst) if worst >= 0 else 0.0
            for name, s in parts:
                val = sign * s
                if name == "soc":
                    val = val.clone()
                    val[:, 0] += shift
                else:
                    val = val + shift
                    if name == "lin":
                        val = torch.where(rm, val, torch.ones_like(val))
                shifted[(sign, name)] = val
        st.s_soc, st.z_soc = shifted[(1.0, "soc")], shifted[(-1.0, "soc")]
        st.s_lin, st.z_lin = shifted[(1.0, "lin")], shifted[(-1.0, "lin")]
        if prob.hinge:
            st.s_h, st.z_h = shifted[(1.0, "h")], shifted[(-1.0, "h")]
        if self.init == "balanced":
            # duals on the scale of the dual problem: z_soc = (beta, 0) (so the t-residual
            # is 0), hinge multipliers 1/2, and centered row multipliers z = mu0 / s
            st.z_soc = torch.zeros_like(st.s_soc)
            st.z_soc[:, 0] = prob.beta
            mu0 = float((st.s_soc[:, 0] * prob.beta).mean()) if m else 1.0
            st.z_lin = torch.where(rm, mu0 / st.s_lin, torch.ones_like(st.s_lin))
            if prob.hinge:
                st.z_h = torch.full_like(st.s_h, 0.5)
                st.s_h = torch.maximum(st.s_h, torch.full_like(st.s_h, 2 * mu0))
        return st

    # -- rows that join during the method ---------------------------------------------
    def add_rows(self, prob: Subproblem, st: IPMState, b_idx, j_idx) -> IPMState:
        r"""Append the cone rows (local block ``b_idx``, sample ``j_idx``) to the subproblem
        and the iterate.  A row :math:`a^\top v \ge 0` that v violates gets the slack
        :math:`s = \max(|a^\top v|, \sqrt\mu)` -- its primal residual
        :math:`a^\top v - s` is then reduced like every other (infeasible start) -- and
        the multiplier :math:`z = \mu / s`, which puts the new pair on the central path."""
        torch = _torch()
        blocks = prob.blocks
        tot, nu = self._mu(prob, st)
        mu = tot / nu
        b_idx, j_idx, slot = blocks.add_rows(b_idx, j_idx)
        s_lin, z_lin = st.s_lin, st.z_lin
        pad = blocks.rows.shape[1] - s_lin.shape[1]
        if pad > 0:  # the row table widened: pad the iterate (masked slots hold ones)
            ones = torch.ones(blocks.m, pad, dtype=s_lin.dtype, device=s_lin.device)
            s_lin, z_lin = torch.cat([s_lin, ones], 1), torch.cat([z_lin, ones], 1)
        else:
            s_lin, z_lin = s_lin.clone(), z_lin.clone()
        sg = 2.0 * blocks.D[j_idx, blocks.pat[b_idx]].to(blocks.Xt.dtype) - 1.0
        val = sg * (blocks.Xt[j_idx] * st.v[b_idx]).sum(1)
        s_new = torch.clamp(val.abs(), min=math.sqrt(max(mu, 1e-300)))
        s_lin[b_idx, slot] = s_new
        z_lin[b_idx, slot] = mu / s_new
        self.rows_added += int(b_idx.numel())
        self.last_added = (b_idx, j_idx, slot)
        return IPMState(t=st.t, v=st.v, a=st.a, xi=st.xi, s_soc=st.s_soc, z_soc=st.z_soc,
                        s_lin=s_lin, z_lin=z_lin, s_h=st.s_h, z_h=st.z_h)

    # -- main loop --------------------------------------------------------------------
    def solve(self, prob: Subproblem, state: IPMState | None = None, *,
              time_limit: float = math.inf, separate=None, monitor=None) -> IPMResult:
        """Run the method from ``state`` (or :meth:`initial_state`); returns the best
        iterate (smallest of the relative gap and residuals) with its status.

        ``separate(v)``, when given, is called before every iteration after the first
        :data:`SEPARATE_FROM` and returns the (block, sample) pairs of cone rows that
        ``v`` violates and the blocks do not hold yet (or None); they join the
        subproblem at once (:meth:`add_rows`) instead of restarting the method."""
        torch = _torch()
        t0 = time.perf_counter()
        st = self.initial_state(prob) if state is None else state
        blocks = prob.blocks
        A = RowOps.of(blocks)
        history = []
        status, it = "iteration_limit", 0
        pres = dres = gap = math.inf
        pobj = math.nan
        best = None
        self.rows_added = 0
        for it in range(self.max_iter + 1):
            if separate is not None and it >= SEPARATE_FROM:
                found = separate(st.v)
                if found is not None and found[0].numel():
                    st = self.add_rows(prob, st, *found)
                    A = A.with_rows(blocks, *self.last_added)
                    best = None  # the iterates before had fewer rows
            res = self._residuals(prob, st, A)
            pobj = res["pobj"]
            tot, nu = self._mu(prob, st)
            if not (math.isfinite(pobj) and math.isfinite(tot)) or not bool(torch.isfinite(res["rd_v"]).all()):
                status = "failed" if best is None else "stalled"  # numerical breakdown
                break
            mu = tot / nu
            scale = max(1.0, abs(pobj))
            pres = _amax(res["rp_soc"], res["rp_lin"], res["rp_h"]) / (1.0 + _amax(st.t, st.v))
            dres = _amax(res["rd_t"], res["rd_v"], res["rd_a"], res["rd_xi"]) / max(res["rd_scale"], 1e-300)
            gap = tot / scale
            history.append((pobj, mu, pres, dres))
            if self.verbose:
                print(f"  ipm {it:3d}  p={pobj:.10e}  gap={gap:.2e}  pres={pres:.2e}  dres={dres:.2e}"
                      f"  rows={int(blocks.rmask.sum())}")
            merit = max(gap, pres, dres)
            if best is None or merit < best[2]:
                best = (st, (pobj, gap, pres, dres), merit, it)
            if merit <= self.tol:
                status = "optimal"
                break
            if monitor is not None and monitor(it, st, gap, pres):
                status = "stopped"
                break
            if best[2] <= 1e-5 and (merit > 1e3 * best[2] or it - best[3] >= 5):
                status = "stalled"  # roundoff floor: the residuals grow again or stall
                break
            if it == self.max_iter or time.perf_counter() - t0 > time_limit:
                break
            (btt, bvt, Bs), H, sc = self._scalings(prob, st, A, res["hess"])
            try:
                kkt = KKTSolver(prob, btt, bvt, Bs, H, self.regularization)
            except RuntimeError as exc:  # lost positive definiteness: numerical breakdown
                if self.verbose:
                    print("  ipm: factorization failed:", str(exc)[:200])
                status = "stalled"
                break
            # 1) affine (predictor) direction: the residuals with the complementarity
            #    right-hand side -lambda o lambda
            rc_soc = -_jprod(sc["lam_soc"], sc["lam_soc"])
            rc_lin = -sc["lam_lin"] ** 2
            rc_h = -sc["lam_h"] ** 2 if prob.hinge else None
            da = self._direction(prob, st, A, res, sc, kkt, rc_soc, rc_lin, rc_h)
            alpha = min(1.0, self._max_step(prob, sc, da))
            # 2) centering parameter sigma = (mu_aff / mu)^3
            aff = _step_state(st, da, alpha)
            tot_aff, _ = self._mu(prob, aff)
            sigma = min(1.0, max(0.0, tot_aff / tot)) ** 3
            # 3) combined direction with the second-order (Mehrotra) correction; the
            #    direction is linear in the right-hand sides, so it is the affine one plus
            #    the direction of the change (one solve, not two)
            e = torch.zeros_like(st.s_soc)
            e[:, 0] = 1.0
            c_soc = -_jprod(da["dst_soc"], da["dzt_soc"]) + sigma * mu * e
            c_lin = (-da["dst_lin"] * da["dzt_lin"] + sigma * mu) * A.mask
            c_h = (-da["dst_h"] * da["dzt_h"] + sigma * mu) if prob.hinge else None
            dd = _add(da, self._direction(prob, st, A, None, sc, kkt, c_soc, c_lin, c_h))
            amax = self._max_step(prob, sc, dd)
            # 4) Gondzio's multiple centrality correctors (they reuse the factorization)
            for _ in range(self.correctors):
                if amax >= 1.0:
                    break
                target = min(1.0, amax + self.corrector_step)
                v_soc, v_lin, v_h = _gondzio_rhs(sc, dd, target, sigma * mu, A.mask, prob.hinge)
                trial = _add(dd, self._direction(prob, st, A, None, sc, kkt, v_soc, v_lin, v_h))
                a_new = self._max_step(prob, sc, trial)
                if a_new < amax + 0.1 * self.corrector_step:
                    break
                dd, amax = trial, a_new
            # 5) iterative refinement on the unreduced dual equation
            #    grad^2 f dx - G^T dz = -r_d (the reduced solve loses the small residual
            #    against the large scaling terms; its correction has a small right side)
            last, rd_scale = math.inf, _amax(res["rd_t"], res["rd_v"], res["rd_a"], res["rd_xi"])
            for _ in range(self.refine):
                err = self._dual_equation(prob, A, res, dd)
                e = _amax(*err.values())
                if e <= 1e-3 * max(rd_scale, 1e-300) or not e < 0.5 * last:
                    break
                last = e
                fix = dict(rd_t=err["rd_t"], rd_v=err["rd_v"], rd_a=err["rd_a"], rd_xi=err["rd_xi"])
                trial = _add(dd, self._direction(prob, st, A, fix, sc, kkt, None, None, None))
                e_new = _amax(*self._dual_equation(prob, A, res, trial).values())
                if not e_new < e:
                    break  # the correction made it worse: keep the direction
                dd = trial
                amax = self._max_step(prob, sc, dd)
            alpha = min(1.0, self.step_fraction * amax)
            if self.verbose:
                print(f"        sigma={sigma:.2e} alpha={alpha:.3f} schur columns={kkt.kept}")
            st = _step_state(st, dd, alpha)
        if best is not None and status != "optimal":
            st, (pobj, gap, pres, dres) = best[0], best[1]  # the best iterate seen
        return IPMResult(state=st, status=status, iterations=it, primal=pobj, gap=gap, pres=pres,
                         dres=dres, time=time.perf_counter() - t0, history=history)


def _add(d1, d2):
    """Sum of two directions (dicts of tensors, None entries kept)."""
    return {k: (None if d1[k] is None else d1[k] + d2[k]) for k in d1}


def _clip_target(p, lo, hi):
    """Gondzio's correction of a product p towards [lo, hi], large reductions capped."""
    torch = _torch()
    v = torch.clamp(p, min=lo, max=hi) - p
    return torch.clamp(v, min=-hi)


def _gondzio_rhs(sc, dd, target, mu_t, rmask, hinge, beta_min=0.1, beta_max=10.0):
    r"""Complementarity right-hand sides of a centrality corrector: the products at the
    trial step, :math:`(\lambda + \tilde\alpha\tilde{ds})\circ(\lambda + \tilde\alpha\tilde{dz})`,
    moved into :math:`[\beta_{min}\mu_t, \beta_{max}\mu_t]` (for a second-order cone,
    its two spectral values)."""
    torch = _torch()
    lo, hi = beta_min * mu_t, beta_max * mu_t
    lam = sc["lam_soc"]
    p = _jprod(lam + target * dd["dst_soc"], lam + target * dd["dzt_soc"])
    n1 = torch.linalg.norm(p[:, 1:], dim=1)
    u = p[:, 1:] / n1.clamp(min=1e-300)[:, None]
    l1, l2 = p[:, 0] - n1, p[:, 0] + n1
    c1, c2 = _clip_target(l1, lo, hi), _clip_target(l2, lo, hi)
    v_soc = torch.cat([(0.5 * (c1 + c2))[:, None], (0.5 * (c2 - c1))[:, None] * u], 1)
    ll = sc["lam_lin"]
    pl = (ll + target * dd["dst_lin"]) * (ll + target * dd["dzt_lin"])
    v_lin = _clip_target(pl, lo, hi) * rmask
    v_h = None
    if hinge:
        lh = sc["lam_h"]
        v_h = _clip_target((lh + target * dd["dst_h"]) * (lh + target * dd["dzt_h"]), lo, hi)
    return v_soc, v_lin, v_h


def _amax(*tensors) -> float:
    """Largest absolute entry over tensors (None and empty ones skipped)."""
    return max((float(x.abs().max()) for x in tensors if x is not None and x.numel()), default=0.0)


def _step_state(st: IPMState, dd, alpha) -> IPMState:
    def upd(x, dx):
        return None if x is None else (x if dx is None else x + alpha * dx)

    return IPMState(t=upd(st.t, dd["t"]), v=upd(st.v, dd["v"]), a=upd(st.a, dd["a"]),
                    xi=upd(st.xi, dd["xi"]), s_soc=upd(st.s_soc, dd["s_soc"]),
                    z_soc=upd(st.z_soc, dd["z_soc"]), s_lin=upd(st.s_lin, dd["s_lin"]),
                    z_lin=upd(st.z_lin, dd["z_lin"]), s_h=upd(st.s_h, dd["s_h"]),
                    z_h=upd(st.z_h, dd["z_h"]))
