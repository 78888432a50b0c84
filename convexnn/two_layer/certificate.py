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
   best satisfies the network's own stationarity conditions) and
2. moves it onto :math:`\{F^\top\lambda = 0\} \cap \mathrm{dom}\,\ell^*(-\cdot)` by the
   Euclidean projection (:func:`project_dual`; the identity at a stationary network):
   both in :mod:`convexnn.duality.dual_points`;
3. computes :math:`s = \max_i\max_\pm \max_{u\in K_i,\|u_\pi\|\le1} \pm\lambda^\top D_i\tilde Xu`
   over **all** patterns (exhaustive), or searches sampled patterns with local ascent
   (which can only *refute*), or, for a gated network, :math:`s = \max_i
   \|(\tilde X^\top D_i\lambda)_\pi\|` over its gates (:mod:`convexnn.duality.dual_norm`);
4. scales :math:`\lambda_s = \lambda\min(1, \beta/s)` (the domain of :math:`\ell^*` is
   star-shaped about 0 for every loss here, so the scaled point stays in it) and reports
   :math:`\mathrm{LB} = -\ell^*(-\lambda_s)` and :math:`\mathrm{gap} = P(\theta) - \mathrm{LB}`.

At a global optimum :math:`s = \beta` and the gap is 0 (THEORY A.7, I6).

A primal network determines :math:`\lambda` only to about the square root of its objective
accuracy, and step 4 loses that much.  So when the gradient's dual point falls short of
the tolerance, better dual points are tried -- the convex solution's predictions
(:func:`certify_fit`), then a cutting-plane solve of the dual started from the best point
(:func:`convexnn.duality.dual_points.refine_dual`; for the hinge loss it picks the margin
subgradients).  Any dual point is valid after steps 2-4, so these only tighten the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.patterns import sample_patterns, unique_patterns
from ..core.validation import check_positive, check_X_y
from ..core.variant import Variant
from ..duality.certificate import TOL, Certificate, SearchRecord
from ..duality.dual_norm import (
    SEARCH_SAMPLES,
    Violation,
    auto_patterns,
    bb_eligible,
    branch_bound_s,
    dual_norm,
    gate_patterns,
    global_bound,
)
from ..duality.dual_points import dual_box, dual_point, project_dual, refine_dual
from ..networks.two_layer import Network

#: A smooth-loss network is *refuted* when s exceeds beta by this relative margin.
REFUTE_RTOL = 1e-3
#: Refine the dual point (cutting-plane dual solve) only when the gradient's certificate
#: is already this close (or for the hinge loss, whose subgradient is not unique): the
#: refinement removes solver-accuracy effects at near-optimal networks.
REFINE_RTOL = 1e-2
#: Seconds of branch and bound per dual point where the patterns are not all listed: a
#: safety net only, the node budget (:data:`convexnn.duality.dual_norm.BB_NODES`) binds first on an
#: unloaded machine, so the same input takes the same path.
BB_TIME = 120.0
#: Fresh gates of the refutation search of a fit that did not list every pattern.  The
#: ascent from the fit's neurons into adjacent cells does most of the refuting; with 500
#: fresh gates the search took 0.74 s against a 0.35 s solve (diabetes, 200 gates), with
#: 64 it refuted the same fits.
GENERATED_SEARCH_SAMPLES = 64


def _settings(network: Any, bias: str | None, skip: bool | None,
              output_bias: bool | None) -> tuple[str, bool, bool]:
    """(bias, skip, output_bias) as given, else as the network records or shows them."""
    v = network.variant if isinstance(network, Network) else None
    if bias is None:
        bias = v.bias if v is not None else (
            "regularized" if getattr(network, "regularize_bias", False)
            else "free" if np.any(getattr(network, "b1", 0) != 0) else "none")
    if skip is None:
        skip = v.skip if v is not None else bool(np.any(getattr(network, "skip", 0) != 0))
    if output_bias is None:
        output_bias = (v.output_bias if v is not None
                       else bool(np.any(np.asarray(getattr(network, "c0", 0)) != 0)))
    return bias, bool(skip), bool(output_bias)


