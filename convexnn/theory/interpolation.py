r"""Minimal-cost interpolation of 1-D data and the exact 1-D convex program (THEORY F.1).

With slopes :math:`\delta_j = (y_{j+1}-y_j)/(x_{j+1}-x_j)` and
:math:`T = \sum_j|\delta_{j+1}-\delta_j|`, the least representational cost of an
interpolant is :math:`R^* = T` with a free skip term and
:math:`R^* = \max(T, (T + |\delta_1+\delta_{N-1}|)/2)` without one
(:func:`interpolation_cost`); the optimal values satisfy
:math:`p^*(\beta)/\beta \to R^*` as :math:`\beta \to 0` (:func:`interpolation_limit`), and
the minimal interpolant is unique unless two adjacent slope changes share a sign
(:func:`unique_interpolant`).  The optimum at any :math:`\beta` is the Lasso over ReLU
atoms at the data points (Ergen & Pilanci 2021, :func:`lasso_1d`)

.. math::
    \min_{z,\,\xi,\,w_0}\ \tfrac12\|Az + \xi 1 + w_0 x - y\|^2 + \beta\|z\|_1,\qquad
    A[n,(s,j)] = (s(x_n - x_j))_+,

an independent formulation of the two-layer program with free biases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array, check_positive
from ..exceptions import SolverError
from ..networks.two_layer import Network
from ..solvers.cvxpy_backend import solve_problem
from .one_d import _sorted_data
from .report import Check, _close


def interpolation_cost(x: Any, y: Any, *, skip: bool = False) -> float:
    r"""Minimal representational cost :math:`R^*` of an interpolant of (x, y) (F.1, T-interp).

    With slopes :math:`\delta_j = (y_{j+1}-y_j)/(x_{j+1}-x_j)` and
    :math:`T = \sum_j|\delta_{j+1}-\delta_j|`: with a free skip :math:`R^* = T`
    (connect-the-dots; the mean value theorem gives the lower bound).  Without skip
    :math:`R^* = \max(T, (T + |\delta_1 + \delta_{N-1}|)/2)`: extending with end slopes
    :math:`\delta_1 + p, \delta_{N-1} + q` costs :math:`\max(T + |p| + |q|,
    |\delta_1+\delta_{N-1}+p+q|)`, minimized by splitting the excess evenly [D, checked
    against the Lasso limit in the tests].

    Examples
    --------
    >>> interpolation_cost([0, 2, 6, 7], [0, 0, 3, 7])  # bounce (THEORY I3)
    4.0
    """
    x, y = _sorted_data(x, y)
    if x.size < 2:
        return 0.0
    delta = np.diff(y) / np.diff(x)
    T = float(np.sum(np.abs(np.diff(delta))))
    return T if skip else max(T, 0.5 * (T + abs(delta[0] + delta[-1])))


def interpolation_limit(x: Any, y: Any, betas: Any, objectives: Any, *, skip: bool = False,
                        rtol: float = 1e-3) -> Check:
    r""":math:`p^*(\beta)/\beta \to R^*` as :math:`\beta\to 0` (THEORY F.1, T-interp).

    :math:`p^*` is concave in :math:`\beta` with :math:`p^*(0)=0` and
    :math:`p^*(\beta)\le\beta R^*`, so the ratios must be non-increasing in :math:`\beta`,
    at most :math:`R^*`, and (at the smallest :math:`\beta`) within ``rtol`` of :math:`R^*`.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data (distinct x).
    betas, objectives : array-like of shape (B,)
        Regularization strengths and the optimal values :math:`p^*(\beta)` (from
        :func:`convexnn.fit` with ``bias="free", patterns="exact"``, :func:`lasso_1d`, ...).
    skip : bool
        Whether the model had a free skip term.
    """
    betas = check_array("betas", betas, ndim=1)
    objectives = check_array("objectives", objectives, ndim=1)
    if betas.shape != objectives.shape or np.any(betas <= 0):
        raise ValueError("betas must be positive and match objectives in shape")
    R = interpolation_cost(x, y, skip=skip)
    order = np.argsort(betas)[::-1]
    ratio = objectives[order] / betas[order]
    slack = rtol * max(R, 1e-12)
    holds = (bool(np.all(np.diff(ratio) >= -slack)) and bool(np.all(ratio <= R + slack))
             and _close(float(ratio[-1]), R, rtol, 0.0))
    return Check("p*(beta)/beta -> R*", predicted=R, measured=float(ratio[-1]), holds=holds,
                 rtol=rtol, section="F.1", details={"betas": betas[order], "ratios": ratio})


def unique_interpolant(x: Any, y: Any, *, tol: float = 1e-9) -> Check:
    r"""Is the minimal-TV interpolant on :math:`[x_1, x_N]` unique? (THEORY F.1 caveat)

    The discrete slope changes :math:`\Delta_j = \delta_j - \delta_{j-1}` sit at the interior
    data points.  If two *adjacent* data points carry nonzero changes of the same sign,
    :math:`f'` may be any monotone function between :math:`\delta_{j-1}` and
    :math:`\delta_{j+1}` with mean :math:`\delta_j` on the gap between them, so equal-cost
    optima with off-data knots exist; otherwise the interpolant is unique.  Predicted:
    unique; ``details["ambiguous_gaps"]`` lists the gaps where it is not.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data with distinct x.
    tol : float
        Slope changes below ``tol`` times the largest slope count as zero.
    """
    x, y = _sorted_data(x, y)
    delta = np.diff(y) / np.diff(x)
    change = np.diff(delta)
    scale = max(float(np.max(np.abs(delta), initial=0.0)), 1e-300)
    sign = np.where(np.abs(change) > tol * scale, np.sign(change), 0.0)
    bad = np.flatnonzero(sign[:-1] * sign[1:] > 0)  # change j at x[j+1], change j+1 at x[j+2]
    gaps = [(float(x[j + 1]), float(x[j + 2])) for j in bad]
    return Check("unique minimal interpolant", predicted=True, measured=not gaps,
                 holds=not gaps, atol=tol, section="F.1",
                 details={"ambiguous_gaps": gaps, "slope_changes": change})


@dataclass(frozen=True)
class Lasso1D:
    r"""Solution of the 1-D Lasso :func:`lasso_1d`.

    Attributes
    ----------
    objective : float
        :math:`\tfrac12\|Az + \xi 1 + w_0 x - y\|^2 + \beta\|z\|_1`, recomputed in numpy.
    z : ndarray of shape (K,)
        Atom weights; atom k is :math:`(s_k(x - \kappa_k))_+`.
    kappa, s : ndarray of shape (K,)
        Atom knots (data points) and orientations.
    xi, w0 : float
        Free constant and skip slope (0 without skip).
    status : str
        cvxpy's status.
    """

    objective: float
    z: np.ndarray
    kappa: np.ndarray
    s: np.ndarray
    xi: float
    w0: float
    status: str

    @property
    def network(self) -> Network:
        """The balanced network :math:`\\xi + w_0x + \\sum_k z_k (s_k(x-\\kappa_k))_+`."""
        net = Network(W1=self.s[:, None], b1=-self.s * self.kappa, W2=self.z, c0=self.xi,
                      skip=np.array([self.w0]))
        return net.rebalance()


def lasso_1d(x: Any, y: Any, beta: float, *, skip: bool = False, solver: str = "CLARABEL") -> Lasso1D:
    r"""The exact convex form of 1-D two-layer training with free biases (THEORY F.1).

    .. math::
        \min_{z\in\mathbb R^{2N},\,\xi,\,w_0}\ \tfrac12\|Az + \xi 1 + w_0 x - y\|^2
            + \beta\|z\|_1,\qquad A[n,(s,j)] = (s(x_n - x_j))_+,\ s\in\{\pm 1\},

    with :math:`w_0 = 0` unless ``skip`` (Ergen & Pilanci 2021; pilancilab/1d-convex-nn).
    The atoms :math:`(x - x_N)_+` and :math:`(x_1 - x)_+` vanish on the data and are left
    out.  An independent formulation of ``fit(x[:, None], y, bias="free", patterns="exact")``.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data.
    beta : float
        Regularization strength, > 0 (THEORY section 0 scaling).
    skip : bool, default=False
        Add the free slope :math:`w_0`.
    solver : str, default="CLARABEL"
        A cvxpy solver name.

    Returns
    -------
    Lasso1D
    """
    import cvxpy as cp

    xs, ys = _sorted_data(x, y, distinct=False)
    beta = check_positive("beta", beta)
    kappa_u = np.unique(xs)
    kappa = np.concatenate([kappa_u[:-1], kappa_u[1:]])
    s = np.concatenate([np.ones(kappa_u.size - 1), -np.ones(kappa_u.size - 1)])
    A = np.maximum(s[None, :] * (xs[:, None] - kappa[None, :]), 0.0)
    z, xi = cp.Variable(kappa.size), cp.Variable()
    w0 = cp.Variable() if skip else cp.Constant(0.0)
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ z + xi + w0 * xs - ys)
                                     + beta * cp.norm1(z)))
    out = solve_problem(problem, solver=solver, what="the 1-D Lasso")
    if z.value is None:
        raise SolverError(f"{solver} returned status {out.solver_status!r} for the 1-D Lasso; "
                          "try solver='SCS'")
    zv, xiv, w0v = np.asarray(z.value, float), float(xi.value), float(w0.value)
    r = A @ zv + xiv + w0v * xs - ys
    obj = 0.5 * float(r @ r) + beta * float(np.sum(np.abs(zv)))
    return Lasso1D(objective=obj, z=zv, kappa=kappa, s=s, xi=xiv, w0=w0v, status=out.solver_status)


__all__ = ["Lasso1D", "interpolation_cost", "interpolation_limit", "unique_interpolant",
           "lasso_1d"]
