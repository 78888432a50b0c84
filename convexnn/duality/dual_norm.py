r"""The dual norm :math:`s` of a dual point: the largest dual-constraint value (THEORY A.7).

.. math::
    s = \max_{\|u_\pi\|_2 \le 1} |\lambda^\top(\tilde Xu)_+|
      = \max_i\max_\pm \max_{u\in K_i,\ \|u_\pi\|\le1} \pm\lambda^\top D_i\tilde Xu,
    \qquad K_i = \{u : (2D_i - I)\tilde Xu \ge 0\},

with :math:`\pi` the penalized coordinates of :math:`\tilde X` (all but a free bias).
Each cone maximum is the distance from :math:`\pm\tilde X^\top D_i\lambda` to the polar
cone of :math:`K_i` (THEORY A.6; :func:`convexnn.duality.cones.pattern_supports`,
:func:`convexnn.duality.cones.cone_support`).  :func:`dual_norm` computes s

* ``"exhaustive"``: over every pattern of the arrangement, a proven upper bound of s;
* ``"search"``: over sampled patterns with local ascent into adjacent cells; the maximum
  found is only a *lower* bound of s, so the proven bound is the closed form
  :func:`global_bound`;
* ``"branch_bound"``: every coordinate penalized (no free bias), a branch and bound over
  directions (:mod:`convexnn.duality.branch_bound`): a proven upper bound of s without listing
  the cells, exact when the search completes within its budget, else the smaller of its
  open bound and :func:`global_bound`;
* ``"gated"``: for a gated network, :math:`s = \max_i \|(\tilde X^\top D_i\lambda)_\pi\|`
  over its gates (THEORY B, no cones).

:func:`auto_patterns` chooses between enumeration and sampling, :func:`gate_patterns`
the gates of a gated network.  A dual point with :math:`s \le \beta` is feasible for the
dual of THEORY A.6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.patterns import (  # noqa: F401 (AUTO_EXACT_LIMIT re-exported)
    AUTO_EXACT_LIMIT,
    PatternSet,
    _hyperplanes,
    _rank_reduce,
    enumerate_1d_bias,
    make_patterns,
    pattern_count,
    resolve,
)
from ..core.protocol import Proof
from ..networks.two_layer import Network
from .cones import cone_support, pattern_supports

#: Default number of sampled gates of the pattern search (non-enumerable arrangements).
SEARCH_SAMPLES = 500


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


def auto_patterns(Xt: np.ndarray, has_bias: bool, patterns: Any, seed: Any,
                  n_samples: int) -> PatternSet:
    """The patterns over which s is maximized for a ReLU network (the ``patterns``
    argument of :func:`convexnn.certify`): None/"auto" enumerates the
    arrangement of ``Xt`` when :func:`convexnn.core.patterns.resolve` finds it enumerable, else
    samples ``n_samples`` gates."""
    one_d_bias = Xt.shape[1] == 2 and has_bias
    if patterns is None or (isinstance(patterns, str) and patterns == "auto"):
        patterns = resolve(Xt, sampled=n_samples)
    if isinstance(patterns, str) and patterns == "exact" and one_d_bias:
        return enumerate_1d_bias(Xt[:, 0])
    return make_patterns(Xt, patterns, seed=seed, one_d_bias=one_d_bias)


def gate_patterns(network: Network, X: np.ndarray, Xt: np.ndarray, patterns: Any,
                  seed: Any = None) -> np.ndarray:
    """The gates over which s is maximized for a gated network: its own gates' patterns
    when ``patterns`` is None, else the given patterns (a PatternSet, or anything
    :func:`convexnn.core.patterns.make_patterns` accepts for ``Xt``, sampled with ``seed``)."""
    if patterns is None:
        return network.activation_patterns(X)
    if isinstance(patterns, PatternSet):
        return patterns.D
    return make_patterns(Xt, patterns, seed=seed).D


def _relu_value(Xt: np.ndarray, lam: np.ndarray, u: np.ndarray, pen: np.ndarray) -> float:
    r""":math:`|\lambda^\top(\tilde Xu)_+| / \|u_\pi\|` (a lower bound of s for any u)."""
    nrm = float(np.linalg.norm(u[pen]))
    if nrm == 0.0:
        return 0.0
    return abs(float(lam @ np.maximum(Xt @ u, 0.0))) / nrm


def global_bound(Xt: np.ndarray, lam: np.ndarray, pen: np.ndarray) -> float:
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


def _point_values(Xt, lam, P, pen):
    r"""For each row p of P: :math:`Z = \tilde XP^\top`, the signed value
    :math:`\lambda^\top(\tilde Xp)_+`, :math:`\|p_\pi\|` and the constraint value
    :math:`|\lambda^\top(\tilde Xp)_+|/\|p_\pi\|` (0 where :math:`p_\pi = 0`):
    :func:`_relu_value` for many points at once."""
    Z = Xt @ P.T
    signed = lam @ np.maximum(Z, 0.0)
    norms = np.linalg.norm(P[:, pen], axis=1)
    return Z, signed, norms, np.abs(signed) / np.where(norms > 0, norms, np.inf)


def _violation(Xt, lam, u, sign) -> Violation:
    """The Violation of direction u with sign ``sign`` (its pattern and signed value)."""
    return Violation(Xt @ u >= 0, u, sign, sign * float(lam @ np.maximum(Xt @ u, 0)))


def _direct_witness(Xt, lam, D, free, pen, starts, enough):
    r"""A refutation without cone solves, or None: the value
    :math:`|\lambda^\top(\tilde Xu)_+|/\|u_\pi\|` (a lower bound of s at any u) at the
    starts and at :math:`\pm c_i`, :math:`c_i = \tilde X^\top D_i\lambda` (each
    pattern's unconstrained maximizer).  When the best exceeds ``enough``, its own cell's
    maximum (one cone solve, at least as large) is ascended (:func:`_ascend`).  Returns
    (value, u, sign) or None."""
    C = (D * lam[:, None]).T @ Xt
    P = np.concatenate([C, -C] + ([] if starts is None else [starts]))
    _, signed, norms, vals = _point_values(Xt, lam, P, pen)
    k = int(np.argmax(vals)) if vals.size else -1
    if k < 0 or not vals[k] > enough:
        return None
    u, sign = P[k] / norms[k], 1 if signed[k] >= 0 else -1
    d_pat = Xt @ u >= 0
    A = (2.0 * d_pat - 1.0)[:, None] * Xt
    _, lower, u_cell = cone_support(A, sign * (Xt.T @ (d_pat * lam)), free=free)
    if lower > vals[k] and float(np.linalg.norm(u_cell[pen])) > 0:
        u = u_cell
    val, u = _ascend(Xt, lam, d_pat, sign, u, free, pen)
    return max(val, float(vals[k])), u, sign


def _search_s(Xt, lam, D, free, pen, n_ascent: int = 10, starts=None, enough=None,
              climb=None):
    """Pattern search: cone maxima over the candidate patterns, then local ascent from
    the best few.  ``starts`` (m, k) are further points, each in its own cell (a network's
    neurons: at an optimum an active neuron is its cell's maximizer already, so its cell
    needs no cone solve); they compete for the ascents by their own values.  When the
    best candidate already exceeds ``enough`` (a refutation), only it ascends (the
    others could only raise a value that is not a bound).  Returns (found value,
    Violation, number of patterns and starts).  With ``enough``, a direct evaluation
    first (:func:`_direct_witness`): a refutation found there needs no cone solves.

    ``climb`` (k, d') are random directions climbed first by the fixed-point ascent of
    :func:`convexnn.duality.pricing.price` (vectorized, no cone solve); the best
    ``n_ascent`` points join the starts and their cells join D."""
    n_starts = 0 if starts is None else starts.shape[0]
    if climb is not None and climb.shape[0]:
        from .pricing import price

        _, Uc, _ = price(Xt, lam, climb, free=free)
        top = Uc[:n_ascent]
        D = np.concatenate([D, Xt @ top.T >= 0], axis=1)
        starts = top if starts is None else np.vstack([starts, top])
        n_starts += climb.shape[0] - top.shape[0]  # every climbed start counts once
    if enough is not None:
        witness = _direct_witness(Xt, lam, D, free, pen, starts, enough)
        if witness is not None:
            val, u, sign = witness
            return val, _violation(Xt, lam, u, sign), D.shape[1] + n_starts
    cands = []  # (value, pattern, sign, point)
    if D.shape[1]:
        ps = pattern_supports(Xt, lam, D, free=free, enough=enough)
        for flat in np.argsort(-ps.lower, axis=None)[:n_ascent]:
            i, col = np.unravel_index(int(flat), ps.lower.shape)
            cands.append((float(ps.lower[i, col]), D[:, i], 1 if col == 0 else -1, ps.U[i, col]))
    if starts is not None and starts.shape[0]:
        Z, signed, norms, vals = _point_values(Xt, lam, starts, pen)
        for k in np.argsort(-vals)[:n_ascent]:
            cands.append((float(vals[k]), Z[:, k] >= 0, 1 if signed[k] >= 0 else -1,
                          starts[k] / norms[k] if norms[k] > 0 else starts[k]))
    cands.sort(key=lambda c: -c[0])
    if enough is not None and cands and cands[0][0] > enough:
        n_ascent = 1
    best_val, best = -1.0, None
    for _, d_pat, sign, u0 in cands[:n_ascent]:
        val, u = _ascend(Xt, lam, np.array(d_pat, dtype=bool), sign, u0, free, pen)
        if val > best_val:
            best_val, best = val, (u, sign)
    if best is None:
        return 0.0, None, D.shape[1] + n_starts
    u, sign = best
    return best_val, _violation(Xt, lam, u, sign), D.shape[1] + n_starts


def _gated_s(Xt, lam, D, pen):
    r""":math:`s = \max_i \|(\tilde X^\top D_i\lambda)_\pi\|` over the gates (THEORY B):
    no cone, the constraint is :math:`\|\tilde X^\top D_i\mu\| \le \beta` per gate."""
    C = (D * lam[:, None]).T @ Xt
    norms = np.linalg.norm(C[:, pen], axis=1)
    i = int(np.argmax(norms))
    u = C[i] / norms[i] if norms[i] > 0 else np.zeros(Xt.shape[1])
    return float(norms[i]), Violation(D[:, i].copy(), u, 1, float(norms[i])), D.shape[1]


#: Relative resolution of the branch-and-bound maximum above beta.
BB_RTOL = 1e-9
#: Largest rank of the lifted data that the branch and bound is tried on; above it the
#: closed-form bound is used.  Measured (benchmarks/results/bench_proof.md): within
#: BB_NODES it proves s at rank 3-4 (n <= 569), at rank 5 on noise sets of n = 50 and 100
#: (not diabetes or breast cancer), at rank 6 only with n = 50, at rank 7 on none; there it
#: still finds violations that the pricing search missed.
BB_MAX_RANK = 7
#: Nodes of one branch-and-bound search (both signs): the budget that ends a search that
#: cannot finish (its open bound is still valid).
BB_NODES = 300_000


def bb_eligible(Xt: np.ndarray) -> bool:
    """Whether branch and bound is tried: rank of the lifted data <= BB_MAX_RANK."""
    return _rank_reduce(Xt)[0].shape[1] <= BB_MAX_RANK


def branch_bound_pricing(Xt: np.ndarray, lam: np.ndarray, level: float,
                        new_columns: Callable[[np.ndarray], np.ndarray],
                        evidence: Any) -> tuple[Proof, np.ndarray | None]:
    r"""A generation's exact pricing step: branch and bound for
    :math:`\max_{\|u\|\le1}|\lambda^\top(\tilde Xu)_+|` against ``level`` (node budget
    :data:`BB_NODES`).  Returns the ``Proof`` -- "violated" with the columns
    ``new_columns(u)`` of the violating direction, "proven" (``evidence`` attached), or
    "budget" -- and those new columns (None unless violated)."""
    from .branch_bound import dual_norm_bb

    bb = dual_norm_bb(Xt, lam, floor=level, stop_above=level, max_nodes=BB_NODES)
    if bb.violated:
        new = new_columns(bb.u[None, :])
        return Proof("violated", int(new.shape[0])), new
    if bb.complete:
        return Proof("proven", evidence=evidence), None
    return Proof("budget"), None


def branch_bound_s(Xt: np.ndarray, lam: np.ndarray, D: np.ndarray, *, beta: float,
                   time_limit: float | None = None) -> tuple[float, float, Violation, int, bool]:
    r"""(s, found, most violated, patterns searched, complete) by branch and bound
    (a node budget, :data:`BB_NODES`; ``time_limit`` only as an explicit cap), after the
    pattern search over ``D`` (whose best direction seeds the incumbent)."""
    pen = np.ones(Xt.shape[1], bool)
    found, viol, _ = _search_s(Xt, lam, D, None, pen)
    from .branch_bound import dual_norm_bb

    if not bb_eligible(Xt):
        # too many directions to branch over: the closed-form bound (valid, loose)
        return max(global_bound(Xt, lam, pen), found), found, viol, D.shape[1], False

    bb = dual_norm_bb(Xt, lam, floor=max(beta, found), rtol=BB_RTOL, time_limit=time_limit,
                      max_nodes=BB_NODES, starts=None if viol is None else viol.u[None, :])
    if bb.lower > found:
        found = bb.lower
        viol = _violation(Xt, lam, bb.u, bb.sign)
    s = bb.upper if bb.complete else min(bb.upper, global_bound(Xt, lam, pen))
    return max(s, found), found, viol, D.shape[1], bool(bb.complete)


def dual_norm(Xt: np.ndarray, lam: np.ndarray, D: np.ndarray, free: np.ndarray,
              method: str, starts: np.ndarray | None = None,
              enough: float | None = None,
              climb: np.ndarray | None = None) -> tuple[float, float, Violation, int]:
    r"""(s, found, most violated, patterns checked) for the dual point ``lam``.

    ``s`` is a proven upper bound of
    :math:`\max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|` and ``found`` the largest
    value attained by a direction, a lower bound of it (the two are equal for "gated").
    ``free`` is the mask of the unpenalized coordinates of :math:`\tilde X`; ``method``
    is "exhaustive", "search" or "gated" (see the module docstring); ``enough``: a
    search value above it needs no further ascent; ``climb``: random directions the
    search climbs first (:func:`_search_s`).
    """
    pen = ~free
    free_mask = None if not free.any() else free
    if method == "gated":
        s, viol, n_checked = _gated_s(Xt, lam, D, pen)
        return s, s, viol, n_checked
    if method == "exhaustive":
        return _exhaustive_s(Xt, lam, D, free_mask, pen)
    found, viol, n_checked = _search_s(Xt, lam, D, free_mask, pen, starts=starts, enough=enough,
                                       climb=climb)
    return max(global_bound(Xt, lam, pen), found), found, viol, n_checked


__all__ = ["BB_RTOL", "bb_eligible", "branch_bound_pricing", "branch_bound_s", "AUTO_EXACT_LIMIT", "SEARCH_SAMPLES", "Violation", "auto_patterns", "dual_norm",
           "gate_patterns", "global_bound"]
