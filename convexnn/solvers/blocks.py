r"""Operator form of a working set of blocks of the two-layer convex programs (torch).

A *block* b is a pattern :math:`D_{i_b}` with a sign :math:`\sigma_b` (C-ReLU: one
block per pattern and sign; C-GReLU: one per pattern).  Its prediction and cone rows are

.. math::
    M_b v = \sigma_b D_{i_b}\tilde X v, \qquad
    A_{b} v = (2D_{i_b} - I)\tilde X v \ge 0,

so that the prediction of a working set S is :math:`\hat y = \sum_{b\in S} M_b v_b + F a`
with F an orthonormal basis of the free terms (skip :math:`X`, constant 1).  Nothing
here forms the :math:`n \times d'|S|` matrix :math:`[M_1 \cdots M_{|S|}]`: products are
computed as :math:`\tilde X V^\top` masked by the patterns, in chunks of blocks so
that temporaries stay within :data:`CHUNK_BYTES`.

Each block also carries

* ``pen`` (d',) bool: the coordinates inside its norm :math:`\|v_{b,\pi}\|` (all of
  them, or the weights only for a free hidden bias; a *linear* block -- the all-on
  pattern under a free bias, which with a free output constant is exactly a regularized
  linear unit :math:`\beta\|w\|` -- penalizes all of them and has no rows);
* ``rows`` (r,) long / ``rmask``: its working cone rows, padded to a common width.

*Pooling* (the two-layer CNN programs, THEORY D): with ``pool`` = K > 1 the rows of
:math:`\tilde X` are K stacked copies :math:`[X_1; \dots; X_K]` (row :math:`kn + j` is
patch k of sample j) and a block's prediction sums them,
:math:`M_bv = \sigma_b\sum_k D^{(k)}_{i_b}X_kv = \sigma_b P D_{i_b}\tilde Xv` with the
pooling :math:`P = [I_n \cdots I_n]`; its cone rows stay the nK rows of
:math:`\tilde X`.  Predictions live in :math:`\mathbb R^n` (``n``), rows are indexed in
:math:`\mathbb R^{nK}` (``n_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.blas import matmul
from ..core.lazy import torch_module as _torch

#: Budget for the float temporaries of one chunked product, in bytes.
CHUNK_BYTES = 64 * 1024**2


@dataclass
class BlockSet:
    """A working set of blocks as torch tensors (see the module docstring).

    Attributes
    ----------
    Xt : Tensor (n, d')
    D : Tensor bool (n, P)
        All patterns of the program (the blocks index into it).
    pat : Tensor long (m,)
    sign : Tensor (m,)
    pen : Tensor (m, d')
        1.0 on penalized coordinates.
    rows : Tensor long (m, r)
    rmask : Tensor bool (m, r)
    linear : Tensor bool (m,)
        Linear blocks (no cone rows, unmasked prediction).
    pool : int, default=1
        K: the rows of Xt are K stacked copies summed into each prediction (module
        docstring); 1 for the two-layer programs.
    """

    Xt: object
    D: object
    pat: object
    sign: object
    pen: object
    rows: object
    rmask: object
    linear: object
    pool: int = 1

    @property
    def m(self) -> int:
        return int(self.pat.shape[0])

    @property
    def n(self) -> int:
        """Size of the predictions (samples)."""
        return int(self.Xt.shape[0]) // self.pool

    @property
    def n_rows(self) -> int:
        """Rows of Xt: the cone rows of a block (n K with pooling)."""
        return int(self.Xt.shape[0])

    def pool_rows(self, Z):
        r""":math:`PZ`: the K stacked row blocks of Z (nK, ...) summed, shape (n, ...)."""
        if self.pool == 1:
            return Z
        return Z.reshape(self.pool, self.n, *Z.shape[1:]).sum(0)

    def spread(self, w):
        r""":math:`P^\top w`: w (n,) repeated for each of the K stacked row blocks."""
        return w if self.pool == 1 else w.repeat(self.pool)

    @property
    def dim(self) -> int:
        return int(self.Xt.shape[1])

    def _cached(self, name: str, build, floats: int):
        """The array ``build()`` kept on the set under ``name`` when its ``floats`` entries
        fit :data:`CHUNK_BYTES`; None (build chunks instead) when they do not."""
        cache = self.__dict__.get(name)
        if cache is None and 8 * floats <= CHUNK_BYTES:
            cache = self.__dict__[name] = build()
        return cache

    def masks(self, sl=slice(None)):
        r"""Signed masks :math:`\sigma_b D_{i_b}` as floats, shape (n, |sl|) (cached when
        the whole (n, m) matrix fits in :data:`CHUNK_BYTES`)."""
        cache = self._cached("_masks", lambda: self._masks(slice(None)), self.n_rows * self.m)
        return self._masks(sl) if cache is None else cache[:, sl]

    def _masks(self, sl):
        Dm = self.D[:, self.pat[sl]].to(self.Xt.dtype)
        return Dm * self.sign[sl][None, :]

    def signs_t(self, sl=slice(None)):
        r""":math:`2D_{i_b} - 1` as floats, a row per block: shape (|sl|, n), C-contiguous
        (cached like :meth:`masks`)."""
        cache = self._cached("_signs_t", lambda: self._signs(slice(None)).T.contiguous(),
                             self.n_rows * self.m)
        return self._signs(sl).T.contiguous() if cache is None else cache[sl]

    def _signs(self, sl):
        return 2.0 * self.D[:, self.pat[sl]].to(self.Xt.dtype) - 1.0

    def _chunks(self):
        if "_masks" in self.__dict__ or 8 * self.n_rows * self.m <= CHUNK_BYTES:
            yield slice(0, self.m)
            return
        step = max(1, CHUNK_BYTES // (8 * max(1, self.n_rows * self.dim)))
        for lo in range(0, self.m, step):
            yield slice(lo, min(self.m, lo + step))

    # -- blocks grouped by pattern ----------------------------------------------------
    @property
    def groups(self):
        r"""The distinct patterns of the blocks: ``(gpat, gidx, slot)`` with ``gpat`` (g,)
        the pattern of each group, ``gidx`` (m,) the group of each block and ``slot`` (m,)
        its position inside the group (C-ReLU: the blocks :math:`v_i` and :math:`w_i`
        share :math:`D_i`, so that every product over blocks can be taken over groups,
        :math:`\sum_b M_bv_b = \sum_g D_g\tilde X\sum_{b\in g}\sigma_bv_b`)."""
        cache = self.__dict__.get("_groups")
        if cache is None:
            torch = _torch()
            gpat, gidx = torch.unique(self.pat, return_inverse=True)
            order = torch.argsort(gidx, stable=True)
            first = torch.searchsorted(gidx[order], gidx[order])
            slot = torch.empty_like(gidx)
            slot[order] = torch.arange(self.m, device=gidx.device) - first
            cache = self.__dict__["_groups"] = (gpat, gidx, slot)
        return cache

    @property
    def n_groups(self) -> int:
        return int(self.groups[0].shape[0])

    def group_masks(self, sl=slice(None)):
        r"""Unsigned masks :math:`D_g` of the groups as floats, shape (n, |sl|) (cached like
        :meth:`masks`).  On the CPU the array is Fortran-ordered (numpy, shared with the
        tensor), the layout BLAS takes without a copy."""
        gpat = self.groups[0]
        cache = self._cached("_gmasks", lambda: self._group_masks(gpat), self.n_rows * gpat.shape[0])
        return self._group_masks(gpat[sl]) if cache is None else cache[:, sl]

    def _group_masks(self, gpat):
        torch = _torch()
        Dg = self.D[:, gpat]
        if Dg.device.type == "cpu":
            return torch.from_numpy(np.asfortranarray(Dg.numpy(), dtype=np.float64))
        return Dg.to(self.Xt.dtype)

    def group_chunks(self):
        """Slices of groups whose (n, |slice|) temporaries fit :data:`CHUNK_BYTES`."""
        g = self.n_groups
        if "_gmasks" in self.__dict__ or 8 * self.n_rows * g <= CHUNK_BYTES:
            yield slice(0, g)
            return
        step = max(1, CHUNK_BYTES // (8 * max(1, self.n_rows * self.dim)))
        for lo in range(0, g, step):
            yield slice(lo, min(g, lo + step))

    def predict(self, V):
        r""":math:`\sum_b M_b v_b = P\sum_g D_g\tilde X u_g`, :math:`u_g = \sum_{b\in g}\sigma_bv_b`,
        for V (m, d'); computed row-wise as :math:`((D_gU)\circ\tilde X)\mathbf 1`, then
        pooled (:meth:`pool_rows`)."""
        torch = _torch()
        gpat, gidx, _ = self.groups
        U = torch.zeros(gpat.shape[0], self.dim, dtype=V.dtype, device=V.device)
        U.index_add_(0, gidx, V * self.sign[:, None])
        if V.device.type == "cpu":
            out = np.zeros(self.n_rows)
            Xn = self.Xt.numpy()
            for sl in self.group_chunks():
                out += (matmul(self.group_masks(sl).numpy(), U[sl].numpy()) * Xn).sum(1)
            return self.pool_rows(torch.from_numpy(out))
        out = torch.zeros(self.n_rows, dtype=self.Xt.dtype, device=self.Xt.device)
        for sl in self.group_chunks():
            out += ((self.group_masks(sl) @ U[sl]) * self.Xt).sum(1)
        return self.pool_rows(out)

    def adjoint(self, w):
        r""":math:`(M_b^\top w)_b = \sigma_b(\tilde X^\top D_gP^\top w)_{g(b)}`, shape (m, d')."""
        torch = _torch()
        gpat, gidx, _ = self.groups
        Xw = self.Xt * self.spread(w)[:, None]
        if w.device.type == "cpu":
            U = torch.from_numpy(np.concatenate(
                [matmul(self.group_masks(sl).numpy(), Xw.numpy(), trans_a=True)
                 for sl in self.group_chunks()]))
        else:
            U = torch.cat([self.group_masks(sl).T @ Xw for sl in self.group_chunks()])
        return U[gidx] * self.sign[:, None]

    def row_matrix(self):
        r"""Working rows :math:`A_{b,R_b}` as a padded tensor (m, r, d') (zero where masked)."""
        torch = _torch()
        if self.rows.shape[1] == 0:
            return torch.zeros(self.m, 0, self.dim, dtype=self.Xt.dtype, device=self.Xt.device)
        S = 2.0 * self.D[self.rows, self.pat[:, None]].to(self.Xt.dtype) - 1.0  # (m, r)
        return (S * self.rmask)[:, :, None] * self.Xt[self.rows]

    def subset(self, idx) -> BlockSet:
        """The blocks ``idx`` (a long tensor), rows included."""
        return BlockSet(Xt=self.Xt, D=self.D, pat=self.pat[idx], sign=self.sign[idx],
                        pen=self.pen[idx], rows=self.rows[idx], rmask=self.rmask[idx],
                        linear=self.linear[idx], pool=self.pool)

    def add_rows(self, b_idx, j_idx):
        """Append rows (block ``b_idx``, sample ``j_idx``; new to their blocks) in place.
        Returns (block, sample, slot) of the appended rows, sorted by block."""
        self.rows, self.rmask, b_idx, j_idx, slot = append_rows(self.rows, self.rmask, b_idx, j_idx)
        return b_idx, j_idx, slot


def append_rows(rows, rmask, b_idx, j_idx):
    """Append (block, sample) pairs to a padded row table ``rows``/``rmask`` (m, r): each
    goes to its block's next free slot, the table widening as needed.  Returns
    (rows, rmask, block, sample, slot), the pairs sorted by block."""
    torch = _torch()
    counts = rmask.sum(1)
    order = torch.argsort(b_idx, stable=True)
    b_idx, j_idx = b_idx[order], j_idx[order]
    first = torch.searchsorted(b_idx, b_idx)  # index of the block's first new row
    slot = counts[b_idx] + (torch.arange(b_idx.numel(), device=b_idx.device) - first)
    pad = int(slot.max()) + 1 - rows.shape[1] if b_idx.numel() else 0
    if pad > 0:
        m = rows.shape[0]
        rows = torch.cat([rows, torch.zeros(m, pad, dtype=rows.dtype, device=rows.device)], 1)
        rmask = torch.cat([rmask, torch.zeros(m, pad, dtype=torch.bool, device=rmask.device)], 1)
    rows[b_idx, slot] = j_idx
    rmask[b_idx, slot] = True
    return rows, rmask, b_idx, j_idx, slot


def orthonormal_free_basis(F: np.ndarray | None) -> np.ndarray | None:
    """Orthonormal basis Q of range(F) (None when F is None or zero)."""
    if F is None or F.shape[1] == 0:
        return None
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return None
    return U[:, s > 1e-10 * s[0]]
