r"""``fit(..., depth=3, path=...)``: parallel three-layer ReLU networks to global optimality.

Solves the group-sparse program of :mod:`convexnn.three_layer.program` (THEORY E.1) with
cvxpy + Clarabel, re-evaluates it in numpy, recovers a :class:`ParallelNetwork` with the
same objective :math:`\ell(f(X); y) + \beta R(\theta)` and certifies it by weak duality:
with :math:`\lambda = -\nabla\ell(\hat y)` and

.. math::  s = \max_g \max_{\pm}\ \max\{\pm\lambda^\top D_{2,g}h_g(z) : z \text{ feasible for } g,\ \rho(z) \le 1\},

:math:`\lambda_s = \lambda\min(1, \beta/s)` is dual feasible and
:math:`\mathrm{LB} = -\ell^*(-\lambda_s) \le p^\star` (one small SOCP per group and sign;
exact only when the groups are exhaustive, i.e. tiny n).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.solution import INACCURATE, OPTIMAL
from ..core.validation import check_choice, check_int, check_positive, check_X_y
from ..duality.cones import cone_support
from ..exceptions import InaccurateSolutionWarning, SolverError
from ..networks.parallel import PATHS, ParallelNetwork
from .groups import (
    Groups,
    cone_matrix,
    exact_groups,
    lifted_matrix,
    sampled_groups,
)
from .program import ThreeLayerProgram

CHECK_RTOL = 1e-6
#: Clarabel tolerances of the three-layer solve (the extreme-point check needs ~1e-8 duals).
_TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
CERT_TOL = 1e-6


@dataclass
class ParallelCertificate:
    r"""Weak-duality bound :math:`\mathrm{LB} \le p^\star \le P(\theta)` for a parallel network."""

    lower_bound: float
    upper_bound: float
    gap: float
    relative_gap: float
    s: float
    beta: float
    exhaustive: bool
    certified: bool
    n_groups_checked: int
    time: float
    #: how s was bounded: the groups' supports, or a relaxation over all sub-networks
    method: str = "exact groups"

    def summary_line(self) -> str:
        verdict = "certified" if self.certified else ("not certified" if self.exhaustive
                                                     else "bound over sampled groups only")
        return (f"{verdict} ({self.method}): LB {self.lower_bound:.10g} <= p* <= {self.upper_bound:.10g} "
                f"(gap {self.gap:.2e}, rel {self.relative_gap:.2e}; s/beta = {self.s / self.beta:.6f}"
                + (f", {self.n_groups_checked} groups)" if self.n_groups_checked else ")"))


@dataclass
class ThreeLayerResult:
    """What ``fit(..., depth=3)`` returns (cf. :class:`convexnn.FitResult`)."""

    objective: float
    status: str
    network: ParallelNetwork
    recovered_objective: float
    program: ThreeLayerProgram
    groups: Groups
    exhaustive: bool
    constraint_violation: float
    timings: dict[str, float]
    certificate: ParallelCertificate | None = None
    messages: list[str] = field(default_factory=list)
    polished_objective: float | None = None
    #: the group generation's report (``patterns="generate"``), else None
    generation: Any = None

    @property
    def beta(self) -> float:
        return self.program.beta

    def summary(self) -> str:
        p = self.program
        lines = [
            f"model            : parallel three-layer ReLU, path={p.path}, m1 blocks={p.blocks}",
            f"data             : n={p.X.shape[0]}, d={p.X.shape[1]}, beta={p.beta:g}",
            f"groups           : {self.groups.n_groups} x 2 output signs "
            f"({'exact' if self.exhaustive else self.groups.method + ': upper bound'})",
            f"status           : {self.status}",
            f"convex objective : {self.objective:.10g}",
            f"network objective: {self.recovered_objective:.10g}"
            + ("" if self.polished_objective is None else f" (polished {self.polished_objective:.10g})"),
            f"sub-networks     : {self.network.n_subnetworks}",
        ]
        if self.certificate is not None:
            lines.append(f"certificate      : {self.certificate.summary_line()}")
        if self.generation is not None:
            lines.append(f"generation       : {self.generation.summary_line()}")
        lines.append("time [s]         : " + ", ".join(f"{k} {v:.3f}" for k, v in self.timings.items()))
        lines += [f"note             : {m}" for m in self.messages]
        return "\n".join(lines)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def make_groups(X: np.ndarray, *, path: str, m1: int, patterns: Any = "exact",
                seed: Any = None) -> Groups:
    """Exact groups (``patterns="exact"``) or groups of ``patterns`` sampled sub-networks."""
    if isinstance(patterns, str):
        check_choice("patterns", patterns, ("exact", "auto", "generate"))
        if patterns == "generate":
            raise ValueError("patterns='generate' is fit_depth's (group generation); "
                             "make_groups builds 'exact' or sampled groups")
        return exact_groups(X, path=path, m1=m1, seed=seed)
    n_samples = check_int("patterns", patterns)
    return sampled_groups(X, path=path, m1=m1, n_samples=n_samples, seed=seed)


def fit_three_layer(X: Any, y: Any, *, beta: float, path: str = "l2", m1: int = 2,
                    loss: str | Loss = "squared", patterns: Any = "exact", seed: Any = None,
                    certify: bool = True, verbose: bool = False, groups: Groups | None = None,
                    polish: bool = True, **solver_options) -> ThreeLayerResult:
    r"""Train a parallel three-layer ReLU network with path regularization to optimality.

    Minimizes :math:`\ell(f(X); y) + \beta R(\theta)` over networks
    :math:`f = \sum_k\alpha_k(\sum_j (XW_{kj})_+c_{kj})_+` of any number K of sub-networks
    (first-layer width m1 for ``path="l2"``, any width for ``"l1"``).

    Parameters
    ----------
    X, y : array-like (n, d), (n,)
    beta : float
        Path-norm penalty, > 0.
    path : {"l1", "l2"}
    m1 : int, default=2
        First-layer width of every sub-network (l2 only; the l1 program is width-free).
    patterns : "exact" or int
        "exact" enumerates both pattern levels (tiny n only; the optimum is then global);
        an int samples that many random sub-networks (an upper bound on the optimum).
    certify : bool
        Attach the weak-duality certificate (one SOCP per group and sign).
    groups : Groups, optional
        Precomputed groups (overrides ``patterns``).
    polish : bool, default=True
        Refine the recovered network by L-BFGS on the non-convex objective (kept only if it
        does not increase it); the certificate then applies to the polished network.

    The status is "optimal" when the numpy re-checks pass and the certificate is certified
    (exhaustive groups, relative gap <= 1e-6), whatever the solver's own flag said.
    """
    t0 = time.perf_counter()
    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta)
    check_choice("path", path, PATHS)
    m1 = check_int("m1", m1)
    loss_obj = get_loss(loss)
    y = loss_obj.check_targets(y)
    if groups is None:
        groups = make_groups(X, path=path, m1=m1, patterns=patterns, seed=seed)
    program = ThreeLayerProgram(X, y, beta, path, groups, loss_obj)
    t1 = time.perf_counter()
    prob = program.build()
    opts = {"solver": "CLARABEL"} | (_TIGHT if solver_options.get("solver", "CLARABEL") == "CLARABEL"
                                     else {}) | solver_options
    try:
        with warnings.catch_warnings():  # the status is decided by the checks below
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(verbose=verbose, **opts)
    except Exception as e:  # cvxpy raises SolverError on breakdown
        raise SolverError(f"{opts['solver']} failed on the three-layer program: {e}") from e
    t2 = time.perf_counter()
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise SolverError(f"{opts['solver']} returned status {prob.status!r} on the three-layer program")
    status = OPTIMAL if prob.status == "optimal" else INACCURATE
    Z = program.solution()
    objective = program.objective(Z)
    violation = program.constraint_violation(Z)
    network = program.recover(Z)
    recovered = network.objective(X, y, beta=beta, loss=loss_obj)
    messages = [] if status == OPTIMAL else [f"solver status {prob.status}"]
    if violation > CHECK_RTOL:
        messages.append(f"cone constraints violated by {violation:.2e} (relative)")
    if _rel(recovered, objective) > CHECK_RTOL:
        messages.append(f"recovered objective {recovered:.10g} != convex {objective:.10g}")
    checks_pass = violation <= CHECK_RTOL and _rel(recovered, objective) <= CHECK_RTOL
    if not checks_pass:
        status = INACCURATE
    timings = {"groups": t1 - t0, "solve": t2 - t1, "recover": time.perf_counter() - t2}
    result = ThreeLayerResult(objective, status, network, recovered, program, groups,
                              groups.exhaustive, violation, timings, messages=messages)
    if polish and network.n_subnetworks:
        from ..training.parallel import train_parallel

        t3 = time.perf_counter()
        run = train_parallel(X, y, beta=beta, path=path, init=network, loss=loss_obj, max_iter=100)
        if run.objective <= recovered:
            result.network = run.network
            result.polished_objective = run.objective
        timings["polish"] = time.perf_counter() - t3
    if certify:
        result.certificate = certify_parallel(result.network, X, y, beta=beta, groups=groups,
                                              loss=loss_obj)
        timings["certify"] = result.certificate.time
        if checks_pass and result.certificate.certified:
            result.status = OPTIMAL
    if result.status == INACCURATE:
        warnings.warn("three-layer program: " + "; ".join(messages),
                      InaccurateSolutionWarning, stacklevel=2)
    timings["total"] = time.perf_counter() - t0
    return result


def group_supports(X: np.ndarray, lam: np.ndarray, groups: Groups, path: str) -> np.ndarray:
    r""":math:`\max\{\pm\lambda^\top D_{2,g}h_g : z \text{ feasible},\ \rho(z)\le1\}` for every
    group, shape (G, 2) (upper bounds: the cone-support dual for l2, a conic solve for l1)."""
    G = groups.n_groups
    out = np.zeros((G, 2))
    if G == 0:
        return out
    if path == "l2":
        for g in range(G):
            M = lifted_matrix(X, groups.D1, groups.pattern[g], groups.sign[g])
            A = np.vstack([cone_matrix(X, groups.D1, groups.pattern[g]),
                           (2.0 * groups.D2[g] - 1.0)[:, None] * M])
            c = M.T @ (groups.D2[g] * lam)
            for k, sgn in enumerate((1.0, -1.0)):
                out[g, k] = cone_support(A, sgn * c)[1]
        return out
    return _l1_supports(X, lam, groups)


def _l1_supports(X: np.ndarray, lam: np.ndarray, groups: Groups) -> np.ndarray:
    import cvxpy as cp

    n, d = X.shape
    m = groups.blocks
    pat, sgn = groups.pattern[0], groups.sign[0]
    z = cp.Variable((m, d))
    S2 = cp.Parameter(n)
    C = cp.Parameter((m, d))
    Dm = groups.D1[:, pat].astype(float)
    XZ = X @ z.T
    h = cp.sum(cp.multiply(Dm * sgn, XZ), axis=1)
    prob = cp.Problem(cp.Maximize(cp.sum(cp.multiply(C, z))),
                      [cp.multiply(2.0 * Dm - 1.0, XZ) >= 0, cp.multiply(S2, h) >= 0,
                       cp.sum(cp.norm(z, 2, axis=1)) <= 1])
    out = np.zeros((groups.n_groups, 2))
    for g in range(groups.n_groups):
        S2.value = 2.0 * groups.D2[g] - 1.0
        cg = (Dm * sgn * (groups.D2[g] * lam)[:, None]).T @ X  # (m, d): d/dz_j of lam^T D2 h
        for k, s in enumerate((1.0, -1.0)):
            C.value = s * cg
            prob.solve(solver="CLARABEL")
            if prob.status not in ("optimal", "optimal_inaccurate"):
                raise SolverError(f"certificate SOCP returned {prob.status!r}")
            # dual value is an upper bound up to solver tolerance; pad it
            out[g, k] = max(prob.value, 0.0) * (1 + 1e-7) + 1e-12
    return out


def certify_parallel(network: ParallelNetwork, X: Any, y: Any, *, beta: float,
                     groups: Groups, loss: str | Loss = "squared",
                     tol: float = CERT_TOL) -> ParallelCertificate:
    r"""Weak-duality certificate of any parallel three-layer network (see module docstring).

    ``groups`` must be those of the program whose optimum is bounded (for ``path="l2"``
    sub-networks of first-layer width at most ``groups.blocks``).
    """
    t0 = time.perf_counter()
    X, y = check_X_y(X, y)
    loss = get_loss(loss)
    path = network.path
    if path == "l2" and network.width > groups.blocks:
        nz = int((np.abs(network.c) > 0).sum(axis=1).max(initial=0))
        if nz > groups.blocks:
            raise ValueError(f"network has first-layer width {nz} > m1={groups.blocks} of the groups")
    yhat = network.predict(X)
    P = float(loss.value(yhat, y) + beta * network.penalty())
    lam = -loss.gradient(yhat, y)
    sup = group_supports(X, lam, groups, path)
    s = float(sup.max(initial=0.0))
    scale = 1.0 if s <= beta else beta / s
    lb = float(-loss.conjugate(-scale * lam, y))
    gap = P - lb
    rel = gap / max(1.0, abs(P))
    return ParallelCertificate(lb, P, gap, rel, s, beta, groups.exhaustive,
                               bool(groups.exhaustive and rel <= tol), groups.n_groups,
                               time.perf_counter() - t0)


#: ``patterns="auto"`` enumerates exactly up to this many samples, else generates groups.
AUTO_EXACT_N = 6


def fit_depth(X: Any, y: Any, *, beta: float, depth: Any, path: str = "l2", m1: int = 2,
              patterns: Any = "auto", time_limit: float | None = None,
              **kwargs) -> ThreeLayerResult:
    """``convexnn.fit(..., depth=3, path=...)``: the three-layer program (depth 3 only).

    ``patterns``: "exact" (both levels enumerated; tiny n), "generate" (group generation,
    :func:`convexnn.three_layer.generation.generate_three_layer`; ``time_limit`` seconds,
    default 60), an int (that many sampled sub-networks), or "auto" (exact for
    n <= AUTO_EXACT_N, else generate).
    """
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer):
        raise TypeError(f"depth must be an integer; got {type(depth).__name__}")
    if depth != 3:
        raise ValueError(f"depth must be 2 or 3 for convexnn.fit; got {depth} (deep 1-D data: "
                         "convexnn.deep_1d.program)")
    if isinstance(patterns, str) and patterns == "auto":
        patterns = "exact" if np.shape(X)[0] <= AUTO_EXACT_N else "generate"
    if isinstance(patterns, str) and patterns == "generate":
        from .generation import generate_three_layer

        gen = {k: kwargs.pop(k) for k in ("loss", "seed", "certify", "verbose") if k in kwargs}
        if kwargs:
            raise TypeError(f"fit(depth=3, patterns='generate') got unexpected options {sorted(kwargs)}")
        return generate_three_layer(X, y, beta=beta, path=path, m1=m1,
                                    time_limit=60.0 if time_limit is None else time_limit, **gen)
    return fit_three_layer(X, y, beta=beta, path=path, m1=m1, patterns=patterns, **kwargs)


__all__ = ["fit_three_layer", "fit_depth", "certify_parallel", "ParallelCertificate", "ThreeLayerResult",
           "make_groups", "group_supports"]
