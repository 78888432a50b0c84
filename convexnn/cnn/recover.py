r"""From a solution of the CNN program to a convolutional network with the same objective
(THEORY A.4 on the stacked patches, D).

Each active block :math:`b` (pattern i, sign :math:`\sigma`) gives one filter
:math:`u = b/\sqrt{\|b\|}` (its last entry the bias when hidden biases exist) with output
weight :math:`\alpha = \sigma\sqrt{\|b\|}`.  On its cone
:math:`D_iZb = (Zb)_+`, so the filter's pooled output
:math:`\alpha\rho\sum_k(\tilde x_k^\top u)_+ = \sigma PD_iZb` is the block's prediction,
and :math:`\tfrac12(\|u\|^2 + \alpha^2) = \|b\|` its penalty: same objective.  Pruning
(:func:`convexnn.core.pruning.prune_blocks`) removes linearly dependent filters without
raising the penalty (at most n stay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.conv import Conv
from ..core.pruning import prune_blocks
from ..core.solution import ConvexSolution
from ..networks.conv import ConvNetwork

if TYPE_CHECKING:
    from .program import ConvProgram

#: Relative size below which a block is solver noise.
NOISE_TOL = 1e-9
#: Dependence tolerances of the pruning: exact, and the merging candidate (near-parallel
#: filters of an interior-point solution folded into one).
PRUNE_RTOL = 1e-9
MERGE_RTOL = 1e-6


def active_blocks(program: ConvProgram, sol: ConvexSolution, tol: float
                  ) -> list[tuple[int, float, np.ndarray]]:
    """(pattern, sign, block) of the blocks above ``tol`` times the largest norm, where that
    norm is above the solvers' accuracy (1e-7 of the objective, over beta)."""
    nv, nw = np.linalg.norm(sol.V, axis=1), np.linalg.norm(sol.W, axis=1)
    top = float(max(nv.max(initial=0.0), nw.max(initial=0.0)))
    if top <= 1e-7 * max(1.0, abs(program.objective(sol))) / program.beta:
        return []
    return ([(i, 1.0, sol.V[i]) for i in np.flatnonzero(nv > tol * top)]
            + [(i, -1.0, sol.W[i]) for i in np.flatnonzero(nw > tol * top)])


def conv_network(program, U: np.ndarray, W2: np.ndarray, c0) -> ConvNetwork:
    r"""The CNN with lifted filters U (m, h) or (m, h + 1) (the last entry the bias when
    hidden biases exist), output weights W2 (m,) or (m, c) and output constant c0, on
    ``program``'s convolution (a :class:`ConvProgram` or the vector program)."""
    C = program.shape[0]
    ph, pw = program.conv.kernel(program.shape)
    h = C * ph * pw
    m = U.shape[0]
    b1 = U[:, h] if program.variant.has_bias else np.zeros(m)
    conv = Conv(patch=(ph, pw), stride=program.conv.strides(program.shape),
                pooling=program.conv.pooling)
    return ConvNetwork(filters=U[:, :h].reshape(m, C, ph, pw), W2=W2, conv=conv, b1=b1, c0=c0,
                       regularize_bias=program.variant.regularized_bias,
                       training=program.training_settings())


def _network(program: ConvProgram, blocks, c0: float) -> ConvNetwork:
    """The balanced CNN of the blocks (module docstring)."""
    r = np.array([np.sqrt(np.linalg.norm(b)) for _, _, b in blocks])
    U = np.array([b for _, _, b in blocks]).reshape(len(blocks), program.Xt.shape[1])
    signs = np.array([s for _, s, _ in blocks])
    return conv_network(program, U / np.where(r > 0, r, 1.0)[:, None], signs * r, c0)


def _recover(program: ConvProgram, sol: ConvexSolution, *, prune: bool, tol: float,
             rtol: float = PRUNE_RTOL) -> ConvNetwork:
    blocks = active_blocks(program, sol, tol)
    c0 = sol.c
    if prune and blocks:
        fits = np.stack([s * program.pool(np.maximum(program.Xt @ b, 0.0)) for _, s, b in blocks],
                        axis=1)
        rho = np.array([np.linalg.norm(b) for _, _, b in blocks])
        scale, a = prune_blocks(fits, rho, program.free_basis, rtol=rtol)
        blocks = [(i, s, b * t) for (i, s, b), t in zip(blocks, scale) if t > 0]
        if a.size:
            c0 += float(a[0])
    return _network(program, blocks, c0)


def recover(program: ConvProgram, sol: ConvexSolution, *, prune: bool = True,
            tol: float = 1e-6) -> ConvNetwork:
    r"""The CNN of ``sol`` (module docstring).

    As for two layers, candidates are built -- blocks below ``tol`` times the largest
    dropped and near-dependent filters merged (:data:`MERGE_RTOL`), the same with exact
    dependence only, and only blocks below :data:`NOISE_TOL` dropped (exact to the
    solver's accuracy) -- and the smallest whose objective is within 1e-9 (relative) of
    the exact one's is returned.
    """
    exact = _recover(program, sol, prune=prune, tol=min(tol, NOISE_TOL))
    if tol <= NOISE_TOL:
        return exact
    f_exact = program.network_objective(exact)
    for rtol in (MERGE_RTOL, PRUNE_RTOL) if prune else (PRUNE_RTOL,):
        small = _recover(program, sol, prune=prune, tol=tol, rtol=rtol)
        if program.network_objective(small) <= f_exact + NOISE_TOL * max(1.0, abs(f_exact)):
            return small
    return exact


__all__ = ["active_blocks", "conv_network", "recover"]
