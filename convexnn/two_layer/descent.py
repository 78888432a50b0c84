r"""Local descent on the non-convex two-layer objective (numpy + scipy L-BFGS).

.. math::
    F(U, \alpha, a) = \ell\big((\tilde XU^\top)_+\alpha + Fa;\ y\big)
        + \tfrac{\beta}{2}\big(\|U_\pi\|_F^2 + \|\alpha\|_2^2\big),

with lifted data :math:`\tilde X` (bias column for hidden biases), penalized coordinates
:math:`\pi` and the free terms :math:`F = [X \text{ if skip}, 1 \text{ if a free
constant}]` (THEORY A.1, A.5).  Pattern generation (:mod:`convexnn.generation`) uses it
twice: a short run from a random start supplies the activation patterns of a
gradient-trained network, and runs started at the current convex optimum move its
neurons into new cells.  Every network :math:`\theta` it returns is a feasible point of
the convex program over its own patterns with :math:`p_{S(\theta)} \le F(\theta)`
(THEORY A.10), so adding those patterns never makes the convex answer worse than the
descent's.

It is a fast, dependency-free trainer for these small programs; the torch trainers of
:mod:`convexnn.training` are the validation side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ..core.losses import Loss
from ..core.pruning import carrying_weight
from ..core.threads import limit_blas


@dataclass
class LocalNetwork:
    r"""A two-layer network on lifted data: neurons :math:`(u_k, \alpha_k)` and free
    coefficients ``a`` (of :math:`F`); ``objective`` is :math:`F(U, \alpha, a)`."""

    U: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    objective: float
    iterations: int

    def directions(self, rtol: float = 1e-3) -> np.ndarray:
        r"""The neurons :math:`u_k` that carry weight (see :meth:`patterns`), shape (m', k)."""
        return self.U[carrying_weight(np.abs(self.alpha) * np.linalg.norm(self.U, axis=1), rtol)]

    def patterns(self, Xt: np.ndarray, rtol: float = 1e-3) -> np.ndarray:
        r""":math:`1[\tilde X u_k \ge 0]` of the neurons that carry weight,
        :math:`|\alpha_k|\|u_k\| > \mathrm{rtol}\max_l|\alpha_l|\|u_l\|` (weight decay drives
        the others towards zero; their patterns would only enlarge the program), shape
        (n, m')."""
        return (Xt @ self.directions(rtol).T) >= 0


def _split(theta: np.ndarray, m: int, dp: int, k: int):
    U = theta[: m * dp].reshape(m, dp)
    alpha = theta[m * dp: m * dp + m]
    a = theta[m * dp + m: m * dp + m + k]
    return U, alpha, a


def descend(Xt: np.ndarray, y: np.ndarray, *, beta: float, loss: Loss, pen: np.ndarray,
            F: np.ndarray | None, U0: np.ndarray, alpha0: np.ndarray,
            a0: np.ndarray | None = None, maxiter: int = 500, gtol: float = 1e-10
            ) -> LocalNetwork:
    r"""Minimize :math:`F(U, \alpha, a)` by L-BFGS from ``(U0, alpha0, a0)``.

    ``pen`` is the 0/1 mask of the penalized coordinates of :math:`\tilde X`; ``F`` the
    free-term basis (None without free terms).  The gradient is
    :math:`\nabla_\alpha = H^\top r + \beta\alpha`,
    :math:`\nabla_U = (r\alpha^\top \odot 1[Z > 0])^\top\tilde X + \beta U\,\mathrm{diag}(\pi)`,
    :math:`\nabla_a = F^\top r`, with :math:`Z = \tilde XU^\top`, :math:`H = Z_+` and
    :math:`r = \nabla\ell`.
    """
    m, dp = U0.shape
    k = 0 if F is None else F.shape[1]
    a0 = np.zeros(k) if a0 is None else a0

    def fg(theta):
        U, alpha, a = _split(theta, m, dp, k)
        Z = Xt @ U.T
        H = np.maximum(Z, 0.0)
        z = H @ alpha
        if k:
            z = z + F @ a
        r = loss.gradient(z, y)
        Up = U * pen
        val = loss.value(z, y) + 0.5 * beta * (float(np.sum(Up * U)) + float(alpha @ alpha))
        dZ = np.outer(r, alpha) * (Z > 0)
        gU = dZ.T @ Xt + beta * Up
        ga = H.T @ r + beta * alpha
        parts = [gU.ravel(), ga]
        if k:
            parts.append(F.T @ r)
        return val, np.concatenate(parts)

    theta0 = np.concatenate([U0.ravel(), alpha0, a0])
    # one BLAS thread: L-BFGS-B's many tiny BLAS calls are ~100x slower when a 2-thread
    # pool has to synchronize per call (measured here: 0.015 s vs 2.1 s for 45 iterations)
    with limit_blas(1, n_samples=Xt.shape[0]):
        res = minimize(fg, theta0, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(maxiter), "gtol": gtol, "ftol": 1e-15,
                                "maxcor": 20})
    U, alpha, a = _split(res.x, m, dp, k)
    return LocalNetwork(U.copy(), alpha.copy(), a.copy(), float(res.fun), int(res.nit))


def random_start(Xt: np.ndarray, y: np.ndarray, width: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    r"""A random start of the scale of the data: :math:`u_k \sim N(0, I)/\sqrt{d'}` and
    :math:`\alpha_k \sim N(0, 1)\,\|y\|/(\sqrt{n}\,m)` (Kaiming-like first layer, small
    output so that the start's predictions are of the targets' size at most)."""
    n, dp = Xt.shape
    U = rng.standard_normal((width, dp)) / np.sqrt(dp)
    ys = float(np.linalg.norm(y)) / np.sqrt(n) or 1.0
    alpha = rng.standard_normal(width) * ys / np.sqrt(width)
    return U, alpha


def from_blocks(blocks: list[tuple[int, float, np.ndarray]], pen: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    r"""Balanced neurons of convex blocks :math:`(i, \sigma, b)`:
    :math:`u = b/\sqrt{\|b_\pi\|}`, :math:`\alpha = \sigma\sqrt{\|b_\pi\|}` (THEORY A.4)."""
    if not blocks:
        return np.zeros((0, pen.size)), np.zeros(0)
    B = np.array([b for _, _, b in blocks])
    s = np.array([sg for _, sg, _ in blocks])
    r = np.sqrt(np.linalg.norm(B * pen, axis=1))
    r = np.where(r > 0, r, 1.0)
    return B / r[:, None], s * r


__all__ = ["LocalNetwork", "descend", "random_start", "from_blocks"]
