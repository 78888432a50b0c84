"""The batched pricing search against exact dual norms from complete cell enumeration.

Ground truth: for a small arrangement, every cell is listed
(:func:`convexnn.core.patterns.enumerate_patterns`) and each cell's cone maximum computed
(:func:`convexnn.duality.cones.pattern_supports`); their maximum is exactly
:math:`s = \\max_{\\|u_\\pi\\|\\le1}|\\lambda^\\top(\\tilde Xu)_+|`.  The search must reach it,
and every value it returns must be attained (recomputed here by hand).  The referee of
``benchmarks/check_dual_point.py`` (written without the package's pricing code) is held
to the same truth.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import convexnn as cn
from convexnn.core.patterns import enumerate_patterns
from convexnn.duality.cones import pattern_supports
from convexnn.duality.pricing_search import SearchBudget, anneal, search
from convexnn.two_layer.search_rule import (
    CONFIRM_BUDGET,
    MAX_ADD,
    MIN_ADD,
    MIN_STARTS,
    PROVE_RTOL,
    ROUND_BUDGET,
    SEARCH_RTOL,
    Rule,
    rule_for,
)

SMALL = SearchBudget(starts=256, steps=60, polish=32, climb=4)


def _referee():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "check_dual_point.py"
    spec = importlib.util.spec_from_file_location("check_dual_point", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_dual_point", mod)
    spec.loader.exec_module(mod)
    return mod


def _problem(seed: int, n: int = 18, d: int = 3, free: bool = False):
    """(Xt, lam, free mask): Gaussian data with a bias column, a Gaussian dual point
    (centred when the bias is free: the dual constraint 1^T lam = 0)."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    lam = rng.standard_normal(n)
    if free:
        lam -= lam.mean()
    mask = np.zeros(d + 1, bool)
    mask[-1] = free
    return Xt, lam, mask


def _exact_s(Xt, lam, free):
    """s over every cell of the arrangement (upper and attained lower agree)."""
    D = enumerate_patterns(Xt).D
    ps = pattern_supports(Xt, lam, D, free=free if free.any() else None)
    assert ps.max_upper == pytest.approx(ps.max_lower, rel=1e-8)
    return ps.max_lower


