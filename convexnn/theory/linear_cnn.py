r"""Linear two-layer CNNs: their convex programs in closed form, checked against gradient
training (THEORY D).

With patches :math:`X_k` (:meth:`convexnn.core.conv.Conv.patches`), filters :math:`u_j`
and weight decay :math:`\tfrac\beta2\sum_j(\|u_j\|^2 + \|\alpha_j\|^2)`:

* **global pooling**: :math:`f = \sum_j\alpha_j\rho\sum_kX_ku_j = Sz` with
  :math:`S = \rho\sum_kX_k` and :math:`z = \sum_j\alpha_ju_j`, whose cheapest factorization
  costs :math:`\|z\|`, so

  .. math:: p^\star = \min_z\ \ell(Sz) + \beta\|z\|_2;

  for the squared loss :math:`z = (S^\top S + \mu I)^{-1}S^\top y` with
  :math:`\mu = \beta/\|z\|` (a scalar equation), and :math:`z = 0` when
  :math:`\|S^\top y\| \le \beta`;
* **per-patch output weights** (no pooling): :math:`f = \sum_j\sum_k(X_ku_j)\alpha_{jk}
  = \sum_kX_kZe_k` with :math:`Z = \sum_ju_j\alpha_j^\top \in \mathbb R^{h\times K}`,
  whose cheapest factorization costs the nuclear norm, so

  .. math:: p^\star = \min_Z\ \ell\Big(\sum_kX_kZe_k\Big) + \beta\|Z\|_*

  (a semidefinite-representable program, solved by CVXPY).

:func:`train_linear_cnn` trains the factored networks by L-BFGS (numpy gradients), and
:func:`linear_cnn_check` compares the two: every run is at least :math:`p^\star`, and the
best reaches it (the factorizations have no spurious local minima at enough width).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize

from ..core.conv import Conv
from ..core.losses import get_loss
from ..core.validation import check_int, check_positive
from .report import Check


@dataclass(frozen=True)
class LinearCNNOptimum:
    """The convex optimum: value, the end-to-end weights (z of shape (h,), or Z of shape
    (h, K)), the predictions, and beta."""

    objective: float
    weights: np.ndarray
    prediction: np.ndarray
    beta: float


def _patches(X: Any, conv: Conv) -> np.ndarray:
    return conv.patches(Conv.images(X))


def pooled_features(X: Any, conv: Conv) -> np.ndarray:
    r""":math:`S = \rho\sum_kX_k`, shape (n, h) (:math:`\rho = 1/K` for mean pooling)."""
    P = _patches(X, conv)
    return P.mean(axis=1) if conv.mean else P.sum(axis=1)


def linear_pooled_cnn(X: Any, y: Any, *, conv: Conv, beta: float,
                      loss: str = "squared") -> LinearCNNOptimum:
    r"""The optimum of the linear CNN with global pooling, :math:`\min_z \ell(Sz) +
    \beta\|z\|` (module docstring): in closed form for the squared loss (the scalar
    equation :math:`\mu\|z(\mu)\| = \beta` solved by bracketing), else by CVXPY."""
    S = pooled_features(X, conv)
    y = np.asarray(y, dtype=np.float64)
    beta = check_positive("beta", beta)
    loss_obj = get_loss(loss)
    if not loss_obj.constant_hessian:
        import cvxpy as cp

        z = cp.Variable(S.shape[1])
        _solve(cp.Problem(cp.Minimize(loss_obj.cvxpy(S @ z, y) + beta * cp.norm(z, 2))))
        z = np.asarray(z.value)
    elif np.linalg.norm(S.T @ y) <= beta:
        z = np.zeros(S.shape[1])
    else:
        U, s, Vt = np.linalg.svd(S, full_matrices=False)
        c = s * (U.T @ y)

        def z_of(mu: float) -> np.ndarray:
            return Vt.T @ (c / (s**2 + mu))

        # mu ||z(mu)|| rises from 0 to ||S^T y|| > beta: one root
        hi = 1.0
        while hi * np.linalg.norm(z_of(hi)) < beta:
            hi *= 2.0
        mu = brentq(lambda m: m * np.linalg.norm(z_of(m)) - beta, 0.0, hi, xtol=1e-15, rtol=1e-15)
        z = z_of(mu)
    pred = S @ z
    return LinearCNNOptimum(float(loss_obj.value(pred, y) + beta * np.linalg.norm(z)), z, pred,
                            beta)


def linear_patchwise_cnn(X: Any, y: Any, *, conv: Conv, beta: float,
                         loss: str = "squared") -> LinearCNNOptimum:
    r"""The optimum of the linear CNN with per-patch output weights,
    :math:`\min_Z \ell(\sum_kX_kZe_k) + \beta\|Z\|_*` (CVXPY, Clarabel)."""
    import cvxpy as cp

    P = _patches(X, conv)
    n, K, h = P.shape
    y = np.asarray(y, dtype=np.float64)
    beta = check_positive("beta", beta)
    loss_obj = get_loss(loss)
    Z = cp.Variable((h, K))
    pred = sum(P[:, k, :] @ Z[:, k] for k in range(K))
    _solve(cp.Problem(cp.Minimize(loss_obj.cvxpy(pred, y) + beta * cp.normNuc(Z))))
    Zv = np.asarray(Z.value)
    pv = np.einsum("nkh,hk->n", P, Zv)
    return LinearCNNOptimum(float(loss_obj.value(pv, y) + beta * np.linalg.svd(Zv, compute_uv=False).sum()),
                            Zv, pv, beta)


def _solve(problem) -> None:
    from ..solvers.cvxpy_backend import solve_problem

    out = solve_problem(problem, solver="clarabel", what="a linear-CNN program")
    if not out.ok:
        raise RuntimeError(f"clarabel ended with status {out.solver_status!r}")


def _objective_grad(theta, P, y, beta, loss, m, pooled):
    """Objective and gradient of the factored linear CNN (module docstring)."""
    n, K, h = P.shape
    U = theta[: m * h].reshape(m, h)
    A = theta[m * h:].reshape(m, 1 if pooled else K)
    B = P @ U.T  # (n, K, m)
    if pooled:
        S = B.sum(axis=1)  # P already carries the pooling weight
        pred = S @ A[:, 0]
    else:
        pred = np.einsum("nkm,mk->n", B, A)
    r = loss.gradient(pred, y)
    val = loss.value(pred, y) + 0.5 * beta * (float(np.sum(U * U)) + float(np.sum(A * A)))
    if pooled:
        gA = (S.T @ r)[:, None]
        gU = np.outer(A[:, 0], np.einsum("n,nkh->h", r, P))
    else:
        gA = np.einsum("n,nkm->mk", r, B)
        gU = np.einsum("n,mk,nkh->mh", r, A, P)
    return val, np.concatenate([(gU + beta * U).ravel(), (gA + beta * A).ravel()])


def train_linear_cnn(X: Any, y: Any, *, conv: Conv, beta: float, pooled: bool = True,
                     width: int | None = None, restarts: int = 5, seed: Any = 0,
                     loss: str = "squared", maxiter: int = 20_000) -> np.ndarray:
    r"""Final objectives of ``restarts`` L-BFGS runs of the factored linear CNN (global
    pooling, or per-patch output weights when not ``pooled``), from Gaussian starts;
    default width: 2 (pooled) or min(h, K) (the largest rank of Z)."""
    P = _patches(X, conv)
    if pooled and conv.mean:
        P = P / P.shape[1]
    n, K, h = P.shape
    m = check_int("width", width if width is not None else (2 if pooled else min(h, K)))
    y = np.asarray(y, dtype=np.float64)
    loss_obj = get_loss(loss)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(check_int("restarts", restarts)):
        theta0 = rng.standard_normal(m * h + m * (1 if pooled else K)) / np.sqrt(h)
        res = minimize(_objective_grad, theta0, args=(P, y, beta, loss_obj, m, pooled), jac=True,
                       method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": 1e-11, "ftol": 1e-16, "maxcor": 30})
        out.append(float(res.fun))
    return np.array(out)


def linear_cnn_check(X: Any, y: Any, *, conv: Conv, beta: float, pooled: bool = True,
                     width: int | None = None, restarts: int = 5, seed: Any = 0,
                     loss: str = "squared", rtol: float = 1e-5) -> Check:
    r"""The convex optimum (:func:`linear_pooled_cnn` or :func:`linear_patchwise_cnn`)
    against L-BFGS runs of the factored network (:func:`train_linear_cnn`): holds when
    every run is above :math:`p^\star(1 - \mathrm{rtol})` and the best within rtol of it."""
    solve = linear_pooled_cnn if pooled else linear_patchwise_cnn
    opt = solve(X, y, conv=conv, beta=beta, loss=loss)
    runs = train_linear_cnn(X, y, conv=conv, beta=beta, pooled=pooled, width=width,
                            restarts=restarts, seed=seed, loss=loss)
    best = float(runs.min())
    scale = max(1.0, abs(opt.objective))
    holds = bool(np.all(runs >= opt.objective - rtol * scale)
                 and best <= opt.objective + rtol * scale)
    name = ("linear CNN, global pooling: min l(Sz) + beta ||z||" if pooled else
            "linear CNN, per-patch outputs: min l(sum_k X_k Z e_k) + beta ||Z||_*")
    return Check(name, predicted=opt.objective, measured=best, holds=holds, rtol=rtol,
                 section="D", details={"runs": runs, "optimum": opt})


__all__ = ["LinearCNNOptimum", "linear_cnn_check", "linear_patchwise_cnn", "linear_pooled_cnn",
           "pooled_features", "train_linear_cnn"]
