r"""Convex relaxations of the vector-output ReLU program (THEORY C) and a side-by-side report.

Both are lower bounds on :math:`p^\star` when the patterns are every cell of the
arrangement (squared loss, all coordinates penalized, no free terms):

* **nuclear-norm relaxation** (drop the cones): the gated program
  :math:`\min \tfrac12\|\sum_iD_i\tilde XV_i - Y\|^2 + \beta\sum_i\|V_i\|_*`, with the
  **SVD tightness test**: if every singular pair :math:`(a_k, b_k)` of every
  :math:`V_i` has a sign with :math:`(2D_i - I)\tilde X(s a_k) \ge -\text{tol}`, the ReLU
  network :math:`u = s\sqrt{\sigma_k}a_k`, :math:`g = s\sqrt{\sigma_k}b_k` attains the
  bound, which is then :math:`p^\star` (sufficient, not necessary);
* **DNN ("copositive") relaxation**:

  .. math:: \min_{S_i\succeq0,\ (2D_i-I)\tilde XS_i\tilde X^\top(2D_i-I)\ge0}
            \tfrac12\mathrm{tr}\big(Y^\top(I + 2\textstyle\sum_iD_i\tilde XS_i\tilde X^\top D_i)^{-1}Y\big)
            + \beta^2\textstyle\sum_i\mathrm{tr}(S_i),

  exact when every cone is simplicial and :math:`d' \le 4` (e.g. 1-D data with a bias).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.patterns import make_patterns
from ..core.validation import check_array, check_choice, check_positive
from ..core.variant import Variant
from ..exceptions import SolverError
from ..solvers.cvxpy_backend import solve_problem

#: Largest n for which :func:`dnn_relaxation` builds its SDP by default.
DNN_MAX_N = 60


@dataclass
class Bounds:
    """Upper and lower bounds on :math:`p^\\star` side by side (None where not computed)."""

    upper: float
    certificate_lower: float
    certified: bool
    nuclear: float | None
    nuclear_tight: bool | None
    dnn: float | None

    def table(self) -> str:
        rows = [("ReLU network (neuron generation), upper", self.upper),
                ("dual certificate, lower", self.certificate_lower),
                ("nuclear-norm relaxation, lower", self.nuclear),
                ("DNN (copositive) relaxation, lower", self.dnn)]
        out = [f"{name:42s} {('-' if v is None else f'{v:.10g}'):>16s}" for name, v in rows]
        out.append(f"nuclear relaxation tight (SVD test): {self.nuclear_tight}; certified: {self.certified}")
        return "\n".join(out)


def _data(X, Y, beta, bias):
    X = check_array("X", X, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y have different numbers of samples: {X.shape[0]} != {Y.shape[0]}")
    beta = check_positive("beta", beta)
    check_choice("bias", bias, ("none", "regularized"))
    variant = Variant(bias=bias)
    Xt, _ = variant.lift(X)
    pset = make_patterns(Xt, "exact", one_d_bias=X.shape[1] == 1 and variant.has_bias).without_empty()
    return X, Y, beta, Xt, pset


def svd_tightness(Xt: np.ndarray, D: np.ndarray, V: np.ndarray, *, tol: float = 1e-6,
                  rtol: float = 1e-6) -> bool:
    r"""THEORY C tightness test: every singular vector :math:`a_k` of every block
    :math:`V_i` (singular values above ``rtol`` times the largest) has a sign s with
    :math:`(2D_i - I)\tilde X(s a_k) \ge -\text{tol}\,\|\tilde X\|`."""
    U, S, _ = np.linalg.svd(V, full_matrices=False)
    top = float(np.max(S, initial=0.0))
    scale = tol * max(float(np.max(np.linalg.norm(Xt, axis=1))), 1.0)
    for i in range(V.shape[0]):
        sgn = 2.0 * D[:, i] - 1.0
        for k in np.flatnonzero(S[i] > rtol * top):
            z = sgn * (Xt @ U[i, :, k])
            if not (np.all(z >= -scale) or np.all(-z >= -scale)):
                return False
    return True


def nuclear_relaxation(X: Any, Y: Any, *, beta: float, bias: str = "none", solver: str = "fista",
                       tol: float = 1e-9) -> tuple[float, bool]:
    """(value, tight) of the nuclear-norm relaxation over every pattern (see module doc)."""
    from ..api import fit

    X, Y, beta, Xt, pset = _data(X, Y, beta, bias)
    res = fit(X, Y, beta=beta, model="gated", bias=bias, patterns="exact", solver=solver,
                     tol=tol, certify=True, prune=False)
    lower = res.certificate.lower_bound  # a certified lower bound of the relaxation
    V = res.solution.V
    return float(lower), svd_tightness(res.program.Xt, res.program.D, V)


def dnn_relaxation(X: Any, Y: Any, *, beta: float, bias: str = "none", solver: str = "CLARABEL",
                   max_n: int = DNN_MAX_N) -> float:
    """Value of the DNN (copositive) relaxation over every pattern, by cvxpy (small n)."""
    import cvxpy as cp

    X, Y, beta, Xt, pset = _data(X, Y, beta, bias)
    n, k = Xt.shape
    if n > max_n:
        raise ValueError(f"dnn_relaxation builds an SDP per pattern; n = {n} > max_n = {max_n}")
    Ss, cons, M = [], [], 0
    for i in range(pset.D.shape[1]):
        Di = pset.D[:, i].astype(np.float64)
        S = cp.Variable((k, k), PSD=True)
        Ai = (2 * Di - 1)[:, None] * Xt
        cons.append(Ai @ S @ Ai.T >= 0)
        Ss.append(S)
        M = M + (Di[:, None] * Xt) @ S @ (Di[:, None] * Xt).T
    obj = 0.5 * cp.matrix_frac(Y, np.eye(n) + 2 * M) + beta**2 * sum(cp.trace(S) for S in Ss)
    prob = cp.Problem(cp.Minimize(obj), cons)
    out = solve_problem(prob, solver=solver, what="the DNN relaxation")
    if not out.ok:
        raise SolverError(f"DNN relaxation: solver status {out.solver_status}")
    return out.value


def bounds(X: Any, Y: Any, *, beta: float, bias: str = "none", dnn: bool | None = None) -> Bounds:
    """The ReLU fit (upper), its certificate (lower), and both relaxations (lower), side by side."""
    from ..api import fit as fit_

    X, Y, beta, Xt, pset = _data(X, Y, beta, bias)
    fit = fit_(X, Y, beta=beta, model="relu", bias=bias)
    nuc, tight = nuclear_relaxation(X, Y, beta=beta, bias=bias)
    use_dnn = X.shape[0] <= DNN_MAX_N if dnn is None else dnn
    return Bounds(upper=fit.objective, certificate_lower=fit.certificate.lower_bound,
                  certified=fit.certificate.certified, nuclear=nuc, nuclear_tight=tight,
                  dnn=dnn_relaxation(X, Y, beta=beta, bias=bias) if use_dnn else None)


__all__ = ["Bounds", "bounds", "dnn_relaxation", "nuclear_relaxation", "svd_tightness"]
