r"""The cone rows of the working-set solver: the store of every block's working rows,
the initial rows nearest to a block's gate, and the rows an interior-point solution is
tight on.

Row j of block b is :math:`a = (2D_{j i_b} - 1)\tilde x_j`, one facet candidate of the
cone :math:`K_b = \{v: (2D_{i_b} - I)\tilde Xv \ge 0\}`.
"""

from __future__ import annotations

import math

from ..core.blas import matmul
from ..core.lazy import torch_module as _torch
from .blocks import BlockSet, append_rows
from .subproblem import IPMState

#: Floats of the (n, blocks) temporaries of one chunked scan.
CHUNK_ROWS = 8 * 1024**2


class RowStore:
    r"""The working cone rows of every block of the program (padded), with membership.

    A row j of block b is *violated* at :math:`v_b` when its normalized value
    :math:`\zeta_{jb} = (2D_{jb}-1)\tilde x_j^\top v_b / (\|\tilde x_j\|\|v_b\|)` is below
    ``-tol``.  The store holds O(nP) booleans plus the rows' indices, never their values.
    """

    def __init__(self, universe: BlockSet):
        torch = _torch()
        self.universe = universe
        dev = universe.Xt.device
        self.rows = torch.zeros(universe.m, 0, dtype=torch.long, device=dev)
        self.rmask = torch.zeros(universe.m, 0, dtype=torch.bool, device=dev)
        self.inset = torch.zeros(universe.m, universe.n_rows, dtype=torch.bool, device=dev)  # a row per block
        self.row_norms = torch.linalg.norm(universe.Xt, dim=1).clamp(min=1e-300)
        self.XnT = (universe.Xt / self.row_norms[:, None]).T.contiguous()

    @property
    def total(self) -> int:
        return int(self.rmask.sum())

    def add(self, b_idx, j_idx) -> int:
        """Add rows (block index into the program's blocks, sample index); returns the
        number that were new."""
        torch = _torch()
        if b_idx.numel() == 0:
            return 0
        u = self.universe
        key = torch.unique(b_idx * u.n_rows + j_idx)
        b_idx, j_idx = key // u.n_rows, key % u.n_rows
        keep = ~self.inset[b_idx, j_idx] & ~u.linear[b_idx]
        b_idx, j_idx = b_idx[keep], j_idx[keep]
        if b_idx.numel() == 0:
            return 0
        self.rows, self.rmask, b_idx, j_idx, _ = append_rows(self.rows, self.rmask, b_idx, j_idx)
        self.inset[b_idx, j_idx] = True
        return int(b_idx.numel())

    def view(self, ws):
        """(rows, rmask) of the blocks ``ws``, trimmed to their widest row count."""
        rm = self.rmask[ws]
        width = int(rm.sum(1).max()) if rm.numel() else 0
        return self.rows[ws][:, :width].contiguous(), rm[:, :width].contiguous()

    def violated(self, blocks: BlockSet, ws, V, tol: float, max_add: int):
        """(program block, sample) pairs of violated rows of the working blocks at V."""
        torch = _torch()
        vn = torch.linalg.norm(V, dim=1)
        live = (vn > 0) & ~blocks.linear
        U = V / vn.clamp(min=1e-300)[:, None]
        full = ws.numel() == self.universe.m  # ws sorted and unique: the identity
        out_b, out_j = [], []
        for sl in blocks._chunks():
            # a row per block: normalized row values (m, n), rows in the set excluded
            zeta = rows_times(self.XnT, U[sl]).mul_(blocks.signs_t(sl))
            cand = (zeta < -tol) & ~(self.inset[sl] if full else self.inset[ws[sl]])
            rows = torch.nonzero(cand.any(1) & live[sl])[:, 0]  # usually few blocks
            if not rows.numel():
                continue
            z = torch.where(cand[rows], zeta[rows], math.inf)
            k = min(max_add, z.shape[1])
            vals, idx = torch.topk(z, k, dim=1, largest=False)
            ok = torch.isfinite(vals)
            bb = ws[sl][rows][:, None].expand(-1, k)
            out_b.append(bb[ok])
            out_j.append(idx[ok])
        if not out_b:
            return None
        return torch.cat(out_b), torch.cat(out_j)


def rows_times(XT, U):
    r""":math:`U X^\top` for U (m, d), X^T (d, n): shape (m, n), C-contiguous (on the CPU by
    scipy's BLAS, several times faster than torch's matmul for these shapes)."""
    torch = _torch()
    if U.device.type != "cpu":
        return U @ XT
    # X U^T as a Fortran-ordered (n, m) array from Fortran views of both factors (no
    # copies); its transpose is the C-contiguous (m, n) result
    return torch.from_numpy(matmul(XT.numpy().T, U.contiguous().numpy().T).T)


def nearest_rows(program, universe: BlockSet, idx, k: int):
    r"""(block, sample) pairs: for each block of ``idx``, the k rows whose hyperplanes are
    nearest in angle to a point of its cone -- the pattern's gate when known, else
    :math:`\tilde X^\top(2D_i - 1)` (a ranking only).  At an optimum a block lies on a
    face of its cone, and these rows hold its facets with high probability; the rest are
    checked afterwards."""
    torch = _torch()
    Xt = universe.Xt
    idx = idx[~universe.linear[idx]]
    k = min(k, universe.n_rows)
    if idx.numel() == 0 or k == 0:
        empty = torch.zeros(0, dtype=torch.long, device=Xt.device)
        return empty, empty
    G = program.patterns.gates
    rn = torch.linalg.norm(Xt, dim=1).clamp(min=1e-300)
    out_b, out_j = [], []
    step = max(1, CHUNK_ROWS // max(universe.n_rows, 1))
    for lo in range(0, idx.numel(), step):
        b = idx[lo:lo + step]
        S = 2.0 * universe.D[:, universe.pat[b]].to(Xt.dtype) - 1.0
        if G is not None and G.shape == (program.n_patterns, Xt.shape[1]):
            U = torch.as_tensor(G, dtype=Xt.dtype, device=Xt.device)[universe.pat[b]]
        else:
            U = (S.T @ Xt) / universe.n_rows
        zeta = (Xt @ U.T) * S / rn[:, None]
        _, j = torch.topk(zeta, k, dim=0, largest=False)  # (k, |b|)
        out_b.append(b[None, :].expand(k, -1).reshape(-1))
        out_j.append(j.reshape(-1))
    return torch.cat(out_b), torch.cat(out_j)



def tight_rows(blocks: BlockSet, st: IPMState):
    """Per working block, the rows an interior-point solution is tight on (z > s, sorted
    by z/s), padded with -1: the warm start of the projections."""
    torch = _torch()
    rm = blocks.rmask
    ratio = torch.where(rm, st.z_lin / st.s_lin.clamp(min=1e-300), torch.zeros_like(st.s_lin))
    k = min(blocks.dim - 1, ratio.shape[1])
    vals, order = torch.topk(ratio, k, dim=1)
    rows = blocks.rows.gather(1, order)
    return torch.where(vals > 1.0, rows, torch.full_like(rows, -1))

