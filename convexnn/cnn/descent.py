r"""Local descent on the non-convex CNN objective (numpy + scipy L-BFGS), on the stacked
patches.

.. math::
    F(U, \alpha, c) = \ell\big(P(ZU^\top)_+\alpha + c\,1;\ y\big)
        + \tfrac{\beta}{2}\big(\|U\|_F^2 + \|\alpha\|_2^2\big),

with :math:`Z` the stacked patch matrix (:meth:`convexnn.core.conv.Conv.stacked`, the
bias column and the pooling weight :math:`\rho` included) and :math:`P` the pooling over
the K patches; the constant c is free (when present).  The pattern generation seeds its
patterns from a short run of it and moves the master's filters into new cells with it;
every network it returns is a feasible point of the program over its own patterns
(THEORY A.10), so adding them never makes the convex answer worse than the descent's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ..core.losses import Loss
from ..core.pruning import carrying_weight
from ..core.threads import limit_blas


@dataclass
class LocalCNN:
    r"""Filters :math:`u_k` (rows of U, on Z's columns), output weights :math:`\alpha`, the
    free constant ``c`` (or None) and the objective reached."""

    U: np.ndarray
    alpha: np.ndarray
    c: float | None
    objective: float
    iterations: int

    def directions(self, rtol: float = 1e-3) -> np.ndarray:
        r"""The filters that carry weight, :math:`|\alpha_k|\|u_k\| > \mathrm{rtol}\max`."""
        return self.U[carrying_weight(np.abs(self.alpha) * np.linalg.norm(self.U, axis=1), rtol)]


def descend(Z: np.ndarray, y: np.ndarray, K: int, *, beta: float, loss: Loss,
            free_constant: bool, U0: np.ndarray, alpha0: np.ndarray, c0: float = 0.0,
            maxiter: int = 300, gtol: float = 1e-10) -> LocalCNN:
    r"""Minimize :math:`F(U, \alpha, c)` by L-BFGS from ``(U0, alpha0, c0)``.

    With :math:`A = ZU^\top`, :math:`H = P A_+`, :math:`r = \nabla\ell(H\alpha + c)`:
    :math:`\nabla_\alpha = H^\top r + \beta\alpha`,
    :math:`\nabla_U = ((P^\top r)\alpha^\top \odot 1[A > 0])^\top Z + \beta U`,
    :math:`\nabla_c = 1^\top r`.
    """
    m, dp = U0.shape
    n = y.shape[0]

    def fg(theta):
        U, alpha = theta[: m * dp].reshape(m, dp), theta[m * dp: m * dp + m]
        c = theta[-1] if free_constant else 0.0
        A = Z @ U.T
        H = np.maximum(A, 0.0).reshape(K, n, m).sum(axis=0)
        z = H @ alpha + c
        r = loss.gradient(z, y)
        val = loss.value(z, y) + 0.5 * beta * (float(np.sum(U * U)) + float(alpha @ alpha))
        dA = np.tile(r, K)[:, None] * alpha[None, :] * (A > 0)
        parts = [(dA.T @ Z + beta * U).ravel(), H.T @ r + beta * alpha]
        if free_constant:
            parts.append(np.array([r.sum()]))
        return val, np.concatenate(parts)

    theta0 = np.concatenate([U0.ravel(), alpha0] + ([np.array([c0])] if free_constant else []))
    with limit_blas(1, n_samples=n):  # L-BFGS-B's many small BLAS calls: one thread
        res = minimize(fg, theta0, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(maxiter), "gtol": gtol, "ftol": 1e-15, "maxcor": 20})
    U, alpha = res.x[: m * dp].reshape(m, dp), res.x[m * dp: m * dp + m]
    return LocalCNN(U.copy(), alpha.copy(), float(res.x[-1]) if free_constant else None,
                    float(res.fun), int(res.nit))


def random_start(dp: int, y: np.ndarray, width: int, rng: np.random.Generator,
                 scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""A random start: :math:`u_k \sim N(0, I)\,\mathrm{scale}/\sqrt{h'}`,
    :math:`\alpha_k \sim N(0, 1)\,\|y\|/(\sqrt n\sqrt m)`."""
    U = rng.standard_normal((width, dp)) * scale / np.sqrt(dp)
    ys = float(np.linalg.norm(y)) / np.sqrt(y.shape[0]) or 1.0
    return U, rng.standard_normal(width) * ys / np.sqrt(width)


__all__ = ["LocalCNN", "descend", "random_start"]
