r"""Newton systems of the interior-point method: the structured KKT factorization.

The system :math:`(\nabla^2 f + G^\top\Theta G)\Delta x = \rho` has the structure
:math:`\mathrm{blockdiag}(B_b) + \tilde M^\top H \tilde M` (:math:`H` diagonal, n), so it
is solved through the :math:`n\times n` Woodbury matrix
:math:`I + H^{1/2}\sum_b M_b (B_b^{-1})_{vv} M_b^\top H^{1/2}` or, when the working set has
fewer variables than samples, through the :math:`d'm\times d'm` matrix
:math:`\mathrm{blockdiag}(B) + M^\top HM` (see :class:`KKTSolver`).
"""

from __future__ import annotations

import numpy as np

from ..core.lazy import torch_module as _torch
from ..core.threads import wide_products
from .blocks import BlockSet
from .cone_rows import rowvec
from .subproblem import Subproblem

#: The hinge loss uses the variable-space Newton system up to this many block variables.
DENSE_HINGE_LIMIT = 3000
#: Bytes of one chunk of the Schur-complement factor G (sized to stay in cache).
GRAM_CHUNK_BYTES = 4 * 1024**2


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
            # B_s^{-1} = R^{-T}R^{-1}, formed once: one batched product per block solve,
            # and one (m, d', d') array to stream instead of two
            self.Bsinv = Rinv.transpose(1, 2) @ Rinv
            self.kept = blocks.n_groups * d
            with wide_products(n * n * self.kept + n ** 3 / 3):
                S = _gram_sum(blocks, _group_factors(blocks, Rinv), self.hs)
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
            with wide_products(n * (N + q) ** 2):
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
            with wide_products((N + q) ** 3 / 3):
                self.Kchol = DenseCholesky(K)

    def _block_solve(self, rt, rv):
        """B^{-1}(rt, rv) blockwise, through the Schur complement of t."""
        rv2 = rv - self.bvt * (rt / self.btt)[:, None]
        dv = rowvec(rv2, self.Bsinv)  # symmetric: x^T B^{-1} = (B^{-1}x)^T
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
    if blocks.pool > 1:
        return _pooled_gram_sum(blocks, T, hs)
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


def _pooled_gram_sum(blocks: BlockSet, T, hs):
    r""":func:`_gram_sum` with pooling (:attr:`BlockSet.pool` = K > 1): :math:`G_g =
    \mathrm{diag}(h^{1/2})PD_g\tilde XT_g^\top`, the nK rows of :math:`D_g\tilde XT_g^\top`
    summed into n by the pooling :math:`P` before the product; a full (n, n) tensor."""
    torch = _torch()
    n, rows, d, g = blocks.n, blocks.n_rows, blocks.dim, int(T.shape[0])
    step = max(1, GRAM_CHUNK_BYTES // (8 * max(1, rows * d)))
    S = torch.zeros(n, n, dtype=blocks.Xt.dtype, device=blocks.Xt.device)
    for lo in range(0, g, step):
        sl = slice(lo, min(g, lo + step))
        gc = sl.stop - sl.start
        G = (blocks.Xt @ T[sl].reshape(gc * d, d).T).view(rows, gc, d)
        G = G * blocks.group_masks(sl)[:, :, None]
        G = blocks.pool_rows(G.reshape(rows, gc * d)) * hs[:, None]
        S.addmm_(G, G.T)
    return S


def _weighted_gram(prob: Subproblem, H):
    r""":math:`[M\ F]^\top H [M\ F]`, shape (d'm + q, d'm + q), accumulated over chunks of
    samples (the (n, d'm) matrix M is never held whole).  For the squared loss H = 1 and
    the matrix is computed once per working set (cached on the subproblem).  On the CPU
    it is a Fortran-ordered numpy array whose lower triangle scipy's BLAS syrk
    accumulates (the upper triangle is not set)."""
    torch = _torch()
    blocks = prob.blocks
    constant = prob.loss.constant_hessian
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
    K = blocks.pool  # pooling: output j sums the rows kn + j (k < K) of M
    step = max(1, (64 * 1024**2) // (8 * K * max(N + q, 1)))
    Dm = blocks.masks()
    for lo in range(0, n, step):
        sl = slice(lo, min(n, lo + step))
        if K == 1:
            Mc = (blocks.Xt[sl][:, None, :] * (Dm[sl] * hs[sl, None])[:, :, None]).reshape(-1, N)
        else:
            Xk, Dk = blocks.Xt.view(K, n, d)[:, sl], Dm.view(K, n, m)[:, sl]
            Mc = (Xk[:, :, None, :] * Dk[:, :, :, None]).sum(0).reshape(-1, N) * hs[sl, None]
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


