r"""The ReLU neuron program over unit directions, for dense and convolutional first layers.

Over unit directions :math:`u_k` (:math:`\|u_{k\pi}\| = 1`) the group lasso

.. math::
    p_U = \min_{G, A}\ \ell\Big(\sum_k h_kg_k^\top + FA;\ Y\Big) + \beta\sum_k\|g_k\|_2,
    \qquad h_k = P(\tilde Xu_k)_+ ,

has the two-layer network's optimum :math:`p^\star` over all directions and an upper
bound over any subset (THEORY A.10 last bullet, C, D).  :math:`\tilde X` holds the lifted
rows; for a CNN they are the stacked patches :math:`Z` (nK rows, the pooling weight
:math:`\rho` folded in) and :math:`P = [I_n \cdots I_n]` sums each image's K rows
(:math:`K = 1`: a dense layer, :math:`P = I`).  The dual constraint of a direction is
:math:`\|\Lambda^\top P(\tilde Xu)_+\| = \|\tilde\Lambda^\top(\tilde Xu)_+\| \le \beta`
with :math:`\tilde\Lambda = P^\top\Lambda` (Λ repeated K times), so every pricing routine
of :mod:`convexnn.neurons.pricing` applies unchanged to :math:`(\tilde X, \tilde\Lambda)`.

:class:`NeuronProgram` is what the neuron generation (:mod:`convexnn.neurons.pricer`)
needs of a program; the vector kind's :class:`~convexnn.vector.program.VectorProgram` and
the CNN kind's vector program implement it.
"""

from __future__ import annotations

import numpy as np

from ..core.losses import Loss
from ..core.pruning import carrying_weight, prune_blocks
from ..core.solution import VectorSolution


class NeuronProgram:
    r"""The neuron program's data and evaluation (module docstring).

    Subclasses set ``Xt`` (nK, d'), ``pool`` (K), ``y`` (n, c), ``loss``, ``beta``,
    ``penalized`` (d',) and ``free_basis`` (n, q) or None.
    """

    Xt: np.ndarray
    y: np.ndarray
    loss: Loss
    beta: float
    penalized: np.ndarray
    pool: int = 1

    @property
    def n_samples(self) -> int:
        return self.y.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.y.shape[1]

    def pooled(self, H: np.ndarray) -> np.ndarray:
        r""":math:`PH`: the K row blocks of H (nK, ...) summed, shape (n, ...)."""
        if self.pool == 1:
            return H
        return H.reshape(self.pool, self.n_samples, *H.shape[1:]).sum(axis=0)

    def columns(self, U: np.ndarray) -> np.ndarray:
        r"""The master's columns :math:`h_k = P(\tilde Xu_k)_+`, shape (n, K)."""
        return self.pooled(np.maximum(self.Xt @ U.T, 0.0))

    def stacked_dual(self, Lam: np.ndarray) -> np.ndarray:
        r""":math:`\tilde\Lambda = P^\top\Lambda` (Λ repeated K times), shape (nK, c)."""
        return Lam if self.pool == 1 else np.tile(Lam, (self.pool, 1))

    def neuron_predict(self, sol: VectorSolution) -> np.ndarray:
        r""":math:`\sum_k h_kg_k^\top + FA`."""
        F = self.free_basis
        return self.columns(sol.U) @ sol.G + (0.0 if F is None else F @ sol.A)

    def neuron_regularizer(self, sol: VectorSolution) -> float:
        r""":math:`\sum_k\|u_{k\pi}\|\|g_k\|`."""
        return float(np.sum(np.linalg.norm(sol.U[:, self.penalized], axis=1)
                            * np.linalg.norm(sol.G, axis=1)))


def neurons_of(U: np.ndarray, G: np.ndarray, pen: np.ndarray, *, tol: float
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""Balanced neurons of the columns whose weight :math:`\|u_{k\pi}\|\|g_k\|` exceeds
    ``tol`` times the largest: :math:`w_k = u_kr_k/\|u_{k\pi}\|`, :math:`g_kr_k/\|g_k\|`,
    :math:`r_k = (\|u_{k\pi}\|\|g_k\|)^{1/2}` (same fit, penalty
    :math:`\tfrac\beta2(\|w_{k\pi}\|^2 + \|g_k\|^2) = \beta\|u_{k\pi}\|\|g_k\|`)."""
    un = np.linalg.norm(U[:, pen], axis=1)
    gn = np.linalg.norm(G, axis=1)
    keep = carrying_weight(un * gn, tol)
    r = np.sqrt(un[keep] * gn[keep])
    return U[keep] * (r / un[keep])[:, None], G[keep] * (r / gn[keep])[:, None]


def prune_neurons(H: np.ndarray, U: np.ndarray, G: np.ndarray, pen: np.ndarray,
                  F: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Prune neurons whose rank-one fits :math:`h_kg_k^\top` are linearly dependent modulo
    the free terms (THEORY A.3 with vectorized fits; at most nc remain), never raising the
    penalty.  ``H`` (n, m) holds the neurons' hidden columns.  Returns (U, G, A, keep):
    the kept neurons rescaled, the free coefficients A (q, c) to add, and the kept mask."""
    n, c = H.shape[0], G.shape[1]
    fits = (H[:, None, :] * G.T[None, :, :]).reshape(n * c, -1)
    rho = np.linalg.norm(U[:, pen], axis=1) * np.linalg.norm(G, axis=1)
    Fv = None if F is None else np.kron(F, np.eye(c))
    scale, a = prune_blocks(fits, rho, Fv, rtol=1e-9)
    keep = scale > 0
    t = np.sqrt(scale[keep])
    A = a.reshape(-1, c) if a.size else np.zeros((0 if F is None else F.shape[1], c))
    return U[keep] * t[:, None], G[keep] * t[:, None], A, keep


__all__ = ["NeuronProgram", "neurons_of", "prune_neurons"]