def _check_network(network: Network, d: int, variant: Variant) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"network must be a convexnn Network; got {type(network).__name__}")
    if network.n_outputs != 1:
        raise ValueError(f"network has {network.n_outputs} outputs; certify handles scalar output")
    if network.input_dim != d:
        raise ValueError(f"network expects {network.input_dim} features; X has {d}")
    if not variant.has_bias and np.any(network.b1 != 0):
        raise ValueError("bias='none' but the network has nonzero hidden biases b1; "
                         "pass bias='regularized' or 'free'")
    if network.gates is not None and not variant.has_bias and np.any(network.gate_bias != 0):
        raise ValueError("bias='none' but the network's gates have offsets; pass bias='regularized'")
    if not variant.skip and np.any(network.skip != 0):
        raise ValueError("the network has a skip term; pass skip=True")
    if not variant.has_free_constant and np.any(np.asarray(network.c0) != 0):
        raise ValueError("the network has an output bias c0; pass output_bias=True (or bias='free')")


def certify(network: Network, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared",
            bias: str | None = None, skip: bool | None = None,
            output_bias: bool | None = None,
            patterns: Any = None, seed: Any = None, tol: float = TOL,
            n_samples: int = SEARCH_SAMPLES, refine: bool = True,
            time_limit: float = BB_TIME) -> Certificate:
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
    bias : {"none", "regularized", "free"} or None, default=None
        How hidden biases are treated (``"free"``: unpenalized, the output constant is
        free too).  None: as the network was trained (recorded by :func:`convexnn.fit` and
        :meth:`Network.from_torch`), else "regularized" when ``network.regularize_bias``,
        "free" for nonzero unpenalized biases, "none" otherwise.
    skip, output_bias : bool or None, default=None
        Free linear skip term, free output constant.  None: as recorded, else whether the
        network has a nonzero one.
    patterns : None, "auto", "exact", int, bool array (n, P) or PatternSet, default=None
        ReLU: None/"auto" enumerates the arrangement of :math:`\tilde X` when it has at
        most 2000 cells, else searches ``n_samples`` sampled gates; "exact" forces the
        enumeration; an int samples that many gates for the search; a PatternSet is used
        as given (exhaustive iff ``PatternSet.exhaustive``).  Gated: the gate patterns
        (default: the network's own gates).
    seed : int, Generator or None
        Seed of the gate sampling.
    tol : float, default=1e-5
        ``certified`` iff gap <= tol * ``max(1, abs(P(theta)))`` and the check was exhaustive.
    n_samples : int, default=500
        Sampled gates of the search (plus the network's own patterns).
    refine : bool, default=True
        When the gradient's dual point leaves a relative gap between ``tol`` and 1e-2 (or
        for the hinge loss), improve it by a cutting-plane solve of the dual
        (:func:`convexnn.duality.dual_points.refine_dual`, a small conic program);
        exhaustive/gated checks only.
    time_limit : float, default=120
        Seconds of branch and bound per dual point when the patterns are not enumerated
        and every coordinate is penalized (:mod:`convexnn.duality.branch_bound`): a complete
        search proves s like an exhaustive one; a truncated one still gives a valid (looser)
        bound.  0 turns it off (pattern search with the closed-form bound only).

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
    b, handled by :func:`convexnn.duality.cones.cone_support`.

    *Search.*  Without all patterns the computed maximum is only a lower bound of the
    dual norm; the scaling then uses the closed-form bound
    :func:`convexnn.duality.dual_norm.global_bound`, so the lower bound stays valid but is loose,
    and ``certified`` is False.  The search can still *refute* optimality (``refuted``).

    References
    ----------
    Pilanci & Ergen (2020), dual of the two-layer problem; Wang, Lacotte & Pilanci
    (2022), optimality checks for trained networks; THEORY A.6-A.8, B.
    """
    t0 = time.perf_counter()
    X, y = check_X_y(X, y)
    beta = check_positive("beta", beta)
    tol = check_positive("tol", tol)
    loss = get_loss(loss)
    y = loss.check_targets(y)
    gated = isinstance(network, Network) and network.gates is not None
    variant = Variant("gated" if gated else "relu", *_settings(network, bias, skip, output_bias))
    _check_network(network, X.shape[1], variant)
    Xt, free = variant.lift(X)
    if gated:
        D = gate_patterns(network, X, Xt, patterns, seed)
        pset = None
    else:
        pset = auto_patterns(Xt, variant.has_bias, patterns, seed, n_samples)
        D = pset.D
    return _certify(network, X, y, Xt, free, beta=beta, loss=loss, variant=variant,
                    D=D, exhaustive=gated or pset.exhaustive, gated=gated,
                    tol=tol, t0=t0, refine=bool(refine),
                    bb_time=check_positive("time_limit", time_limit, allow_zero=True))


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
    proven: bool


def _bb_applies(Xt: np.ndarray, free: np.ndarray, bb_time: float) -> bool:
    """Whether branch and bound bounds the dual norm where the patterns are not all listed:
    every coordinate penalized, a time budget, and rank(X~) <= BB_MAX_RANK."""
    return not free.any() and bb_time > 0 and bb_eligible(Xt)


def _evaluate_dual(network: Network, lam_raw: np.ndarray, lam: np.ndarray, X, y, Xt, free,
                   D, *, beta: float, loss: Loss, exhaustive: bool, gated: bool,
                   bb_time: float = BB_TIME, search: bool = True,
                   neuron_starts: bool = False, climb: np.ndarray | None = None) -> _DualEval:
    """Steps 3-4 of the module docstring for a dual point ``lam`` (already projected).

    Where neither enumeration nor branch and bound proves s, the pattern search can only
    find lower values of s, which move neither the scale nor the bound: without
    ``search`` the closed-form bound is used alone.  With ``neuron_starts`` (a fit's
    recovered network, whose neurons are their cells' maximizers at the program's
    optimum) the search ascends from the neurons instead of solving their cells' cones;
    otherwise the network's own patterns join D.  ``climb``: random directions the
    search climbs by the fixed-point ascent before any cone solve."""
    moved = float(np.linalg.norm(lam - lam_raw)) / max(float(np.linalg.norm(lam_raw)), 1e-300)
    # a search value above this refutes already: further ascents could only raise it
    enough = beta * (1 + REFUTE_RTOL)
    # 3. dual norm
    method = "gated" if gated else "exhaustive" if exhaustive else "search"
    proven = method != "search"

    def own_patterns() -> np.ndarray:  # D plus the network's own patterns
        return unique_patterns(np.concatenate([D, network.activation_patterns(X)], axis=1))[0]

    if method == "search" and _bb_applies(Xt, free, bb_time):
        # the network's own patterns seed the incumbent of the branch and bound
        method = "branch_bound"
        s, found, viol, n_checked, proven = branch_bound_s(Xt, lam, own_patterns(), beta=beta,
                                                           time_limit=bb_time)
    elif method == "search" and not search:
        s, found, viol, n_checked = global_bound(Xt, lam, ~free), float("nan"), None, 0
    elif method == "search" and neuron_starts:
        starts = network.lifted_directions(Xt.shape[1] > X.shape[1])
        s, found, viol, n_checked = dual_norm(Xt, lam, D, free, method, starts=starts,
                                              enough=enough, climb=climb)
    elif method == "search":
        s, found, viol, n_checked = dual_norm(Xt, lam, own_patterns(), free, method,
                                              enough=enough, climb=climb)
    else:
        s, found, viol, n_checked = dual_norm(Xt, lam, D, free, method)
    # 4. scale into the dual feasible set and evaluate the dual objective
    scale = 1.0 if s <= beta else beta / s
    lower = -loss.conjugate(-scale * lam, y)
    return _DualEval(lam, float(s), float(found), viol, int(n_checked), method, float(scale),
                     float(lower), moved, bool(proven))


def _certify(network: Network, X, y, Xt, free, *, beta: float, loss: Loss, variant: Variant,
             D: np.ndarray, exhaustive: bool, gated: bool,
             tol: float, t0: float, extra_predictions: tuple = (),
             refine: bool = True, bb_time: float = BB_TIME,
             proof: tuple | None = None, neuron_starts: bool = False,
             climb: np.ndarray | None = None,
             search: SearchRecord | None = None) -> Certificate:
    """The certificate proper, on validated inputs.

    The dual point is taken at the network's predictions, and at ``extra_predictions``
    (e.g. the convex solution's, which the recovered network matches only to the recovery
    tolerance); the best *valid* lower bound is kept.  When that does not certify, with
    ``refine`` and a complete check,
    a cutting-plane solve of the dual started from the best point
    (:func:`convexnn.duality.dual_points.refine_dual`).
    ``refuted``, ``most_violated`` and ``free_residual`` always describe the network's own
    dual point; ``s``, ``s_found`` and ``scale`` the one that gave the bound.  ``search``:
    the fit's pricing search at its final dual point, which the certificate quotes when it
    proves no optimality (:attr:`Certificate.verdict`).
    """
    F = variant.free_basis(X)
    net = replace(network, regularize_bias=variant.regularized_bias)
    upper = float(net.objective(X, y, beta=beta, loss=loss))
    lo, hi = dual_box(loss, y)
    kw = dict(beta=beta, loss=loss, exhaustive=exhaustive, gated=gated, bb_time=bb_time,
              neuron_starts=neuron_starts, climb=climb)

    def unfinished(lower):
        return (upper - lower) / max(1.0, abs(upper)) > tol

    z_net = network.predict(X)
    if proof is not None:  # the fit's own branch and bound proved s for this dual point
        lam_p, s_p = proof
        scale = min(1.0, beta / s_p)
        proved = _DualEval(lam_p, float(s_p), float(beta), None, 0, "branch_bound",
                           float(scale), float(-loss.conjugate(-scale * lam_p, y)), 0.0, True)
        kw["bb_time"] = 0.0 if not unfinished(proved.lower) else bb_time
    own = _evaluate_dual(network, *dual_point(network, X, y, Xt, free, loss, F, beta, z_net),
                         X, y, Xt, free, D, **kw)
    best, source = own, "network"
    if proof is not None and proved.lower > best.lower:
        best, source = proved, "convex solution (proven during pattern generation)"
    for z in extra_predictions:  # tried when the network's own point does not certify
        if (own.proven and not unfinished(own.lower)) or (
                proof is not None and not unfinished(proved.lower)):
            break
        ev = _evaluate_dual(network, *dual_point(network, X, y, Xt, free, loss, F, beta, z),
                            X, y, Xt, free, D, search=False, **kw)
        if search is not None and loss.smooth and np.isnan(ev.found):
            ev.found = search.found * beta  # attained there by the fit's own search
        best, source = (ev, "convex solution") if ev.lower > best.lower else (best, source)
    near_optimal = (upper - best.lower) / max(1.0, abs(upper)) <= REFINE_RTOL
    if (refine and unfinished(best.lower) and (exhaustive or gated)
            and (near_optimal or not loss.smooth)):
        lam = refine_dual(loss, Xt, y, z_net, best.lam, F, D, None if not free.any() else free,
                           beta, gated, rtol=0.1 * tol)
        lam = project_dual(lam, F, lo, hi)
        ev = _evaluate_dual(network, lam, lam, X, y, Xt, free, D, **kw)
        best, source = (ev, "refined") if ev.lower > best.lower else (best, source)
    lower = best.lower
    gap = upper - lower
    rel = gap / max(1.0, abs(upper))
    certified = bool(best.proven and rel <= tol)
    # a smooth loss has one dual point per network: a violation there is a proof
    refuted = bool(loss.smooth
                   and (own.found > beta * (1 + REFUTE_RTOL) or own.moved > REFUTE_RTOL))
    return Certificate(lower_bound=float(lower), upper_bound=upper, gap=float(gap),
                       relative_gap=float(rel), certified=certified, exhaustive=bool(best.proven),
                       s=best.s, s_found=best.found, beta=beta, scale=best.scale,
                       refuted=refuted, most_violated=own.viol, n_patterns_checked=own.n_checked,
                       time=time.perf_counter() - t0, method=best.method, loss=loss.name,
                       free_residual=own.moved, tol=tol, dual_point=source, search=search)


def certify_fit(result, *, tol: float = TOL, refine: bool = True,
                time_limit: float = BB_TIME) -> Certificate:
    """Certificate of a :func:`convexnn.fit` result's recovered network.

    Uses the fit's own data, beta, loss and variant.  When the fit enumerated every
    pattern (``result.exhaustive``) the same pattern set is reused, so the check is
    exhaustive; otherwise a search ascends from the network's neurons into adjacent cells
    and climbs from 64 fresh Gaussian directions (the fixed-point ascent, then the best
    cells' cone maxima), stopping at the first refutation (it can refute but never
    certify; the fit's own cells cannot refute, their maxima are at most beta at the
    program's optimum), or, where the rank allows, branch and bound seeded with the fit's
    patterns and 64 fresh cells proves s.  A
    gated fit is checked over its gates (optimality among gated networks with those gates).  Besides
    the network's own dual point, the convex solution's predictions are tried, and with
    ``refine`` the cutting-plane dual solve (see :func:`certify`).  When the pattern
    generation stopped because its pricing search found nothing, the certificate carries
    that search's record (``Certificate.search``: its random starts, the largest s/beta
    found), and where nothing is proven its statement says so: "no violated constraint
    found by a search of N starts", never "proven".
    """
    t0 = time.perf_counter()
    program = result.program
    network = result.network
    X, y = program.X, program.y
    variant = program.variant
    _check_network(network, X.shape[1], variant)
    Xt, free = variant.lift(X)
    gated = variant.gated
    exhaustive = gated or bool(result.exhaustive)
    D = program.D
    climb = None
    if not exhaustive:  # search: the fit's patterns plus fresh samples
        rng = np.random.default_rng((0 if result.seed is None else result.seed, 7))
        if not _bb_applies(Xt, free, time_limit):
            # the program's own cells cannot refute: at its optimum their cone maxima are
            # at most beta (to the solve's tolerance); the search ascends from the neurons
            # into the adjacent cells, and climbs from fresh random directions by the
            # fixed-point ascent, whose best cells it then solves (breast cancer, d' = 31:
            # 0.48 s for the batched projections of 64 fresh cells before)
            D = np.zeros((X.shape[0], 0), dtype=bool)
            climb = rng.standard_normal((GENERATED_SEARCH_SAMPLES, Xt.shape[1]))
        elif result.generation is not None:
            # branch and bound, seeded with fresh cells (the generation's own cannot refute)
            D = sample_patterns(Xt, GENERATED_SEARCH_SAMPLES, seed=rng).D
        else:
            D = np.concatenate([D, sample_patterns(Xt, GENERATED_SEARCH_SAMPLES, seed=rng).D],
                               axis=1)
    return _certify(network, X, y, Xt, free, beta=program.beta, loss=program.loss,
                    variant=variant, D=D, exhaustive=exhaustive, gated=gated, tol=tol, t0=t0, refine=bool(refine),
                    extra_predictions=(program.predict(result.solution),), bb_time=time_limit,
                    proof=_generation_proof(result), neuron_starts=True, climb=climb,
                    search=_generation_search(result))


def _generation_search(result) -> SearchRecord | None:
    """The fit's pricing search at its final dual point, when the generation stopped on it
    (:attr:`convexnn.generation.GenerationReport.search`)."""
    gen = result.generation
    return None if gen is None else getattr(gen, "search", None)


def _generation_proof(result) -> tuple | None:
    """(lambda, s bound) proven by the fit's pattern generation for its final solution."""
    gen = result.generation
    if gen is None or gen.proof is None:
        return None
    lam, level, sol = gen.proof
    return (lam, level) if sol is result.solution else None


__all__ = ["Certificate", "Violation", "certify", "certify_fit", "project_dual"]
