r"""The dual point :math:`\lambda` of a certificate (THEORY A.6-A.8).

A dual point is any :math:`\lambda = -\mu` in

.. math::
    \Lambda = \{\lambda : F^\top\lambda = 0\} \cap \mathrm{dom}\,\ell^*(-\cdot),\qquad
    F = [X \text{ if skip}, 1 \text{ if a free constant}],

where the domain is the box :math:`y_j\lambda_j\in[0, 1]` for the logistic and hinge
losses and everything for the squared loss (:func:`dual_box`, THEORY A.8).  After scaling
by :math:`\min(1, \beta/s)` (:mod:`convexnn.duality.dual_norm`) every point of :math:`\Lambda`
gives the weak-duality bound :math:`-\ell^*(-\lambda_s) \le p^\star`, so the choices here
only decide how tight it is:

1. :func:`dual_point` takes :math:`\lambda = -\nabla\ell(\hat y)` (THEORY A.7 step 1);
   for the hinge loss, whose subgradient is not unique, the one that best satisfies the
   network's own stationarity conditions (:func:`_hinge_dual_point`);
2. :func:`project_dual` moves it to the nearest point of :math:`\Lambda`,
   :math:`\arg\min_{\lambda'\in\Lambda}\|\lambda' - \lambda\|_2` (the identity at a
   network stationary in its free terms);
3. :func:`refine_dual` improves a near-optimal point by a cutting-plane solve of the
   finite dual (THEORY A.6)

   .. math::
       \max_{\lambda\in\Lambda}\ -\ell^*(-\lambda)\ \text{ s.t. }\
       \|(\pm\tilde X^\top D_i\lambda + \tilde X^\top(2D_i - I)\gamma_{i\pm})_\pi\| \le \beta,
       \ \gamma_{i\pm} \ge 0,

   with the pattern constraints restricted to a working set.
"""

from __future__ import annotations

import numpy as np

from ..core.losses import Loss
from ..exceptions import SolverError
from ..networks.two_layer import Network
from ..solvers.cvxpy_backend import solve_problem
from .cones import pattern_supports


