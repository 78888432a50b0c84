r"""The certificate of global optimality, for every program kind: :class:`Certificate`.

By weak duality every dual point :math:`\mu = -\lambda` feasible for the dual of the
training problem gives :math:`-\ell^*(-\lambda) \le p^\star \le P(\theta)` for every width
(THEORY A.6-A.8, C, E.1); a certificate records that bound for one network, how its dual
norm was bounded (proven, or only searched), and what it therefore shows: certified
optimal, a proven gap, no violation found by a search (not a proof), or refuted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Default relative tolerance: certified iff gap <= tol * max(1, |upper bound|).
TOL = 1e-5


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
        ``relative_gap <= tol`` and the constraint was checked over every pattern; for
        ``method == "gated"``, over the gates' patterns: optimal among the gated networks
        with those gates (not among all ReLU networks).
    exhaustive : bool
        Whether s is a proven upper bound of the dual norm (all patterns, or gated).
    s : float
        The dual norm of the dual point that gave ``lower_bound``, used for scaling: a
        proven upper bound of
        :math:`\max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|` (exhaustive: the cone
        maxima; search: a crude closed-form bound, :func:`convexnn.duality.dual_norm.global_bound`).
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
        "exhaustive", "branch_bound", "search" or "gated".
    loss : str
    dual_point : str
        Where the bound's dual point came from: "network" (:math:`-\nabla\ell(\hat y)`),
        "convex solution" (the fit's convex predictions) or "refined" (cutting-plane dual
        solve, :func:`convexnn.duality.dual_points.refine_dual`).
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
    most_violated: Any
    n_patterns_checked: int
    time: float
    method: str
    loss: str
    free_residual: float
    tol: float
    dual_point: str = "network"

    def summary_line(self) -> str:
        """One line for :meth:`convexnn.FitResult.summary`."""
        if self.certified and self.method == "gated":  # over the gates' patterns only
            verdict = "CERTIFIED optimal over these gates"
        elif self.certified:
            verdict = "CERTIFIED globally optimal"
        elif self.refuted:
            verdict = "NOT optimal (refuted)"
        elif self.exhaustive:
            verdict = "not certified"
        elif self.method == "branch_bound":
            verdict = "not certified (branch and bound stopped at its time budget; the lower bound is valid)"
        else:
            verdict = "not certified (pattern search only; the lower bound is valid)"
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
            f"({_checked(self.method, self.exhaustive)})",
            f"  dual point from           : {self.dual_point}",
            f"  free-term projection      : {self.free_residual:.2e}",
            f"  certified                 : {self.certified}   refuted: {self.refuted}",
            f"  time                      : {self.time:.4f}s",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:  # one line (the generated one prints the violation's arrays)
        from ..core.reprs import certificate

        return certificate(self)


def _checked(method: str, exhaustive: bool = False) -> str:
    """What a certificate's pattern check covers, by method."""
    if method == "branch_bound" and exhaustive:
        return "every direction, by branch and bound"
    return {"exhaustive": "all", "gated": "the gates' patterns: optimal among gated networks "
            "with these gates, not over every ReLU network"}.get(
        method, "a sample: can refute, never certify")


__all__ = ["TOL", "Certificate"]