def _by_hand(Xt, lam, u, free):
    """|lam^T (Xt u)_+| / ||u_pi||, written out."""
    z = np.array([max(float(x @ u), 0.0) for x in Xt])
    return abs(float(lam @ z)) / float(np.linalg.norm(u[~free]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("free", [False, True])
def test_search_finds_the_enumerated_maximum(seed, free):
    Xt, lam, mask = _problem(seed, n=12 if free else 18, free=free)
    s = _exact_s(Xt, lam, mask)
    c = search(Xt, lam, rng=np.random.default_rng(seed), free=mask, budget=SMALL)
    assert c.best == pytest.approx(s, rel=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_search_at_an_optimum_finds_beta(seed):
    # at the exact optimum s = beta (THEORY A.7): the maximum is attained by every neuron's
    # cell and nothing lies above it -- the tied, cancelling case of a converged generation
    rng = np.random.default_rng(100 + seed)
    X = rng.standard_normal((12, 3))
    y = np.sin(X @ rng.standard_normal(3))
    res = cn.fit(X, y, beta=0.2, bias="regularized", patterns="exact", certify=False,
                 tol=1e-9)
    Xt = np.hstack([X, np.ones((12, 1))])
    lam = y - res.network.predict(X)
    mask = np.zeros(4, bool)
    s = _exact_s(Xt, lam, mask)
    assert s == pytest.approx(0.2, rel=1e-4)
    c = search(Xt, lam, rng=np.random.default_rng(seed), budget=SMALL)
    assert c.best == pytest.approx(s, rel=1e-7)


@pytest.mark.parametrize("free", [False, True])
def test_values_are_attained_lower_bounds(free):
    Xt, lam, mask = _problem(7, n=14 if free else 24, free=free)
    s = _exact_s(Xt, lam, mask)
    c = search(Xt, lam, rng=np.random.default_rng(1), free=mask, budget=SMALL)
    assert c.values.size > 5
    assert np.all(np.diff(c.values) <= 0)
    for v, u, sg in zip(c.values, c.U, c.signs):
        assert v == pytest.approx(_by_hand(Xt, lam, u, mask), rel=1e-10, abs=1e-12)
        assert sg * float(lam @ np.maximum(Xt @ u, 0.0)) >= 0
        assert v <= s * (1 + 1e-9)
    # one direction per cell
    D = (Xt @ c.U.T) >= 0
    assert len({col.tobytes() for col in D.T}) == D.shape[1]


def test_same_seed_same_candidates():
    Xt, lam, mask = _problem(3, n=40, d=5)
    a = search(Xt, lam, rng=np.random.default_rng(9), budget=SMALL)
    b = search(Xt, lam, rng=np.random.default_rng(9), budget=SMALL)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.U, b.U)
    assert np.array_equal(a.signs, b.signs)
    assert (a.starts, a.ascent_steps, a.cone_solves) == (b.starts, b.ascent_steps, b.cone_solves)


def test_warm_start_alone_finds_the_maximum():
    # no random start: the exact maximizer, perturbed, climbs back to s
    Xt, lam, mask = _problem(4)
    D = enumerate_patterns(Xt).D
    ps = pattern_supports(Xt, lam, D)
    i, col = ps.argmax_lower()
    u = ps.U[i, col]
    budget = SearchBudget(starts=0, polish=8, climb=2)
    c = search(Xt, lam, rng=np.random.default_rng(0), budget=budget, warm=u[None, :],
               warm_signs=np.array([1.0 if col == 0 else -1.0]))
    assert c.best == pytest.approx(ps.max_lower, rel=1e-9)
    assert c.starts == 2  # the start and one perturbed copy


def test_annealed_ascent_beats_the_fixed_point_ascent():
    # the reason for the schedule: on a cancelling dual point (many signs, rank 9) the
    # fixed-point ascent u <- g/||g|| stalls far below what small steps reach
    from convexnn.duality.pricing import ascend

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 8))
    Xt = np.hstack([X, np.ones((300, 1))])
    lam = rng.standard_normal(300)
    lam -= Xt @ np.linalg.lstsq(Xt, lam, rcond=None)[0]  # X~^T lam = 0: strong cancellation
    U0 = rng.standard_normal((500, 9))
    fixed, _ = ascend(Xt, lam, U0, steps=30)
    annealed, _, _ = anneal(Xt, lam, U0, steps=100, eta=(0.3, 1e-3), pen=np.ones(9, bool))
    assert np.median(annealed) > 1.1 * np.median(fixed)
    assert annealed.max() >= fixed.max()


@pytest.mark.parametrize("seed", range(4))
def test_referee_finds_the_enumerated_maximum(seed):
    ref = _referee()
    Xt, lam, mask = _problem(20 + seed)
    s = _exact_s(Xt, lam, mask)
    r = ref.referee(Xt, lam, starts=500, seed=seed)
    assert r.value == pytest.approx(s, rel=1e-7)
    assert r.value == pytest.approx(ref.attained(Xt, lam, r.u), rel=1e-12)


