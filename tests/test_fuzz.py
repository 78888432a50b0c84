"""Fuzz corpus: random small problems (both programs, every loss and bias variant,
degenerate data) against brute-force optima written independently in cvxpy
(tests/_bruteforce.py), with certificate validity and no crash.

The slow corpus has ``CONVEXNN_FUZZ_N`` problems per program (default 1000); the core
suite runs a small one.  For each problem:

* ``fit(patterns="exact")`` returns (the only refusal allowed is gated + free bias);
* its objective equals the brute-force convex optimum over every pattern (an LP per sign
  vector, then Clarabel), which is the global optimum of the non-convex problem;
* the recovered network's objective, computed from its arrays, equals it;
* the certificate's lower bound is never above the optimum, nor above the objective of
  the zero network or of a random network of the same kind.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from _bruteforce import convex_optimum, network_objective

import convexnn as cn
from convexnn.exceptions import ConvexNNValueError
from convexnn.networks.two_layer import Network

N_FUZZ = int(os.environ.get("CONVEXNN_FUZZ_N", "1000"))
N_CORE = 10
RTOL = 2e-5

#: Seeds whose brute force Clarabel could not solve accurately (checked by bounds only).
NO_TRUTH: list[int] = []

KINDS = ("gauss", "integer", "duplicate_rows", "zero_rows", "constant_y", "tiny", "collinear")


def random_problem(seed: int, model: str) -> dict:
    """A random small problem (n <= 6, so the arrangement is brute-forceable)."""
    rng = np.random.default_rng(seed)
    kind = KINDS[seed % len(KINDS)]
    n = int(rng.integers(1, 3)) if kind == "tiny" else int(rng.integers(3, 7))
    d = int(rng.integers(1, 4))
    X = rng.standard_normal((n, d))
    if kind == "integer":
        X = rng.integers(-2, 3, (n, d)).astype(float)
    elif kind == "duplicate_rows" and n > 1:
        X[-1] = X[0]
        X[-2 if n > 2 else 0] *= -1.5
    elif kind == "zero_rows":
        X[: max(1, n // 3)] = 0.0
    elif kind == "collinear":
        t = rng.standard_normal(n)
        X = np.outer(t, rng.standard_normal(d)) + (0 if d == 1 else 0.0)
    loss = ("squared", "logistic", "hinge")[int(rng.integers(3))]
    if loss == "squared":
        y = np.full(n, rng.standard_normal()) if kind == "constant_y" else rng.standard_normal(n)
    else:
        y = np.full(n, 1.0) if kind == "constant_y" else np.where(rng.random(n) < 0.5, -1.0, 1.0)
    biases = ("none", "regularized", "free") if model == "relu" else ("none", "regularized")
    return dict(X=X, y=y, model=model, loss=loss, bias=biases[int(rng.integers(len(biases)))],
                skip=bool(rng.random() < 0.3), output_bias=bool(rng.random() < 0.3),
                beta=float(10 ** rng.uniform(-1.5, 1)))


def random_network(p: dict, rng) -> Network:
    d = p["X"].shape[1]
    m = 3
    gated = p["model"] == "gated"
    return Network(W1=rng.standard_normal((m, d)), W2=rng.standard_normal(m),
                   b1=rng.standard_normal(m) if p["bias"] != "none" else np.zeros(m),
                   c0=float(rng.standard_normal()) if (p["output_bias"] or p["bias"] == "free") else 0.0,
                   skip=rng.standard_normal(d) if p["skip"] else np.zeros(d),
                   gates=rng.standard_normal((m, d)) if gated else None,
                   gate_bias=(rng.standard_normal(m) if p["bias"] != "none" else np.zeros(m)) if gated else None,
                   regularize_bias=p["bias"] == "regularized")


def check_problem(seed: int, model: str) -> str | None:
    """None if every check holds, else a description of the failure."""
    p = random_problem(seed, model)
    X, y = p["X"], p["y"]
    kw = {k: p[k] for k in ("beta", "model", "loss", "bias", "skip", "output_bias")}
    tag = f"seed={seed} {kw} n,d={X.shape}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = cn.fit(X, y, patterns="exact", **kw)
    except ConvexNNValueError as e:
        if model == "gated" and p["bias"] == "free" and "degenerate" in str(e):
            return None
        return f"{tag}: refused: {type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 (a crash is what the fuzz looks for)
        return f"{tag}: crashed: {type(e).__name__}: {e}"
    truth = convex_optimum(X, y, **kw)
    f_net = network_objective(r.network, X, y, beta=p["beta"], loss=p["loss"], bias=p["bias"])
    if r.status != "optimal":
        return f"{tag}: status {r.status}"
    if abs(r.objective - f_net) > RTOL * max(1.0, abs(f_net)):
        return f"{tag}: network objective {f_net!r} != convex {r.objective!r}"
    if truth is None:  # no accurate brute force (an infimum not attained): bounds only
        NO_TRUTH.append(seed)
        truth = f_net
    scale = max(1.0, abs(truth))
    if abs(r.objective - truth) > RTOL * scale:
        return f"{tag}: objective {r.objective!r} != brute force {truth!r}"
    c = r.certificate
    if c is None:
        return f"{tag}: no certificate"
    rng = np.random.default_rng(seed + 1)
    zero = Network(W1=np.zeros((1, X.shape[1])), W2=np.zeros(1), regularize_bias=p["bias"] == "regularized")
    feasible = [truth, f_net, network_objective(zero, X, y, beta=p["beta"], loss=p["loss"], bias=p["bias"]),
                network_objective(random_network(p, rng), X, y, beta=p["beta"], loss=p["loss"], bias=p["bias"])]
    if not np.isfinite(c.lower_bound) or c.lower_bound > min(feasible) + 1e-7 * scale:
        return f"{tag}: lower bound {c.lower_bound!r} above a feasible objective {min(feasible)!r}"
    # the brute-force optimum is itself accurate to about the solver's tolerance only
    if c.certified and truth - c.lower_bound > max(c.gap, 0) + RTOL * scale:
        return f"{tag}: certified gap {c.gap!r} but truth - LB = {truth - c.lower_bound!r}"
    return None


def run_corpus(seeds, model: str) -> list[str]:
    return [f for f in (check_problem(s, model) for s in seeds) if f is not None]


@pytest.mark.parametrize("model", ["relu", "gated"])
def test_fuzz_core(model):
    failures = run_corpus(range(N_CORE), model)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["relu", "gated"])
def test_fuzz_corpus(model):
    NO_TRUTH.clear()
    failures = run_corpus(range(10_000, 10_000 + N_FUZZ), model)
    assert not failures, f"{len(failures)} of {N_FUZZ} problems failed:\n" + "\n".join(failures[:30])
    assert len(NO_TRUTH) <= 0.05 * N_FUZZ, f"no brute-force optimum for seeds {NO_TRUTH}"