def dual_box(loss: Loss, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Bounds on :math:`\lambda = -\mu` from :math:`\mathrm{dom}\,\ell^*` (THEORY A.8), as the
    loss oracle gives them (:meth:`convexnn.core.losses.Loss.dual_box`): logistic and hinge need
    :math:`y_j\lambda_j \in [0, 1]`; squared has none.  The box contains 0, so scaling by a
    factor in [0, 1] stays inside it."""
    return loss.dual_box(y)


def _huber_primitive(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    r""":math:`h(t) = \int_0^t \mathrm{clip}(\tau, lo, hi)\,d\tau` (0 in [lo, hi])."""
    c = np.clip(t, lo, hi)
    return 0.5 * c * c + c * (t - c)


def project_dual(lam: np.ndarray, F: np.ndarray | None, lo: np.ndarray, hi: np.ndarray,
                 *, max_iter: int = 100) -> np.ndarray:
    r"""Euclidean projection of :math:`\lambda` onto :math:`\{F^\top\lambda = 0\}\cap[lo, hi]`.

    The projection is :math:`\mathrm{clip}(\lambda + Fa)` where a minimizes the convex
    :math:`\psi(a) = \sum_j h_j(\lambda_j + (Fa)_j)`, h the primitive of the clip
    (:math:`\nabla\psi = F^\top\mathrm{clip}(\lambda + Fa)`); it is found by damped
    semismooth Newton.  Without bounds it is :math:`\lambda - QQ^\top\lambda`
    (Q an orthonormal basis of range F).  The equality then holds to roundoff.

    Parameters
    ----------
    lam : ndarray of shape (n,)
    F : ndarray of shape (n, q) or None
        Free-term basis; None returns ``clip(lam)``.
    lo, hi : ndarray of shape (n,)
        Bounds (may be infinite; 0 must lie in [lo, hi]).
    """
    if F is None or F.shape[1] == 0:
        return np.clip(lam, lo, hi)
    U, sv, _ = np.linalg.svd(F, full_matrices=False)
    Q = U[:, sv > 1e-10 * sv[0]] if sv.size and sv[0] > 0 else U[:, :0]
    if not (np.isfinite(lo).any() or np.isfinite(hi).any()):
        return lam - Q @ (Q.T @ lam)
    a = np.zeros(Q.shape[1])
    scale = max(float(np.linalg.norm(lam)), 1.0)
    for _ in range(max_iter):
        t = lam + Q @ a
        g = Q.T @ np.clip(t, lo, hi)
        if np.linalg.norm(g) <= 1e-14 * scale:
            break
        inside = ((t > lo) & (t < hi)).astype(np.float64)
        H = Q.T @ (inside[:, None] * Q) + 1e-12 * np.eye(Q.shape[1])
        step = -np.linalg.lstsq(H, g, rcond=None)[0]
        psi0, slope, eta = float(np.sum(_huber_primitive(t, lo, hi))), float(g @ step), 1.0
        while eta > 1e-12:  # Armijo backtracking on psi
            if np.sum(_huber_primitive(lam + Q @ (a + eta * step), lo, hi)) <= psi0 + 1e-4 * eta * slope:
                break
            eta *= 0.5
        a = a + eta * step
    return np.clip(lam + Q @ a, lo, hi)


def _hinge_margin(y: np.ndarray, z: np.ndarray, margin_tol: float = 1e-5):
    r"""(theta, M): :math:`\theta_j = 1[y_jz_j < 1]` and the margin set
    :math:`M = \{j : |y_jz_j - 1| \le \text{margin\_tol}\cdot\max(1, \max|y z|)\}`,
    where the hinge subdifferential is :math:`y_j[0, 1]` (up to solver accuracy)."""
    margin = y * z
    theta = (margin < 1.0).astype(np.float64)
    M = np.abs(margin - 1.0) <= margin_tol * max(1.0, float(np.max(np.abs(margin))))
    return theta, M


def _hinge_dual_point(network: Network, X: np.ndarray, y: np.ndarray, Xt: np.ndarray,
                      pen: np.ndarray, F: np.ndarray | None, beta: float, z: np.ndarray,
                      margin_tol: float = 1e-5) -> np.ndarray:
    r"""A subgradient :math:`\lambda_j = y_j\theta_j` of the hinge loss at z.

    :math:`\theta_j = 1` where :math:`y_jz_j < 1` and 0 where :math:`> 1`; on the margin
    set :math:`|y_jz_j - 1| \le` ``margin_tol`` any :math:`\theta_j\in[0, 1]` is a
    subgradient (with zero Fenchel-Young gap), and we take the one that best satisfies the
    network's stationarity conditions, by bounded least squares:

    .. math::  \alpha_j\tilde X^\top D_j\lambda + \sum_{t\in T_j}\xi_{jt}\tilde x_t
               = \beta u_j\ (\text{the free coordinates: } 0),\qquad F^\top\lambda = 0,

    where :math:`T_j` are the samples on neuron j's kink (:math:`\tilde x_t^\top u_j
    \approx 0`; the Clarke subdifferential of the ReLU there, or equivalently the cone
    multipliers of the convex program) and :math:`\xi` is free.  Any choice of
    :math:`\theta` gives a *valid* bound; this one makes it tight at an optimum, where the
    margin points carry fractional duals.
    """
    from scipy.optimize import lsq_linear

    theta, M = _hinge_margin(y, z, margin_tol)
    if not M.any():
        return y * theta
    theta[M] = 0.0
    k = Xt.shape[1]
    D = network.activation_patterns(X)
    rown = np.linalg.norm(Xt, axis=1)
    eqs, target, kinks = [], [], []
    for j in range(network.width):
        u = np.concatenate([network.W1[j], [network.b1[j]]])[:k]
        eqs.append(network.W2[j] * (Xt.T * D[:, j]) * y[None, :])  # acts on theta
        target.append(np.where(pen, beta * u, 0.0))
        tied = np.abs(Xt @ u) <= margin_tol * rown * np.linalg.norm(u)
        kinks.append(Xt[tied].T)  # (k, |T_j|) columns for xi_j
    if F is not None:
        eqs.append(F.T * y[None, :])
        target.append(np.zeros(F.shape[1]))
    if not eqs:
        theta[M] = 0.5
        return y * theta
    A = np.vstack(eqs)
    b = np.concatenate(target) - A[:, ~M] @ theta[~M]
    n_xi = sum(K.shape[1] for K in kinks)
    Xi = np.zeros((A.shape[0], n_xi))
    col = 0
    for j, K in enumerate(kinks):
        Xi[j * k:(j + 1) * k, col:col + K.shape[1]] = K
        col += K.shape[1]
    lb = np.concatenate([np.zeros(int(M.sum())), np.full(n_xi, -np.inf)])
    ub = np.concatenate([np.ones(int(M.sum())), np.full(n_xi, np.inf)])
    sol = lsq_linear(np.hstack([A[:, M], Xi]), b, bounds=(lb, ub), method="bvls").x
    theta[M] = sol[: int(M.sum())]
    return y * theta


def _dual_objective_cvxpy(loss: Loss, lam, y: np.ndarray):
    r""":math:`-\ell^*(-\lambda)` as a concave cvxpy expression (THEORY A.8; the loss oracle's
    :meth:`~convexnn.core.losses.Loss.dual_cvxpy`): squared
    :math:`\lambda^\top y - \tfrac12\|\lambda\|^2`; logistic
    :math:`\sum_j \mathrm{entr}(t_j) + \mathrm{entr}(1 - t_j)`, :math:`t = y\odot\lambda`;
    hinge :math:`\sum_j y_j\lambda_j` (the box is a separate constraint)."""
    return loss.dual_cvxpy(lam, y)


def refine_dual(loss: Loss, Xt: np.ndarray, y: np.ndarray, z: np.ndarray, lam: np.ndarray,
                 F: np.ndarray | None, D: np.ndarray, free: np.ndarray | None, beta: float,
                 gated: bool, *, rtol: float, max_rounds: int = 8, per_round: int = 20,
                 near: float = 1e-2) -> np.ndarray:
    r"""A better dual point by cutting planes on the dual problem (THEORY A.6, B).

    .. math::
        \max_\lambda\ -\ell^*(-\lambda) \ \text{ s.t. }\ F^\top\lambda = 0,\quad
        \|(\pm\tilde X^\top D_i\lambda + \tilde X^\top(2D_i - I)\gamma_{i\pm})_\pi\|
        \le \beta,\ (\cdot)_{\bar\pi} = 0,\ \gamma_{i\pm} \ge 0

    (:math:`\|(\tilde X^\top D_i\lambda)_\pi\| \le \beta` for gates), with the
    pattern constraints restricted to a working set: first every (pattern, sign) whose
    cone maximum at the starting point is within ``near`` of :math:`\beta` or above,
    then, each round, the most violated ones of the full set
    (:func:`convexnn.duality.cones.pattern_supports`), until none exceeds :math:`\beta(1+`
    ``rtol``).  For the hinge loss :math:`\lambda_j = y_j` is kept fixed off the margin
    set, so the point stays a subgradient at the network's predictions.

    The primal network fixes :math:`\lambda` only to about the square root of its
    objective accuracy, so the plain scaling of step 4 loses that much; the dual solve is
    accurate to the conic solver's tolerance.  Validity never depends on this step: the
    caller re-checks s over every pattern and scales.
    """
    import cvxpy as cp

    pen = np.ones(Xt.shape[1], bool) if free is None else ~free
    S = 2.0 * D - 1.0
    n = y.size
    v = cp.Variable(n, name="lam")
    cons = []
    lo, hi = loss.dual_box(y)
    if np.isfinite(lo).all() and np.isfinite(hi).all():  # dom l*: lo <= lam <= hi
        cons += [v >= lo, v <= hi]
    if not loss.smooth:  # the hinge: lam_j = y_j stays fixed off the margin set
        theta0, M = _hinge_margin(y, z)
        if (~M).any():
            cons.append(v[np.flatnonzero(~M)] == y[~M] * theta0[~M])
    if F is not None:
        cons.append(F.T @ v == 0)
    working: set = set()

    def supports(lam_now):
        if gated:
            norms = np.linalg.norm(((D * lam_now[:, None]).T @ Xt)[:, pen], axis=1)
            return np.stack([norms, np.zeros_like(norms)], axis=1)
        return pattern_supports(Xt, lam_now, D, free=free, prune=False).upper

    def pick(upper, threshold, limit):
        out = []
        for flat in np.argsort(-upper, axis=None):
            i, col = (int(k) for k in np.unravel_index(int(flat), upper.shape))
            if upper[i, col] <= threshold or len(out) >= limit:
                break
            if (i, col) not in working:
                out.append((i, col))
        return out

    def cut(i, col):
        sign = 1.0 if col == 0 else -1.0
        r = sign * (Xt.T @ cp.multiply(D[:, i].astype(float), v))
        if not gated:
            r = r + Xt.T @ cp.multiply(S[:, i], cp.Variable(n, nonneg=True))
        out = [cp.norm(r[np.flatnonzero(pen)], 2) <= beta]
        if free is not None and not gated:
            out.append(r[np.flatnonzero(free)] == 0)
        return out

    best = lam
    new = pick(supports(lam), beta * (1 - near), 2 * per_round)
    objective = cp.Maximize(_dual_objective_cvxpy(loss, v, y))
    for _ in range(max_rounds):
        if not new:
            break
        for key in new:
            working.add(key)
            cons += cut(*key)
        problem = cp.Problem(objective, cons)
        try:
            solve_problem(problem, solver="clarabel", what="the cutting-plane dual")
        except SolverError:
            break
        if v.value is None:
            break
        best = np.asarray(v.value, dtype=np.float64).copy()
        new = pick(supports(best), beta * (1 + rtol), per_round)
    return best


def dual_point(network: Network, X: np.ndarray, y: np.ndarray, Xt: np.ndarray,
                free: np.ndarray, loss: Loss, F: np.ndarray | None, beta: float,
                z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""(raw, projected) dual point: :math:`\lambda = -\nabla\ell(z)` (hinge: the
    stationarity-selected subgradient, :func:`_hinge_dual_point`), then its projection onto
    :math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}` (:func:`project_dual`)."""
    if not loss.smooth:  # the hinge: the stationarity-selected subgradient
        lam_raw = _hinge_dual_point(network, X, y, Xt, ~free, F, beta, z)
    else:
        lam_raw = -loss.gradient(z, y)
    lo, hi = dual_box(loss, y)
    return lam_raw, project_dual(lam_raw, F, lo, hi)


__all__ = ["dual_box", "dual_point", "project_dual", "refine_dual"]