def _rank8(seed=0, n=40):
    """Seven features plus a regularized bias: rank 8, above branch and bound's reach, so
    the generation loop stops on its pricing search."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 7))
    y = np.tanh(X @ rng.standard_normal(7)) + 0.3 * rng.standard_normal(n)
    return X, y


@pytest.mark.slow
def test_generation_stops_on_its_search_and_the_referee_agrees():
    X, y = _rank8()
    res = cn.fit(X, y, beta=0.5, bias="regularized")
    rep = res.generation
    assert rep.stopped == "searched" and rep.converged
    assert res.status == "optimal"
    # the confirming search ran at the final dual point, and its record is the report's
    rec = rep.search
    assert rec is not None and rec.clean
    assert rec.restarts == ROUND_BUDGET.starts + CONFIRM_BUDGET.starts
    assert rec.level == 1 + SEARCH_RTOL
    assert rep.history[-1]["search_starts"] >= rec.restarts
    # the final master's dual point, refereed independently: no direction above
    # beta (1 + SEARCH_RTOL), up to the master's accuracy
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    lam = y - res.program.predict(res.solution)
    r = _referee().referee(Xt, lam, starts=5000, seed=3)
    assert r.value <= 0.5 * (1 + 2 * SEARCH_RTOL)
    assert rec.found * 0.5 <= r.value * (1 + 1e-6) or rec.found <= 1.0
    # the seed network (gradient-trained) is an upper bound of the optimum: never below
    assert res.objective <= rep.seed_objective * (1 + 1e-9)
    # rank 8: nothing is proven, and the certificate says so in words, quoting the search
    cert = res.certificate
    assert not cert.certified and cert.search == rec
    assert cert.verdict in ("no_violation_found", "refuted")
    if cert.verdict == "no_violation_found":
        words = cert.statement()
        assert f"found by a search of {rec.restarts:,} random starts" in words
        assert "not a proof" in words and "CERTIFIED" not in words


@pytest.mark.slow
def test_generation_same_input_same_answer():
    # seed None is the default seed: the same input gives the same answer
    X, y = _rank8(1, n=30)
    a = cn.fit(X, y, beta=0.5, bias="regularized", certify=False)
    b = cn.fit(X, y, beta=0.5, bias="regularized", certify=False)
    assert a.objective == b.objective
    assert a.generation.rounds == b.generation.rounds


def test_search_rule_scales_with_n():
    # above SEARCH_SAMPLES the starts and the patterns per round shrink by 512/n, down to
    # the floors; a provable problem has no confirming search and the tight level
    small, big = rule_for(400, provable=False), rule_for(10_000, provable=False)
    assert small.round_budget.starts == ROUND_BUDGET.starts
    assert small.confirm_budget.starts == CONFIRM_BUDGET.starts
    assert (big.round_budget.starts, big.confirm_budget.starts) == MIN_STARTS
    assert big.max_add == MIN_ADD
    mid = rule_for(1024, provable=False)
    assert mid.round_budget.starts == ROUND_BUDGET.starts // 2
    assert mid.max_add == MAX_ADD // 2
    prov = rule_for(400, provable=True)
    assert prov.confirm_budget is None and prov.level(2.0) == 2.0 * (1 + PROVE_RTOL)


def test_certificate_quotes_the_search_and_never_says_proven(monkeypatch):
    # small budgets (the rule is the pricer's): rank 8, so nothing is proven; the fit stops
    # on its search, and the certificate's words are the search's, never "CERTIFIED"
    from convexnn.two_layer import pricer

    small = Rule(SearchBudget(starts=64, steps=40, polish=8, climb=2),
                 SearchBudget(starts=256, steps=40, polish=16, climb=2), SEARCH_RTOL, 64)
    monkeypatch.setattr(pricer, "rule_for", lambda n, provable: small)
    X, y = _rank8(2, n=24)
    res = cn.fit(X, y, beta=0.5, bias="regularized")
    rep, cert = res.generation, res.certificate
    assert rep.stopped == "searched"
    rec = rep.search
    assert rec.restarts == 64 + 256 and rec.level == 1 + SEARCH_RTOL
    assert "320 of them random" in rep.reason and "not a proof" in rep.reason
    assert cert.search == rec and not cert.certified and cert.method == "search"
    assert np.isfinite(cert.s_found) and "nan" not in str(cert)  # no field is NaN
    words = cert.statement()
    assert "CERTIFIED" not in words
    if cert.verdict == "no_violation_found":
        assert "found by a search of 320 random starts" in words and "not a proof" in words
    # the lower bound is valid: below the seed network's (gradient-trained) objective
    assert cert.lower_bound <= rep.seed_objective
