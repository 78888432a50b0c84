r"""Local descent on the non-convex vector-output objective (numpy + scipy L-BFGS).

.. math::
    F(W, G, A) = \ell\big(P(\tilde XW^\top)_+G + FA;\ Y\big)
        + \tfrac{\beta}{2}\big(\|W_\pi\|_F^2 + \|G\|_F^2\big),

with lifted data :math:`\tilde X` (a bias column for hidden biases; for a CNN the stacked
patches, whose K row blocks the pooling P sums: :mod:`convexnn.neurons.program`), neurons as the rows
:math:`w_k` of W with output weights :math:`g_k` (rows of G, :math:`c` outputs), penalized
coordinates :math:`\pi` and free terms :math:`F` (skip, output constant) with coefficients A.
Neuron generation (:class:`~convexnn.neurons.pricer.NeuronPricer`) uses it twice: a run
from a random start seeds the neuron directions, and runs from the master's network (plus
the priced directions as small neurons) move them.  Every network it returns is a feasible
point of the group lasso over its own directions :math:`u_k = w_k/\|w_{k\pi}\|` with
weights :math:`\|w_{k\pi}\|g_k` and the same objective (THEORY A.10, C), so adding its
directions never makes the master worse than the descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ..core.losses import Loss
from ..core.pruning import carrying_weight
from ..core.threads import limit_blas


@dataclass
class VectorNetwork:
    r"""Neurons on lifted data: rows of W (m, k), output weights G (m, c), free
    coefficients A (q, c) and the objective :math:`F(W, G, A)`."""

    W: np.ndarray
    G: np.ndarray
    A: np.ndarray
    objective: float
    iterations: int = 0

    def columns(self, pen: np.ndarray, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        r"""The group-lasso columns of the network: unit directions
        :math:`u_k = w_k/\|w_{k\pi}\|` and weights :math:`\|w_{k\pi}\|g_k` of the neurons
        whose weight :math:`\|w_{k\pi}\|\|g_k\|` exceeds ``rtol`` times the largest."""
        r = np.linalg.norm(self.W[:, pen], axis=1)
        w = r * np.linalg.norm(self.G, axis=1)
        keep = carrying_weight(w, rtol)
        return self.W[keep] / r[keep, None], self.G[keep] * r[keep, None]


def balanced(U: np.ndarray, G: np.ndarray, pen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Neurons of group-lasso columns (unit :math:`u_k`, weights :math:`g_k \ne 0`):
    :math:`w_k = u_k\sqrt{\|g_k\|}`, :math:`g_k/\sqrt{\|g_k\|}` (same prediction, penalty
    :math:`\tfrac\beta2(\|w_{k\pi}\|^2 + \|g_k\|^2) = \beta\|g_k\|`)."""
    r = np.sqrt(np.linalg.norm(G, axis=1) * np.linalg.norm(U[:, pen], axis=1))
    r = np.where(r > 0, r, 1.0)
    un = np.linalg.norm(U[:, pen], axis=1)
    return U * (r / np.where(un > 0, un, 1.0))[:, None], G / r[:, None]


def _pool(H: np.ndarray, pool: int) -> np.ndarray:
    """The K = ``pool`` row blocks of H summed."""
    return H if pool == 1 else H.reshape(pool, -1, H.shape[1]).sum(axis=0)


def evaluate(Xt: np.ndarray, Y: np.ndarray, *, beta: float, loss: Loss, pen: np.ndarray,
             F: np.ndarray | None, W: np.ndarray, G: np.ndarray,
             A: np.ndarray | None = None, pool: int = 1) -> VectorNetwork:
    r"""The network (W, G, A) with its objective :math:`F(W, G, A)` (no descent)."""
    q = 0 if F is None else F.shape[1]
    A = np.zeros((q, Y.shape[1])) if A is None else A
    Z = _pool(np.maximum(Xt @ W.T, 0.0), pool) @ G + (F @ A if q else 0.0)
    f = loss.value(Z, Y) + 0.5 * beta * (float(np.sum(W[:, pen] ** 2)) + float(np.sum(G * G)))
    return VectorNetwork(W, G, A, float(f))


def descend(Xt: np.ndarray, Y: np.ndarray, *, beta: float, loss: Loss, pen: np.ndarray,
            F: np.ndarray | None, W0: np.ndarray, G0: np.ndarray, A0: np.ndarray | None = None,
            maxiter: int = 300, pool: int = 1) -> VectorNetwork:
    r"""Minimize :math:`F(W, G, A)` by L-BFGS from ``(W0, G0, A0)``.

    With :math:`S = \tilde XW^\top`, :math:`H = PS_+` and :math:`R = \nabla\ell(HG + FA)`:
    :math:`\nabla_G = H^\top R + \beta G`, :math:`\nabla_W = (1[S > 0]\odot P^\top RG^\top)^\top
    \tilde X + \beta W\,\mathrm{diag}(\pi)`, :math:`\nabla_A = F^\top R`
    (:math:`P^\top` repeats the rows K = ``pool`` times).
    """
    m, k = W0.shape
    c = Y.shape[1]
    q = 0 if F is None else F.shape[1]
    A0 = np.zeros((q, c)) if A0 is None else A0
    pm = pen.astype(np.float64)
    sizes = np.cumsum([m * k, m * c])

    def split(x):
        return (x[: sizes[0]].reshape(m, k), x[sizes[0]: sizes[1]].reshape(m, c),
                x[sizes[1]:].reshape(q, c))

    def fg(x):
        W, G, A = split(x)
        S = Xt @ W.T
        H = _pool(np.maximum(S, 0.0), pool)
        Z = H @ G + (F @ A if q else 0.0)
        R = loss.gradient(Z, Y)
        Wp = W * pm
        f = loss.value(Z, Y) + 0.5 * beta * (float(np.sum(Wp * W)) + float(np.sum(G * G)))
        RG = R @ G.T
        gW = ((S > 0) * (RG if pool == 1 else np.tile(RG, (pool, 1)))).T @ Xt + beta * Wp
        gG = H.T @ R + beta * G
        gA = F.T @ R if q else np.zeros((0, c))
        return f, np.concatenate([gW.ravel(), gG.ravel(), gA.ravel()])

    x0 = np.concatenate([W0.ravel(), G0.ravel(), A0.ravel()])
    # one BLAS thread: L-BFGS-B makes many small products (see two_layer.descent)
    with limit_blas(1, n_samples=Y.shape[0]):
        res = minimize(fg, x0, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(maxiter), "gtol": 1e-12, "ftol": 1e-16,
                                "maxcor": 20})
    W, G, A = split(res.x)
    return VectorNetwork(W.copy(), G.copy(), A.copy(), float(res.fun), int(res.nit))


def random_start(k: int, width: int, c: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    r"""A random start at ``nn.Linear`` scale: :math:`w_k \sim U(\pm1/\sqrt k)`,
    :math:`g_k \sim U(\pm1/\sqrt m)` (k the lifted input dimension, m the width)."""
    W = rng.uniform(-1.0, 1.0, (width, k)) / np.sqrt(k)
    G = rng.uniform(-1.0, 1.0, (width, c)) / np.sqrt(width)
    return W, G


__all__ = ["VectorNetwork", "balanced", "descend", "evaluate", "random_start"]
