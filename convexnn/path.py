r"""The critical weight decay :math:`\beta_{\max}` and regularization paths (THEORY A.7, I7).

**beta_max.**  Let :math:`z_0 = F a^\star` be the best prediction of the free terms alone
(:math:`F = [X \text{ if skip}, 1 \text{ if a free constant}]`, :math:`z_0 = 0` without
free terms) and :math:`\lambda_0 = -\nabla\ell(z_0)`, so that :math:`F^\top\lambda_0 = 0`.
Then

.. math::
    \beta_{\max} = \max_{\|u_\pi\|_2\le1} |\lambda_0^\top(\tilde Xu)_+|
    \qquad(\text{squared loss: } \lambda_0 = y - z_0, \text{ e.g. the centered } y),

and for :math:`\beta \ge \beta_{\max}` the zero network plus the free terms is a global
optimum with :math:`p^\star = \ell(z_0)`: :math:`\lambda_0` is dual feasible and its
Fenchel-Young gap at :math:`z_0` is zero.  For smooth losses the converse holds too (for
:math:`\beta < \beta_{\max}` the unique dual candidate :math:`\lambda_0` is infeasible, so
a nonzero network does better).

**Path.**  :func:`regularization_path` compiles the convex program once and re-solves it
for each :math:`\beta` by changing the cvxpy Parameter ``beta`` (no recompilation), then
recovers and certifies each point as :func:`convexnn.fit` does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import fit
from .core import progress
from .core.losses import Loss, get_loss
from .core.results import FitResult
from .core.validation import check_choice, check_positive, check_X_y
from .core.variant import BIASES, DEFAULT_BIAS, Variant
from .duality.cones import pattern_supports
from .duality.dual_norm import auto_patterns
from .duality.dual_points import dual_point
from .exceptions import SolverError
from .networks.two_layer import Network
from .pipeline import refit
from .solvers.cvxpy_backend import solve_problem


def _fit_free_terms(F: np.ndarray | None, y: np.ndarray, loss: Loss) -> np.ndarray:
    r"""Coefficients a minimizing :math:`\ell(Fa; y)` (empty without free terms).

    Squared loss: least squares.  Other losses: a small cvxpy problem (Clarabel).
    """
    if F is None:
        return np.zeros(0)
    if loss.constant_hessian:  # the squared loss: least squares
        return np.linalg.lstsq(F, y, rcond=None)[0]
    import cvxpy as cp

    a = cp.Variable(F.shape[1])
    problem = cp.Problem(cp.Minimize(loss.cvxpy(F @ a, y)))
    out = solve_problem(problem, solver="clarabel", what="the free terms alone")
    if a.value is None:
        raise SolverError(f"fitting the free terms alone failed ({out.solver_status})")
    return np.asarray(a.value)


def zero_network(X: np.ndarray, y: np.ndarray, *, loss: str | Loss = "squared",
                 bias: str = DEFAULT_BIAS, skip: bool = False, output_bias: bool = False) -> Network:
    r"""The width-0 network whose free terms minimize :math:`\ell(Xw_0 + c1; y)`: the
    global optimum for :math:`\beta \ge \beta_{\max}`."""
    loss = get_loss(loss)
    variant = Variant(bias=bias, skip=skip, output_bias=output_bias)
    a = _fit_free_terms(variant.free_basis(X), y, loss)
    d = X.shape[1]
    w0, c0 = variant.split_free(a, d)
    return Network(W1=np.zeros((0, d)), W2=np.zeros(0), skip=w0, c0=float(c0),
                   regularize_bias=variant.regularized_bias)


def beta_max(X: Any, y: Any, *, loss: str | Loss = "squared", bias: str = DEFAULT_BIAS,
             skip: bool = False, output_bias: bool = False, patterns: Any = "auto",
             seed: Any = None) -> float:
    r"""The smallest :math:`\beta` at which the zero network (plus free terms) is optimal.

    .. math::
        \beta_{\max} = \max_{\|u_\pi\|\le1}|\lambda_0^\top(\tilde Xu)_+|
        = \max_i\max_\pm \max_{u\in K_i,\|u_\pi\|\le1} \pm\lambda_0^\top D_i\tilde Xu,
        \qquad \lambda_0 = -\nabla\ell(z_0)

    (THEORY A.7 corollary; module docstring), computed over every pattern with
    :func:`convexnn.duality.cones.pattern_supports` (an upper bound of the maximum that is tight
    to roundoff).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
    loss : {"squared", "logistic", "hinge"}, default="squared"
    bias : {"none", "regularized", "free"}, default="none"
    skip : bool, default=False
    output_bias : bool, default=False
    patterns : "auto", "exact", int or PatternSet, default="auto"
        As in :func:`convexnn.duality.certificates.certify`.  Sampled patterns give only a *lower*
        estimate (a warning says so).
    seed : int or None

    Returns
    -------
    float

    Notes
    -----
    For the hinge loss :math:`\lambda_0` is the subgradient selected as in
    :func:`convexnn.duality.certificates.certify`; the value returned is then sufficient (the zero
    network is optimal above it) but may exceed the exact threshold.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0]]); y = np.array([1.0, -1.0])
    >>> round(beta_max(X, y), 12)  # max over u = +-1 of |y^T (X u)_+|
    1.0
    """
    X, y = check_X_y(X, y)
    bias = check_choice("bias", bias, BIASES)
    loss = get_loss(loss)
    y = loss.check_targets(y)
    net = zero_network(X, y, loss=loss, bias=bias, skip=skip, output_bias=output_bias)
    variant = Variant(bias=bias, skip=skip, output_bias=output_bias)
    Xt, free = variant.lift(X)
    F = variant.free_basis(X)
    _, lam0 = dual_point(net, X, y, Xt, free, loss, F, 1.0, net.predict(X))
    pset = auto_patterns(Xt, variant.has_bias, patterns, seed, 500)
    if not pset.exhaustive:
        warnings.warn("beta_max over sampled patterns is only a lower estimate; pass "
                      "patterns='exact' where the arrangement is small enough", stacklevel=2)
    ps = pattern_supports(Xt, lam0, pset.D, free=free if free.any() else None)
    return ps.max_upper if pset.exhaustive else ps.max_lower


# ---- regularization path ----------------------------------------------------------------
@dataclass
class PathResult:
    """Fits along a sequence of weight decays, sharing one compiled convex program.

    Attributes
    ----------
    betas : ndarray
    results : list of FitResult
        One per beta, in the order given.
    compile_times : list of float
        cvxpy's ``compilation_time`` of each solve (the first compiles; the rest only
        substitute the new ``beta``).
    """

    betas: np.ndarray
    results: list[FitResult]
    compile_times: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> FitResult:
        return self.results[i]

    def __iter__(self):
        return iter(self.results)

    def __repr__(self) -> str:  # a few lines (the generated one prints every fit)
        from .core.reprs import path_result

        return path_result(self)

    @property
    def objectives(self) -> np.ndarray:
        return np.array([r.objective for r in self.results])

    @property
    def n_active(self) -> np.ndarray:
        return np.array([r.n_active for r in self.results])

    @property
    def lower_bounds(self) -> np.ndarray:
        """Certificate lower bounds (NaN where no certificate was computed)."""
        return np.array([r.certificate.lower_bound if r.certificate is not None else np.nan
                         for r in self.results])

    def summary(self) -> str:
        """A table: beta, objective, active neurons, certificate gap, solve time."""
        rows = [f"{'beta':>12} {'objective':>14} {'active':>6} {'rel. gap':>9} {'certified':>9} {'solve[s]':>8}"]
        for b, r in zip(self.betas, self.results):
            c = r.certificate
            gap = f"{c.relative_gap:9.1e}" if c is not None else f"{'-':>9}"
            cert = f"{str(c.certified):>9}" if c is not None else f"{'-':>9}"
            rows.append(f"{b:12.5g} {r.objective:14.8g} {r.n_active:6d} {gap} {cert} "
                        f"{r.timings.get('solve', float('nan')):8.3f}")
        return "\n".join(rows)


def regularization_path(X: Any, y: Any, betas: Any, *, solver: str = "auto",
                        verbose: bool = False, tol: float | None = None, prune: bool = True,
                        certify: bool = True, seed: Any = None, **fit_kwargs) -> PathResult:
    r"""Fit the convex program for each :math:`\beta` in ``betas``, compiling it once.

    .. math::
        \beta \mapsto \min_{v,w}\ \ell\Big(\sum_i D_i\tilde X(v_i - w_i) + \dots\Big)
        + \beta\sum_i(\|v_{i,\pi}\| + \|w_{i,\pi}\|)

    over one pattern set (the patterns are computed once, at the first point).  The
    first point is solved by :func:`convexnn.fit`; the others set the cvxpy Parameter
    ``program.parameters["beta"]`` and re-solve without recompiling, then recover and
    certify like :func:`convexnn.fit`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
    betas : array-like of float
        Positive weight decays, solved in the order given (e.g. decreasing from
        :func:`beta_max`).
    solver, verbose, tol, prune, certify, seed
        As in :func:`convexnn.fit`.
    **fit_kwargs
        Other :func:`convexnn.fit` arguments (model, loss, patterns, bias, skip,
        output_bias, max_patterns, solver options).

    Returns
    -------
    PathResult
    """
    X, y = check_X_y(X, y)
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    if betas.ndim != 1 or betas.size == 0:
        raise ValueError(f"betas must be a non-empty 1-D sequence; got shape {betas.shape}")
    for b in betas:
        check_positive("betas", float(b))
    first = fit(X, y, beta=float(betas[0]), solver=solver, verbose=verbose, tol=tol,
                prune=prune, certify=certify, seed=seed, **fit_kwargs)
    program = first.program

    def compile_time() -> float:  # 0 for solvers that build no cvxpy problem
        problem = getattr(program, "_problem", None)
        return float(problem.compilation_time or 0.0) if problem is not None else 0.0

    results, compile_times = [first], [compile_time()]
    with progress.bar(len(betas) - 1, "regularization path", fit_kwargs.get("progress")) as bar:
        for b in betas[1:]:
            res = refit(first, float(b))
            results.append(res)
            compile_times.append(compile_time())
            bar.update(beta=float(b), objective=res.objective)
    return PathResult(betas=betas, results=results, compile_times=compile_times)


__all__ = ["beta_max", "zero_network", "regularization_path", "PathResult"]
