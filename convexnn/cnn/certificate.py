r"""Dual certificates for two-layer ReLU CNNs (THEORY A.7 on the stacked patches, D).

For a CNN with predictions :math:`\hat y` and objective :math:`P(\theta)`, the dual point
:math:`\lambda = -\nabla\ell(\hat y)` (projected onto the free-term constraint
:math:`1^\top\lambda = 0` of a free output constant and the loss's domain) is feasible
after scaling by :math:`\min(1, \beta/s)`, where :math:`s` bounds

.. math::
    \max_{\|u\|\le 1}\Big|\lambda^\top\rho\sum_k(\tilde X_ku)_+\Big|
    = \max_{\|u\|\le 1}|\tilde\lambda^\top(Zu)_+|,\qquad \tilde\lambda = P^\top\lambda,

the two-layer dual norm on the stacked patch matrix (:mod:`convexnn.duality.dual_norm`).
Weak duality then gives :math:`-\ell^*(-\lambda_s) \le p^\star \le P(\theta)` over CNNs of
every width.  :math:`s` is proven by the cone maxima over every cell of Z (small
arrangements), by branch and bound over directions (rank of Z at most 6: small patches),
or by the generation's own proof; otherwise only the closed-form bound
(:func:`~convexnn.duality.dual_norm.global_bound`) is proven -- the lower bound is then
valid but loose, and the search can only refute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.conv import Conv
from ..core.losses import Loss, get_loss
from ..core.patterns import sample_patterns
from ..core.validation import check_positive
from ..core.variant import Variant
from ..duality.certificate import TOL, Certificate
from ..duality.dual_norm import (
    SEARCH_SAMPLES,
    auto_patterns,
    bb_eligible,
    branch_bound_s,
    dual_norm,
    global_bound,
)
from ..duality.dual_points import dual_box, project_dual
from ..networks.conv import ConvNetwork

#: A smooth-loss network is refuted when s exceeds beta by this relative margin.
REFUTE_RTOL = 1e-3
#: Seconds of branch and bound per dual point (a safety net; its node budget binds first).
BB_TIME = 120.0
#: Fresh random directions climbed by the search of a fit whose cells are not all listed.
CLIMB = 64


def _dual(loss: Loss, y, z, F, K: int) -> tuple[np.ndarray, np.ndarray, float]:
    r"""(:math:`\lambda`, :math:`\tilde\lambda = P^\top\lambda`, relative move of the
    projection onto the free-term constraint and the domain)."""
    raw = -loss.gradient(z, y)
    lo, hi = dual_box(loss, y)
    lam = project_dual(raw, F, lo, hi)
    moved = float(np.linalg.norm(lam - raw)) / max(float(np.linalg.norm(raw)), 1e-300)
    return lam, np.tile(lam, K), moved


@dataclass
class _Eval:
    """One dual point and what it gives (internal)."""

    lower: float
    s: float
    found: float
    scale: float
    viol: Any
    checked: int
    proven: bool
    method: str
    source: str
    moved: float = 0.0


def _evaluate(Z, lam, lam_t, y, loss: Loss, D, *, exhaustive: bool, beta: float, starts,
              climb, time_limit: float, source: str, moved: float,
              search: bool = True) -> _Eval:
    """Bound the dual norm of ``lam_t`` on Z (cells, branch and bound, or search) and
    evaluate the scaled dual point.  Where neither the cells nor branch and bound prove s,
    the proven bound is the closed form, which a search cannot lower: without ``search``
    only the closed form is computed."""
    free = np.zeros(Z.shape[1], bool)
    if exhaustive:
        s, found, viol, k = dual_norm(Z, lam_t, D, free, "exhaustive")
        proven, method = True, "exhaustive"
    elif time_limit > 0 and bb_eligible(Z):
        s, found, viol, k, proven = branch_bound_s(Z, lam_t, D, beta=beta, time_limit=time_limit)
        method = "branch_bound"
    elif not search:
        s, found, viol, k = global_bound(Z, lam_t, ~free), float("nan"), None, 0
        proven, method = False, "search"
    else:
        s, found, viol, k = dual_norm(Z, lam_t, D, free, "search", starts=starts,
                                      enough=beta * (1 + REFUTE_RTOL), climb=climb)
        proven, method = False, "search"
    scale = 1.0 if s <= beta else beta / s
    return _Eval(float(-loss.conjugate(-scale * lam, y)), float(s), float(found), float(scale),
                 viol, int(k), bool(proven), method, source, moved)


def _certificate(network: ConvNetwork, X, y, *, beta: float, loss: Loss, variant: Variant,
                 D: np.ndarray, exhaustive: bool, tol: float, t0: float,
                 extra: tuple = (), proof: tuple | None = None, climb=None,
                 time_limit: float = BB_TIME) -> Certificate:
    """The certificate proper, on validated images (n, C, H, W): the network's own dual
    point, the ``extra`` predictions' ones and the generation's ``proof``; the best valid
    bound is kept."""
    conv = network.conv
    Z = conv.stacked(X, bias=variant.has_bias)
    K = conv.n_patches(X.shape[1:])
    F = variant.free_basis(np.empty((X.shape[0], 0)))
    upper = float(network.objective(X, y, beta=beta, loss=loss))
    starts = network.lifted_directions(variant.has_bias)
    best = own = None
    if proof is not None:  # the generation's branch and bound proved s for this point
        lam_p, s_p = proof
        sc = min(1.0, beta / s_p)
        best = _Eval(float(-loss.conjugate(-sc * lam_p, y)), float(s_p), beta, sc, None, 0,
                     True, "branch_bound", "convex solution (proven during pattern generation)")
    points = [(network.predict(X), "network")] + [(z, "convex solution") for z in extra]
    for z, source in points:
        lam, lam_t, moved = _dual(loss, y, z, F, K)
        ev = _evaluate(Z, lam, lam_t, y, loss, D, exhaustive=exhaustive, beta=beta,
                       starts=starts, climb=climb, source=source, moved=moved,
                       time_limit=0.0 if best is not None and best.proven else time_limit,
                       search=own is None)  # the network's own point refutes
        own = ev if own is None else own
        best = ev if best is None or ev.lower > best.lower else best
    gap = upper - best.lower
    rel = gap / max(1.0, abs(upper))
    refuted = bool(loss.smooth and (own.found > beta * (1 + REFUTE_RTOL) or own.moved > REFUTE_RTOL))
    return Certificate(lower_bound=best.lower, upper_bound=upper, gap=float(gap),
                       relative_gap=float(rel), certified=bool(best.proven and rel <= tol),
                       exhaustive=best.proven, s=best.s, s_found=best.found, beta=beta,
                       scale=best.scale, refuted=refuted, most_violated=own.viol,
                       n_patterns_checked=own.checked, time=time.perf_counter() - t0,
                       method=best.method, loss=loss.name, free_residual=own.moved, tol=tol,
                       dual_point=best.source)


def network_variant(network: ConvNetwork, bias: str | None, output_bias: bool | None
                    ) -> Variant:
    """The variant a CNN is certified under: ``bias``/``output_bias`` as given, else as the
    network was trained (else inferred from its weights); raises where they contradict it."""
    bias = network.training.get("bias", "regularized" if network.regularize_bias else "none") \
        if bias is None else bias
    if output_bias is None:
        output_bias = bool(network.training.get("output_bias", np.any(np.asarray(network.c0) != 0)))
    variant = Variant("relu", bias, False, output_bias)
    if variant.free_bias or variant.regularized_bias != network.regularize_bias:
        raise ValueError(f"bias={bias!r} does not match the network (regularize_bias="
                         f"{network.regularize_bias}); CNN certificates take 'none' or 'regularized'")
    if not variant.has_bias and np.any(network.b1 != 0):
        raise ValueError("bias='none' but the network has nonzero filter biases")
    if not output_bias and np.any(np.asarray(network.c0) != 0):
        raise ValueError("the network has an output constant c0; pass output_bias=True")
    return variant


def certify_conv(network: ConvNetwork, X: Any, y: Any, *, beta: float,
                 loss: str | Loss = "squared", bias: str | None = None,
                 output_bias: bool | None = None, patterns: Any = None, seed: Any = None,
                 tol: float = TOL, n_samples: int = SEARCH_SAMPLES,
                 time_limit: float = BB_TIME) -> Certificate:
    r"""Certify (or refute) global optimality of a two-layer ReLU CNN (module docstring).

    Parameters
    ----------
    network : ConvNetwork
    X : array-like of shape (n, L), (n, H, W) or (n, C, H, W)
    y : array-like of shape (n,)
    beta : float
    loss : {"squared", "logistic", "hinge"} or Loss
    bias : {"none", "regularized"} or None
        Default: as trained, else "regularized" when ``network.regularize_bias``.
    output_bias : bool or None
        A free output constant; default: as trained, else whether c0 is nonzero.
    patterns : None, "auto", "exact" or int
        Cells of the stacked patch matrix: all of them when the arrangement is small
        ("auto"; "exact" forces it), else ``n_samples`` sampled gates for the search.
    tol : float, default=1e-5
        ``certified`` iff the relative gap is at most tol and s is proven.
    time_limit : float, default=120
        Seconds of branch and bound (rank of Z at most 6); 0 turns it off.
    """
    t0 = time.perf_counter()
    if not isinstance(network, ConvNetwork):
        raise TypeError(f"network must be a ConvNetwork; got {type(network).__name__}")
    beta, tol = check_positive("beta", beta), check_positive("tol", tol)
    loss = get_loss(loss)
    X = Conv.images(X)
    y = loss.check_targets(np.asarray(y, dtype=np.float64))
    variant = network_variant(network, bias, output_bias)
    Z = network.conv.stacked(X, bias=variant.has_bias)
    pset = auto_patterns(Z, variant.has_bias, patterns, seed, n_samples)
    return _certificate(network, X, y, beta=beta, loss=loss, variant=variant, D=pset.D,
                        exhaustive=pset.exhaustive, tol=tol, t0=t0,
                        time_limit=check_positive("time_limit", time_limit, allow_zero=True))


def certify_fit(result, *, tol: float = TOL, time_limit: float = BB_TIME) -> Certificate:
    """The certificate of a :func:`convexnn.fit` CNN result's recovered network: every cell
    when the fit enumerated them, else branch and bound (small patches) or the search from
    the network's filters and 64 fresh directions (closed-form s: a valid, loose bound);
    the convex solution's predictions are tried as a second dual point, and the
    generation's proof is used when it proved the final master."""
    t0 = time.perf_counter()
    program = result.program
    D = program.D
    if not result.exhaustive:
        rng = np.random.default_rng((0 if result.seed is None else result.seed, 7))
        D = sample_patterns(program.Xt, CLIMB, seed=rng).D
    gen = result.generation
    proof = None
    if gen is not None and gen.proof is not None and gen.proof[2] is result.solution:
        proof = gen.proof[:2]
    climb = None if result.exhaustive else np.random.default_rng(
        (0 if result.seed is None else result.seed, 8)).standard_normal((CLIMB, program.Xt.shape[1]))
    return _certificate(result.network, program.X, program.y, beta=program.beta,
                        loss=program.loss, variant=program.variant, D=D,
                        exhaustive=bool(result.exhaustive), tol=tol, t0=t0,
                        extra=(program.predict(result.solution),), proof=proof, climb=climb,
                        time_limit=time_limit)


__all__ = ["certify_conv", "certify_fit", "network_variant"]
