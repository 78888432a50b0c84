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
#: What a certificate shows (:attr:`Certificate.verdict`).
VERDICTS = ("certified", "refuted", "no_violation_found", "gap_proven")
#: Confidence of the search certificate's statement.
SEARCH_CONFIDENCE = 0.95


@dataclass(frozen=True)
class SearchRecord:
    r"""A search of the dual constraint at one dual point: ``restarts`` random starts of
    the pricing search, the largest constraint value :math:`|\lambda^\top(\tilde Xu)_+|`
    it attained over beta (``found``), and the level a violation had to pass (``level``,
    over beta: 1 for any violation, e.g. 1.005 for one above 0.5%).

    If nothing was found above the level (``clean``), a scenario argument reads: were the
    restarts independent trials, then with confidence :math:`1-\delta` a random start
    finds a violation with probability below :math:`\ln(1/\delta)/N`
    (:math:`(1-p)^N \le \delta`).  The pricing search's starts share a successive halving
    and the polishing of the best cells, so they are not quite independent: a statement
    about the search, never a proof of optimality.
    """

    restarts: int
    found: float
    level: float = 1.0

    @property
    def clean(self) -> bool:
        return self.found <= self.level

    @property
    def miss_rate(self) -> float:
        r""":math:`\ln(1/\delta)/N`, the bound on a random start's chance to find a violation."""
        import math

        return math.log(1.0 / (1.0 - SEARCH_CONFIDENCE)) / max(self.restarts, 1)

    def sentence(self) -> str:
        what = ("a violated constraint" if self.level <= 1.0 else
                f"a constraint violated by more than {100 * (self.level - 1):.2g}%")
        if not self.clean:
            return (f"a search of {self.restarts:,} random starts found {what} "
                    f"(s/beta = {self.found:.6g})")
        return (f"no {what.removeprefix('a ')} found by a search of {self.restarts:,} random "
                f"starts (largest s/beta found {self.found:.6g}; not a proof: were the starts "
                f"independent trials, with {SEARCH_CONFIDENCE:.0%} confidence a random start "
                f"would find one with probability below {self.miss_rate:.2g})")


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
    scale: float = 1.0
    refuted: bool = False
    most_violated: Any = None
    n_patterns_checked: int = 0
    time: float = 0.0
    method: str = "search"
    loss: str = ""
    free_residual: float = 0.0
    tol: float = TOL
    dual_point: str = "network"
    #: the refutation search behind a "no violation found" statement, when one ran
    search: SearchRecord | None = None

    # ---- what it shows, in words ---------------------------------------------------------
    @property
    def verdict(self) -> str:
        """One of :data:`VERDICTS`: "certified" (the gap is proven within ``tol``),
        "refuted" (a violated dual constraint was found: not the global optimum),
        "no_violation_found" (a search found none: not a proof), or "gap_proven" (only the
        proven gap)."""
        if self.certified:
            return "certified"
        if self.refuted:
            return "refuted"
        if self.search is not None and self.search.clean:
            return "no_violation_found"
        return "gap_proven"

    @property
    def over_gates(self) -> bool:
        """A gated network's certificate: optimality among gated networks with its gates."""
        return self.method == "gated"

    def statement(self) -> str:
        """What is proven, in plain words (the summary's first line)."""
        who = ("no gated network with these gates" if self.over_gates
               else "no network of any width")
        bound = (f"{who} has a training objective below {self.lower_bound:.6g}; this one's is "
                 f"{self.upper_bound:.6g}")
        if self.verdict == "certified":
            return (f"CERTIFIED {'optimal over these gates' if self.over_gates else 'globally optimal'}: "
                    f"{bound} (gap {self.relative_gap:.1e}, within the tolerance {self.tol:g})")
        proven = f"proven: {bound}, so it is within {100 * self.relative_gap:.3g}% of the optimum"
        if self.verdict == "refuted":
            return ("NOT the global optimum: a neuron that lowers the objective exists "
                    f"(found, s/beta = {self.s_found / self.beta:.4g}); {proven}")
        if self.verdict == "no_violation_found":
            return f"{proven}; {self.search.sentence()}"
        return proven

    def summary_line(self) -> str:
        """One line for :meth:`convexnn.FitResult.summary`."""
        return self.statement()

    def __str__(self) -> str:
        lines = [
            f"Certificate ({self.method}, {self.loss} loss, beta={self.beta:g})",
            f"  verdict                   : {self.verdict}",
            f"  in words                  : {self.statement()}",
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
        if self.search is not None:
            lines.insert(-1, f"  search                    : {self.search.sentence()}")
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


__all__ = ["SEARCH_CONFIDENCE", "TOL", "VERDICTS", "Certificate", "SearchRecord"]
