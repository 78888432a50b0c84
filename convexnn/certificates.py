r"""Dual certificates of global optimality for any two-layer network (THEORY A.6-A.8, B).

For a network :math:`\theta` with predictions :math:`\hat y` and objective
:math:`P(\theta) = \ell(\hat y) + \tfrac{\beta}{2}\|\theta\|^2`, every dual point
:math:`\mu = -\lambda` that satisfies

.. math::
    \max_{\|u_\pi\|_2 \le 1} |\lambda^\top(\tilde X u)_+| \le \beta, \qquad
    F^\top\lambda = 0 \quad (F = [X \text{ if skip}, 1 \text{ if a free constant}])

gives, by weak duality, :math:`-\ell^*(-\lambda) \le p^\star \le P(\theta)` for every
width.  The certificate

1. takes :math:`\lambda = -\nabla\ell(\hat y)` (for the hinge loss, the subgradient that
   best satisfies the network's own stationarity conditions, :func:`_hinge_dual_point`);
2. moves it onto :math:`\{F^\top\lambda = 0\} \cap \mathrm{dom}\,\ell^*(-\cdot)` by the
   Euclidean projection (:func:`project_dual`; the identity at a stationary network);
3. computes :math:`s = \max_i\max_\pm \max_{u\in K_i,\|u_\pi\|\le1} \pm\lambda^\top D_i\tilde Xu`
   over **all** patterns with :func:`convexnn.cones.pattern_supports` (exhaustive), or
   searches sampled patterns with local ascent (which can only *refute*), or, for a gated
   network, :math:`s = \max_i \|(\tilde X^\top D_i\lambda)_\pi\|` over its gates;
4. scales :math:`\lambda_s = \lambda\min(1, \beta/s)` (the domain of :math:`\ell^*` is
   star-shaped about 0 for every loss here, so the scaled point stays in it) and reports
   :math:`\mathrm{LB} = -\ell^*(-\lambda_s)` and :math:`\mathrm{gap} = P(\theta) - \mathrm{LB}`.

At a global optimum :math:`s = \beta` and the gap is 0 (THEORY A.7, I6).

A primal network determines :math:`\lambda` only to about the square root of its objective
accuracy, and step 4 loses that much.  So when the gradient's dual point falls short of
the tolerance, better dual points are tried -- the convex solution's predictions
(:func:`certify_fit`), then a cutting-plane solve of the dual started from the best point
(:func:`_refine_dual`; for the hinge loss it picks the margin subgradients).  Any dual
point is valid after steps 2-4, so these only tighten the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._validation import check_choice, check_positive, check_X_y
from .cones import cone_support, pattern_supports
from .losses import Loss, get_loss
from .network import Network
from .patterns import (
    PatternSet,
    _hyperplanes,
    _rank_reduce,
    add_bias_column,
    enumerate_1d_bias,
    make_patterns,
    pattern_count,
    sample_patterns,
    unique_patterns,
)

BIASES = ("none", "regularized", "free")
#: ``patterns="auto"``: enumerate exactly when the arrangement has at most this many cells.
AUTO_EXACT_LIMIT = 2000
#: Default number of sampled gates of the pattern search (non-enumerable arrangements).
SEARCH_SAMPLES = 500
#: Default relative tolerance: certified iff gap <= tol * max(1, |upper bound|).
TOL = 1e-5
#: A smooth-loss network is *refuted* when s exceeds beta by this relative margin.
REFUTE_RTOL = 1e-3
#: Refine the dual point (cutting-plane dual solve) only when the gradient's certificate
#: is already this close (or for the hinge loss, whose subgradient is not unique): the
#: refinement removes solver-accuracy effects at near-optimal networks.
REFINE_RTOL = 1e-2
#: Losses whose dual point -grad loss is unique (refutation is then a proof).
_SMOOTH = ("squared", "logistic")


@dataclass(frozen=True)
class Violation:
    r"""The most violated dual constraint found: :math:`\sigma\lambda^\top(\tilde Xu)_+`.

    Attributes
    ----------
    pattern : ndarray of bool, shape (n,)
        :math:`1[\tilde Xu \ge 0]` (the gate's pattern for a gated network).
    u : ndarray of shape (k,)
        The direction, :math:`\|u_\pi\| = 1` (lifted: last entry is the bias if any).
    sign : int
        +1 or -1.
    value : float
        :math:`\sigma\lambda^\top D\tilde Xu` (a lower bound on s).
    """

    pattern: np.ndarray
    u: np.ndarray
    sign: int
    value: float


@dataclass
class Certificate:
    r"""A weak-duality bound :math:`\mathrm{LB} \le p^\star \le P(\theta)` (THEORY A.7).

    Attributes
    ----------
    lower_bound : float
        :math:`-\ell^*(-\lambda_s)`, valid for every width whatever the method.
    upper_bound : float
        The network's objective :math:`P(\theta)`, recomputed.
    gap, relative_gap : float
        :math:`P(\theta) - \mathrm{LB}` and that over :math:`\max(1, |P(\theta)|)`.
    certified : bool
        ``relative_gap <= tol`` and the constraint was checked over every pattern.
    exhaustive : bool
        Whether s is a proven upper bound of the dual norm (all patterns, or gated).
    s : float
        The dual norm of the dual point that gave ``lower_bound``, used for scaling: a
        proven upper bound of
        :math:`\max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|` (exhaustive: the cone
        maxima; search: a crude closed-form bound, :func:`_global_bound`).
    s_found : float
        The largest value :math:`|\lambda^\top(\tilde Xu)_+|` actually attained by a
        direction u (a lower bound of the dual norm).
    beta : float
    scale : float
        :math:`\min(1, \beta/s)`.
    refuted : bool
        From the network's own dual point :math:`-\nabla\ell(\hat y)`, for smooth losses:
        a direction with :math:`|\lambda^\top(\tilde Xu)_+| > \beta(1 + 10^{-3})` was
        found, or the network is not stationary in its free terms; either proves it is not
        a global optimum.
    most_violated : Violation or None
        The largest dual-constraint value found for the network's own dual point.
    n_patterns_checked : int
    time : float
    method : str
        "exhaustive", "search" or "gated".
    loss : str
    dual_point : str
        Where the bound's dual point came from: "network" (:math:`-\nabla\ell(\hat y)`),
        "convex solution" (the fit's convex predictions) or "refined" (cutting-plane dual
        solve, :func:`_refine_dual`).
    free_residual : float
        Of the network's own dual point: the relative change
        :math:`\|\lambda' - \lambda\| / \|\lambda\|` made by the projection onto the
        free-term constraints (0 at a stationary network).
    tol : float
    """

    lower_bound: float
    upper_bound: float
    gap: float
    relative_gap: float
    certified: bool
    exhaustive: bool
    s: float
    s_found: float
    beta: float
    scale: float
    refuted: bool
    most_violated: Violation | None
    n_patterns_checked: int
    time: float
    method: str
    loss: str
    free_residual: float
    tol: float
    dual_point: str = "network"

    def summary_line(self) -> str:
        """One line for :meth:`convexnn.FitResult.summary`."""
        if self.certified:
            verdict = "CERTIFIED globally optimal"
        elif self.refuted:
            verdict = "NOT optimal (refuted)"
        elif self.exhaustive:
            verdict = "not certified"
        else:
            verdict = "not certified (pattern search only)"
        return (f"{verdict}: gap {self.gap:.3g} (rel {self.relative_gap:.2e}), "
                f"s/beta {self.s_found / self.beta:.6g}, LB {self.lower_bound:.10g}, "
                f"{self.method} over {self.n_patterns_checked} patterns, {self.time:.3f}s")

    def __str__(self) -> str:
        lines = [
            f"Certificate ({self.method}, {self.loss} loss, beta={self.beta:g})",
            f"  network objective (upper) : {self.upper_bound:.10g}",
            f"  dual bound        (lower) : {self.lower_bound:.10g}",
            f"  gap                       : {self.gap:.3e} (relative {self.relative_gap:.3e}, tol {self.tol:g})",
            f"  dual norm s (proven bound): {self.s:.10g}  (s/beta = {self.s / self.beta:.6g})",
            f"  largest value found       : {self.s_found:.10g}  (s/beta = {self.s_found / self.beta:.6g})",
            f"  patterns checked          : {self.n_patterns_checked} "
            f"({'all' if self.exhaustive else 'a sample: can refute, never certify'})",
            f"  dual point from           : {self.dual_point}",
            f"  free-term projection      : {self.free_residual:.2e}",
            f"  certified                 : {self.certified}   refuted: {self.refuted}",
            f"  time                      : {self.time:.4f}s",
        ]
        return "\n".join(lines)


# ---- the dual point -------------------------------------------------------------------
def _dual_box(loss: Loss, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Bounds on :math:`\lambda = -\mu` from :math:`\mathrm{dom}\,\ell^*` (THEORY A.8):
    logistic and hinge need :math:`y_j\lambda_j \in [0, 1]`; squared has none.  The box
    contains 0, so scaling by a factor in [0, 1] stays inside it."""
    if loss.name in ("logistic", "hinge"):
        return np.minimum(0.0, y), np.maximum(0.0, y)
    return np.full(y.shape, -np.inf), np.full(y.shape, np.inf)


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
    r""":math:`-\ell^*(-\lambda)` as a concave cvxpy expression (THEORY A.8): squared
    :math:`\lambda^\top y - \tfrac12\|\lambda\|^2`; logistic
    :math:`\sum_j \mathrm{entr}(t_j) + \mathrm{entr}(1 - t_j)`, :math:`t = y\odot\lambda`;
    hinge :math:`\sum_j y_j\lambda_j` (the box is a separate constraint)."""
    import cvxpy as cp

    if loss.name == "squared":
        return lam @ y - 0.5 * cp.sum_squares(lam)
    t = cp.multiply(y, lam)
    if loss.name == "logistic":
        return cp.sum(cp.entr(t) + cp.entr(1 - t))
    return cp.sum(t)


def _refine_dual(loss: Loss, Xt: np.ndarray, y: np.ndarray, z: np.ndarray, lam: np.ndarray,
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
    (:func:`convexnn.cones.pattern_supports`), until none exceeds :math:`\beta(1+`
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
    if loss.name in ("logistic", "hinge"):
        t = cp.multiply(y, v)
        cons += [t >= 0, t <= 1]
    if loss.name == "hinge":
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
            problem.solve(solver="CLARABEL")
        except cp.error.SolverError:
            break
        if v.value is None:
            break
        best = np.asarray(v.value, dtype=np.float64).copy()
        new = pick(supports(best), beta * (1 + rtol), per_round)
    return best


def _dual_point(network: Network, X: np.ndarray, y: np.ndarray, Xt: np.ndarray,
                free: np.ndarray, loss: Loss, F: np.ndarray | None, beta: float,
                z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""(raw, projected) dual point: :math:`\lambda = -\nabla\ell(z)` (hinge: the
    stationarity-selected subgradient, :func:`_hinge_dual_point`), then its projection onto
    :math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}` (:func:`project_dual`)."""
    if loss.name == "hinge":
        lam_raw = _hinge_dual_point(network, X, y, Xt, ~free, F, beta, z)
    else:
        lam_raw = -loss.gradient(z, y)
    lo, hi = _dual_box(loss, y)
    return lam_raw, project_dual(lam_raw, F, lo, hi)


# ---- the dual norm s ------------------------------------------------------------------
def _relu_value(Xt: np.ndarray, lam: np.ndarray, u: np.ndarray, pen: np.ndarray) -> float:
    r""":math:`|\lambda^\top(\tilde Xu)_+| / \|u_\pi\|` (a lower bound of s for any u)."""
    nrm = float(np.linalg.norm(u[pen]))
    if nrm == 0.0:
        return 0.0
    return abs(float(lam @ np.maximum(Xt @ u, 0.0))) / nrm


def _global_bound(Xt: np.ndarray, lam: np.ndarray, pen: np.ndarray) -> float:
    r"""A closed-form upper bound of :math:`\max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|`,
    the smallest of three valid bounds.

    With :math:`z = \tilde Xu` and :math:`z_+ = (z + |z|)/2`:

    * :math:`|\lambda^\top z_+| \le \sum_j|\lambda_j||z_j|`;
    * :math:`|\lambda^\top z_+| \le \max(\|\lambda_+\|, \|\lambda_-\|)\,\|z\|` (since
      :math:`\lambda^\top z_+ \le \lambda_+^\top z_+ \le \|\lambda_+\|\|z\|`);
    * :math:`|\lambda^\top z_+| \le \tfrac12|\lambda^\top z| + \tfrac12\sum_j|\lambda_j||z_j|`
      and, by Cauchy-Schwarz, :math:`\sum_j|\lambda_j||z_j| \le \|\lambda\|_1^{1/2}
      \|\mathrm{diag}(|\lambda|)^{1/2} z\|`.

    All coordinates penalized: :math:`\|z\| \le \|\tilde X\|_2`, :math:`|z_j| \le
    \|\tilde x_j\|`.  A free bias b with :math:`1^\top\lambda = 0`: the value is constant
    in b once :math:`|b| \ge R = \max_j\|x_j\|` (all rows on, or all off), so
    :math:`|b| \le R`, :math:`|z_j| \le \|x_j\| + R`, :math:`\lambda^\top z =
    \lambda^\top Xw` and the b part adds :math:`R\|\lambda\|_1` (resp.
    :math:`R\sqrt n`) to the weight part.
    """
    Xp = Xt[:, pen]
    rown = np.linalg.norm(Xp, axis=1)
    a = np.abs(lam)
    lam_pm = max(float(np.linalg.norm(np.maximum(lam, 0))), float(np.linalg.norm(np.minimum(lam, 0))))
    R = 0.0 if pen.all() else float(np.max(rown, initial=0.0))
    n = Xt.shape[0]
    abs_sum = float(np.sqrt(np.sum(a)) * np.linalg.norm(np.sqrt(a)[:, None] * Xp, 2)) + R * float(np.sum(a))
    bounds = [
        float(np.sum(a * (rown + R))),
        lam_pm * (float(np.linalg.norm(Xp, 2)) + R * np.sqrt(n)),
        0.5 * float(np.linalg.norm(Xp.T @ lam)) + 0.5 * abs_sum,
    ]
    return min(bounds)


def _exhaustive_s(Xt, lam, D, free, pen):
    ps = pattern_supports(Xt, lam, D, free=free)
    i, col = ps.argmax_lower()
    u = ps.U[i, col]
    found = _relu_value(Xt, lam, u, pen)
    sign = 1 if col == 0 else -1
    viol = Violation(D[:, i].copy(), u, sign, sign * float(lam @ np.maximum(Xt @ u, 0)))
    return ps.max_upper, found, viol, D.shape[1]


def _ascend(Xt, lam, d_pat, sign, u, free, pen, max_steps: int = 25):
    r"""Local ascent over adjacent cells: the maximizer u of a cone usually lies on some
    of its facets :math:`\tilde x_j^\top u = 0`; flipping those rows gives a cone that
    still contains u, so its maximum is at least as large.  Repeat while it improves."""
    best = _relu_value(Xt, lam, u, pen)
    rown = np.linalg.norm(Xt, axis=1)
    for _ in range(max_steps):
        nrm = float(np.linalg.norm(u))
        if nrm == 0.0:
            break
        z = Xt @ u
        tied = np.abs(z) <= 1e-8 * rown * nrm
        if not tied.any():
            break
        d_new = d_pat.copy()
        d_new[tied] = ~d_new[tied]
        A = (2.0 * d_new - 1.0)[:, None] * Xt
        _, _, u_new = cone_support(A, sign * (Xt.T @ (d_new * lam)), free=free)
        val = _relu_value(Xt, lam, u_new, pen)
        if val <= best * (1 + 1e-12):
            break
        best, u, d_pat = val, u_new, d_new
    return best, u


def _search_s(Xt, lam, D, free, pen, n_ascent: int = 10):
    """Pattern search: cone maxima over the candidate patterns, then local ascent from
    the best few.  Returns (found value, Violation, number of patterns)."""
    ps = pattern_supports(Xt, lam, D, free=free)
    order = np.argsort(-ps.lower, axis=None)[:n_ascent]
    best_val, best = -1.0, None
    for flat in order:
        i, col = np.unravel_index(int(flat), ps.lower.shape)
        sign = 1 if col == 0 else -1
        val, u = _ascend(Xt, lam, D[:, i].copy(), sign, ps.U[i, col], free, pen)
        if val > best_val:
            best_val, best = val, (u, sign)
    u, sign = best
    viol = Violation(Xt @ u >= 0, u, sign, sign * float(lam @ np.maximum(Xt @ u, 0)))
    return best_val, viol, D.shape[1]


def _gated_s(Xt, lam, D, pen):
    r""":math:`s = \max_i \|(\tilde X^\top D_i\lambda)_\pi\|` over the gates (THEORY B):
    no cone, the constraint is :math:`\|\tilde X^\top D_i\mu\| \le \beta` per gate."""
    C = (D * lam[:, None]).T @ Xt
    norms = np.linalg.norm(C[:, pen], axis=1)
    i = int(np.argmax(norms))
    u = C[i] / norms[i] if norms[i] > 0 else np.zeros(Xt.shape[1])
    return float(norms[i]), Violation(D[:, i].copy(), u, 1, float(norms[i])), D.shape[1]


# ---- problem description -------------------------------------------------------------
def _lifted(X: np.ndarray, bias: str):
    Xt = X if bias == "none" else add_bias_column(X)
    free = np.zeros(Xt.shape[1], bool)
    if bias == "free":
        free[-1] = True
    return Xt, free


def _free_basis(X: np.ndarray, skip: bool, constant: bool) -> np.ndarray | None:
    cols = ([X] if skip else []) + ([np.ones((X.shape[0], 1))] if constant else [])
    return np.hstack(cols) if cols else None


def _check_network(network: Network, d: int, bias: str, skip: bool, constant: bool) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"network must be a convexnn Network; got {type(network).__name__}")
    if network.n_outputs != 1:
        raise ValueError(f"network has {network.n_outputs} outputs; certify handles scalar output")
    if network.input_dim != d:
        raise ValueError(f"network expects {network.input_dim} features; X has {d}")
    if bias == "none" and np.any(network.b1 != 0):
        raise ValueError("bias='none' but the network has nonzero hidden biases b1; "
                         "pass bias='regularized' or 'free'")
    if network.gates is not None and bias == "none" and np.any(network.gate_bias != 0):
        raise ValueError("bias='none' but the network's gates have offsets; pass bias='regularized'")
    if network.gates is not None and bias == "free":
        raise ValueError("bias='free' is degenerate for gated networks (see TwoLayerProgram)")
    if not skip and np.any(network.skip != 0):
        raise ValueError("the network has a skip term; pass skip=True")
    if not constant and np.any(np.asarray(network.c0) != 0):
        raise ValueError("the network has an output bias c0; pass output_bias=True (or bias='free')")


def _auto_patterns(Xt: np.ndarray, bias: str, patterns: Any, seed: Any, n_samples: int) -> PatternSet:
    """Resolve ``patterns`` for a ReLU certificate (see :func:`certify`)."""
    one_d_bias = Xt.shape[1] == 2 and bias != "none"
    if patterns is None or (isinstance(patterns, str) and patterns == "auto"):
        Z, _ = _rank_reduce(Xt)
        H = _hyperplanes(Z)[0].shape[0] if Z.shape[1] else 0
        small = Z.shape[1] <= 2 or pattern_count(H, Z.shape[1]) <= AUTO_EXACT_LIMIT
        patterns = "exact" if small else n_samples
    if isinstance(patterns, str) and patterns == "exact" and one_d_bias:
        return enumerate_1d_bias(Xt[:, 0])
    return make_patterns(Xt, patterns, seed=seed, one_d_bias=one_d_bias)


def certify(network: Network, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared",
            bias: str = "none", skip: bool = False, output_bias: bool = False,
            patterns: Any = None, seed: Any = None, tol: float = TOL,
            n_samples: int = SEARCH_SAMPLES, refine: bool = True) -> Certificate:
    r"""Certify (or refute) global optimality of any two-layer network (THEORY A.7).

    .. math::
        -\ell^*(-\lambda_s) \;\le\; p^\star \;\le\; P(\theta) =
        \ell(f_\theta(X); y) + \tfrac{\beta}{2}\big(\|W_1\|_F^2 + \|W_2\|^2
        [+\|b_1\|^2]\big),\qquad \lambda_s = \lambda\min(1, \beta/s),

    with :math:`\lambda = -\nabla\ell(f_\theta(X))` projected onto the free-term
    constraints and :math:`s \ge \max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|` (see the
    module docstring).  :math:`p^\star` is the optimum over networks of every width.

    Parameters
    ----------
    network : Network
        Any scalar-output two-layer (gated) ReLU network: recovered, trained by torch, or
        loaded.
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
    beta : float
        Weight decay (> 0), objective convention of THEORY section 0.
    loss : {"squared", "logistic", "hinge"} or Loss, default="squared"
    bias : {"none", "regularized", "free"}, default="none"
        How hidden biases are treated (``"free"``: unpenalized, the output constant is
        then free too).
    skip : bool, default=False
        Free linear skip term.
    output_bias : bool, default=False
        Free output constant.
    patterns : None, "auto", "exact", int, bool array (n, P) or PatternSet, default=None
        ReLU: None/"auto" enumerates the arrangement of :math:`\tilde X` when it has at
        most 2000 cells, else searches ``n_samples`` sampled gates; "exact" forces the
        enumeration; an int samples that many gates for the search; a PatternSet is used
        as given (exhaustive iff ``PatternSet.exhaustive``).  Gated: the gate patterns
        (default: the network's own gates).
    seed : int, Generator or None
        Seed of the gate sampling.
    tol : float, default=1e-5
        ``certified`` iff gap <= tol * max(1, |P(theta)|) and the check was exhaustive.
    n_samples : int, default=500
        Sampled gates of the search (plus the network's own patterns).
    refine : bool, default=True
        When the gradient's dual point leaves a relative gap between ``tol`` and 1e-2 (or
        for the hinge loss), improve it by a cutting-plane solve of the dual
        (:func:`_refine_dual`, a small conic program); exhaustive/gated checks only.

    Returns
    -------
    Certificate

    Notes
    -----
    *Free terms.*  Weak duality needs :math:`F^\top\lambda = 0`; at a network that is not
    stationary in its free terms this fails, so :math:`\lambda` is replaced by its
    projection onto :math:`\{F^\top\lambda = 0\}\cap\mathrm{dom}` (:func:`project_dual`):
    any such point is dual feasible after scaling, so the bound stays valid (only
    weaker).  With a free hidden bias the cone problems have the unpenalized coordinate
    b, handled by :func:`convexnn.cones.cone_support`.

    *Search.*  Without all patterns the computed maximum is only a lower bound of the
    dual norm; the scaling then uses the closed-form bound :func:`_global_bound`, so the
    lower bound stays valid but is loose, and ``certified`` is False.  The search can
    still *refute* optimality (``refuted``).

    References
    ----------
    Pilanci & Ergen (2020), dual of the two-layer problem; Wang, Lacotte & Pilanci
    (2022), optimality checks for trained networks; THEORY A.6-A.8, B.
    """
    t0 = time.perf_counter()
    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta)
    bias = check_choice("bias", bias, BIASES)
    tol = check_positive("tol", tol)
    loss = get_loss(loss)
    y = loss.check_targets(y)
    constant = bool(output_bias) or bias == "free"
    _check_network(network, X.shape[1], bias, bool(skip), constant)
    Xt, free = _lifted(X, bias)
    gated = network.gates is not None
    if gated:
        D = network.activation_patterns(X) if patterns is None else _as_pattern_set(patterns, Xt).D
        pset = None
    else:
        pset = _auto_patterns(Xt, bias, patterns, seed, n_samples)
        D = pset.D
    return _certify(network, X, y, Xt, free, beta=beta, loss=loss, bias=bias, skip=bool(skip),
                    constant=constant, D=D, exhaustive=gated or pset.exhaustive, gated=gated,
                    tol=tol, t0=t0, refine=bool(refine))


def _as_pattern_set(patterns: Any, Xt: np.ndarray) -> PatternSet:
    if isinstance(patterns, PatternSet):
        return patterns
    return make_patterns(Xt, patterns)


@dataclass
class _DualEval:
    """One dual point and what it gives (internal)."""

    lam: np.ndarray
    s: float
    found: float
    viol: Violation | None
    n_checked: int
    method: str
    scale: float
    lower: float
    moved: float


def _evaluate_dual(network: Network, lam_raw: np.ndarray, lam: np.ndarray, X, y, Xt, free,
                   D, *, beta: float, loss: Loss, exhaustive: bool, gated: bool) -> _DualEval:
    """Steps 3-4 of the module docstring for a dual point ``lam`` (already projected)."""
    pen = ~free
    free_mask = None if not free.any() else free
    moved = float(np.linalg.norm(lam - lam_raw)) / max(float(np.linalg.norm(lam_raw)), 1e-300)
    # 3. dual norm
    if gated:
        s, viol, n_checked = _gated_s(Xt, lam, D, pen)
        found, method = s, "gated"
    elif exhaustive:
        s, found, viol, n_checked = _exhaustive_s(Xt, lam, D, free_mask, pen)
        method = "exhaustive"
    else:
        Dc, _ = unique_patterns(np.concatenate([D, network.activation_patterns(X)], axis=1))
        found, viol, n_checked = _search_s(Xt, lam, Dc, free_mask, pen)
        s, method = max(_global_bound(Xt, lam, pen), found), "search"
    # 4. scale into the dual feasible set and evaluate the dual objective
    scale = 1.0 if s <= beta else beta / s
    lower = -loss.conjugate(-scale * lam, y)
    return _DualEval(lam, float(s), float(found), viol, int(n_checked), method, float(scale),
                     float(lower), moved)


def _certify(network: Network, X, y, Xt, free, *, beta: float, loss: Loss, bias: str,
             skip: bool, constant: bool, D: np.ndarray, exhaustive: bool, gated: bool,
             tol: float, t0: float, extra_predictions: tuple = (),
             refine: bool = True) -> Certificate:
    """The certificate proper, on validated inputs.

    The dual point is taken at the network's predictions.  When that does not certify,
    better dual points are tried and the best *valid* lower bound is kept:
    ``extra_predictions`` (e.g. the convex solution's, which the recovered network
    matches only to the recovery tolerance), then, with ``refine`` and a complete check,
    a cutting-plane solve of the dual started from the best point (:func:`_refine_dual`).
    ``refuted``, ``most_violated`` and ``free_residual`` always describe the network's own
    dual point; ``s``, ``s_found`` and ``scale`` the one that gave the bound.
    """
    F = _free_basis(X, skip, constant)
    net = replace(network, regularize_bias=bias == "regularized")
    upper = float(net.objective(X, y, beta=beta, loss=loss))
    lo, hi = _dual_box(loss, y)
    kw = dict(beta=beta, loss=loss, exhaustive=exhaustive, gated=gated)

    def unfinished(lower):
        return (upper - lower) / max(1.0, abs(upper)) > tol

    z_net = network.predict(X)
    own = _evaluate_dual(network, *_dual_point(network, X, y, Xt, free, loss, F, beta, z_net),
                         X, y, Xt, free, D, **kw)
    best, source = own, "network"
    for z in extra_predictions:
        if not unfinished(best.lower):
            break
        ev = _evaluate_dual(network, *_dual_point(network, X, y, Xt, free, loss, F, beta, z),
                            X, y, Xt, free, D, **kw)
        best, source = (ev, "convex solution") if ev.lower > best.lower else (best, source)
    near_optimal = (upper - best.lower) / max(1.0, abs(upper)) <= REFINE_RTOL
    if (refine and unfinished(best.lower) and (exhaustive or gated)
            and (near_optimal or loss.name == "hinge")
            and loss.name in ("squared", "logistic", "hinge")):
        lam = _refine_dual(loss, Xt, y, z_net, best.lam, F, D, None if not free.any() else free,
                           beta, gated, rtol=0.1 * tol)
        lam = project_dual(lam, F, lo, hi)
        ev = _evaluate_dual(network, lam, lam, X, y, Xt, free, D, **kw)
        best, source = (ev, "refined") if ev.lower > best.lower else (best, source)
    lower = best.lower
    gap = upper - lower
    rel = gap / max(1.0, abs(upper))
    certified = bool(exhaustive and rel <= tol)
    refuted = bool(loss.name in _SMOOTH
                   and (own.found > beta * (1 + REFUTE_RTOL) or own.moved > REFUTE_RTOL))
    return Certificate(lower_bound=float(lower), upper_bound=upper, gap=float(gap),
                       relative_gap=float(rel), certified=certified, exhaustive=bool(exhaustive),
                       s=best.s, s_found=best.found, beta=beta, scale=best.scale,
                       refuted=refuted, most_violated=own.viol, n_patterns_checked=own.n_checked,
                       time=time.perf_counter() - t0, method=own.method, loss=loss.name,
                       free_residual=own.moved, tol=tol, dual_point=source)


def certify_fit(result, *, tol: float = TOL, refine: bool = True) -> Certificate:
    """Certificate of a :func:`convexnn.fit` result's recovered network.

    Uses the fit's own data, beta, loss and variant.  When the fit enumerated every
    pattern (``result.exhaustive``) the same pattern set is reused, so the check is
    exhaustive; otherwise the fit's patterns plus 500 fresh Gaussian gates seed a pattern
    search with local ascent (which can refute but never certify).  A gated fit is
    checked over its gates (optimality among gated networks with those gates).  Besides
    the network's own dual point, the convex solution's predictions are tried, and with
    ``refine`` the cutting-plane dual solve (see :func:`certify`).
    """
    t0 = time.perf_counter()
    program = result.program
    network = result.network
    X, y = program.X, program.y
    constant = program.has_free_constant
    _check_network(network, X.shape[1], program.bias, program.skip, constant)
    Xt, free = _lifted(X, program.bias)
    gated = program.model == "gated"
    exhaustive = gated or bool(result.exhaustive)
    D = program.D
    if not exhaustive:  # search: the fit's patterns plus fresh samples
        rng = np.random.default_rng((0 if result.seed is None else result.seed, 7))
        D = np.concatenate([D, sample_patterns(Xt, SEARCH_SAMPLES, seed=rng).D], axis=1)
    return _certify(network, X, y, Xt, free, beta=program.beta, loss=program.loss,
                    bias=program.bias, skip=program.skip, constant=constant, D=D,
                    exhaustive=exhaustive, gated=gated, tol=tol, t0=t0, refine=bool(refine),
                    extra_predictions=(program.predict(result.solution),))


__all__ = ["Certificate", "Violation", "certify", "certify_fit", "project_dual"]
