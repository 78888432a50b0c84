"""Reference problems with known answers, shared by the solvers' tests (in the manner of
cvxpy's ``tests/solver_test_helpers.py``), and the variant grid, defined once.

Each :class:`Reference` carries a program and its optimal value computed *without* the
solvers under test:

* ``zero_*``: beta above every pattern's dual norm, so the optimum is the zero network
  plus the best free terms; :math:`p^* = \\min_a \\ell(Fa)` (least squares for the squared
  loss, :math:`\\ell(0)` without free terms; THEORY A.6);
* ``ridge_*``: the gated program with the single all-on gate on unlifted data is the group
  lasso :math:`\\min_u \\tfrac12\\|Xu - y\\|^2 + \\beta\\|u\\|`, solved through its secular
  equation :math:`\\mu\\|(X^\\top X + \\mu I)^{-1}X^\\top y\\| = \\beta` by a scalar root finder.

The ``check_*`` helpers are the shared assertions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from convexnn.core.patterns import PatternSet, add_bias_column, sample_patterns
from convexnn.core.variant import BIASES, MODELS, Variant
from convexnn.two_layer.program import TwoLayerProgram

LOSSES = ("squared", "logistic", "hinge")


def _valid(model: str, bias: str, skip: bool, output_bias: bool) -> bool:
    try:
        Variant(model, bias, skip, output_bias)
    except ValueError:
        return False
    return True


#: Every valid (model, bias, skip, output_bias) of a two-layer network.
VARIANTS = [v for v in itertools.product(MODELS, BIASES, (False, True), (False, True)) if _valid(*v)]
#: Every valid (model, bias) pair.
MODEL_BIASES = [(m, b) for m, b in itertools.product(MODELS, BIASES) if _valid(m, b, False, False)]
#: Variants times losses: (model, loss, bias, skip, output_bias).
CASES = [(m, loss, b, s, o) for (m, b, s, o) in VARIANTS for loss in LOSSES]


def data(seed: int = 0, n: int = 24, d: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, real targets, +-1 labels); the labels are not separable, so that the logistic
    infimum is attained."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    labels = np.where(y > np.median(y), 1.0, -1.0)
    labels[rng.permutation(n)[: n // 5]] *= -1
    return X, y, labels


def program(model: str, loss: str, bias: str, skip: bool, output_bias: bool, *, seed: int = 0,
            n: int = 24, d: int = 2, gates: int = 10, beta: float | None = None) -> TwoLayerProgram:
    """A small two-layer program of the variant, over ``gates`` sampled patterns."""
    X, y, labels = data(seed, n, d)
    target = y if loss == "squared" else labels
    Xt = X if bias == "none" else add_bias_column(X)
    pset = sample_patterns(Xt, gates, seed=seed + 1)
    beta = beta if beta is not None else (0.3 if loss == "squared" else 0.1)
    return TwoLayerProgram(X, target, beta=beta, loss=loss, model=model, bias=bias, skip=skip,
                           output_bias=output_bias, patterns=pset)


@dataclass
class Reference:
    """A program with its optimal value ``p_star`` known independently."""

    name: str
    program: TwoLayerProgram
    p_star: float
    rtol: float = 1e-6


def _free_fit_value(F: np.ndarray | None, y: np.ndarray, loss: str) -> float:
    r""":math:`\min_a \ell(Fa; y)`: least squares for the squared loss; :math:`\ell(0)`
    without free terms (the other losses are used here without them)."""
    if F is None:
        return {"squared": 0.5 * float(y @ y), "logistic": y.size * np.log(2.0),
                "hinge": float(y.size)}[loss]
    assert loss == "squared"
    r = y - F @ np.linalg.lstsq(F, y, rcond=None)[0]
    return 0.5 * float(r @ r)


def zero_reference(model: str, loss: str, bias: str, skip: bool, output_bias: bool) -> Reference:
    r"""beta above :math:`\sum_j |\lambda_j|\|\tilde x_j\|`, a bound on every block's dual norm
    at :math:`\lambda = -\nabla\ell(Fa^*)`: the zero network is optimal."""
    prog = program(model, loss, bias, skip, output_bias)
    F = prog.free_basis
    y = prog.y
    if F is None:
        lam = -prog.loss.gradient(np.zeros_like(y), y)
    else:
        lam = y - F @ np.linalg.lstsq(F, y, rcond=None)[0]
    bound = float(np.abs(lam) @ np.linalg.norm(prog.Xt, axis=1))
    prog = prog.with_beta(2.0 * bound + 1.0)
    name = f"zero-{model}-{loss}-{bias}-skip{int(skip)}-out{int(output_bias)}"
    return Reference(name, prog, _free_fit_value(F, y, loss))


def ridge_reference(beta: float, seed: int = 3) -> Reference:
    r"""Gated, one all-on gate, no bias: :math:`\min_u \tfrac12\|Xu - y\|^2 + \beta\|u\|`.

    For :math:`\beta < \|X^\top y\|` the optimum has :math:`u = (X^\top X + \mu I)^{-1}X^\top y`
    with :math:`\mu = \beta/\|u\|`, i.e. :math:`\mu\|u(\mu)\| = \beta` (increasing in
    :math:`\mu`); else u = 0."""
    X, y, _ = data(seed, n=20, d=3)
    pset = PatternSet(np.ones((X.shape[0], 1), bool), gates=np.eye(X.shape[1])[:1] * 0.0,
                      exhaustive=False, method="given")
    prog = TwoLayerProgram(X, y, beta=beta, loss="squared", model="gated", bias="none",
                           skip=False, output_bias=False, patterns=pset)
    G, b = X.T @ X, X.T @ y
    if beta >= np.linalg.norm(b):
        u = np.zeros(X.shape[1])
    else:
        def u_of(mu):
            return np.linalg.solve(G + mu * np.eye(X.shape[1]), b)

        mu = brentq(lambda mu: mu * np.linalg.norm(u_of(mu)) - beta, 1e-12, 1e12, xtol=1e-14,
                    rtol=1e-15)
        u = u_of(mu)
    r = X @ u - y
    return Reference(f"ridge-beta{beta:g}", prog, 0.5 * float(r @ r) + beta * float(np.linalg.norm(u)))


def references() -> list[Reference]:
    """The reference problems: zero optima over the variant grid (squared loss with every
    free-term combination; logistic and hinge without free terms) and group-lasso ridges."""
    out = [zero_reference(m, "squared", b, s, o) for (m, b, s, o) in VARIANTS]
    out += [zero_reference(m, loss, b, False, False) for (m, b) in MODEL_BIASES
            for loss in ("logistic", "hinge") if b != "free"]
    out += [ridge_reference(beta) for beta in (0.5, 5.0, 1e3)]
    return out


# ---- shared checks ---------------------------------------------------------------------------
def check_objective(prog: TwoLayerProgram, sol, p_star: float, rtol: float) -> None:
    """The numpy objective of ``sol`` equals ``p_star`` to ``rtol`` (relative to max(1, |p*|))."""
    p = prog.objective(sol)
    assert abs(p - p_star) <= rtol * max(1.0, abs(p_star)), (p, p_star)


def check_primal_feasibility(prog: TwoLayerProgram, sol, tol: float = 1e-9) -> None:
    """The cone constraints hold (relative violation)."""
    assert prog.constraint_violation(sol) <= tol


def check_weak_duality(sol, p_star: float, tol: float = 1e-8) -> None:
    """A reported dual bound is below the optimum."""
    if sol.dual_bound is not None:
        assert sol.dual_bound <= p_star + tol * max(1.0, abs(p_star))
