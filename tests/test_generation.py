"""Pattern generation (the default beyond enumeration) against independent truth: the
exact optimum over every cell, gradient-trained networks as upper bounds, seeding from a
network, and the validity of the certificate's lower bound."""

import numpy as np
import pytest
from _lbfgs import train_two_layer

import convexnn as cn
from convexnn.core.losses import get_loss
from convexnn.core.variant import Variant
from convexnn.duality.pricing import ascend, best_bias
from convexnn.two_layer.descent import descend, random_start
from convexnn.two_layer.pricer import network_patterns


def rank4(n, seed=0):
    """Three features plus a regularized bias: rank 4 (1,152 cells for n = 16)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = np.sin(X @ rng.standard_normal(3)) + 0.1 * rng.standard_normal(n)
    return X, y


def test_rank4_default_fit_equals_exact_optimum_and_is_certified():
    X, y = rank4(16)
    exact = cn.fit(X, y, beta=0.1, bias="regularized", patterns="exact", solver="clarabel")
    assert exact.exhaustive and exact.program.n_patterns > 1000
    res = cn.fit(X, y, beta=0.1, bias="regularized", seed=0)
    assert res.generation is not None and not res.exhaustive
    assert res.objective == pytest.approx(exact.objective, rel=1e-6)
    cert = res.certificate
    assert cert.method == "branch_bound" and cert.exhaustive and cert.certified
    # the lower bound is below the exact optimum (weak duality), the gap tiny
    assert cert.lower_bound <= exact.objective * (1 + 1e-7)
    assert cert.relative_gap <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_default_fit_below_gradient_training(loss):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 5))
    y = X[:, 0] - np.abs(X[:, 1]) + 0.1 * rng.standard_normal(40)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    res = cn.fit(X, y, beta=0.5, bias="regularized", loss=loss, seed=0, time_limit=20)
    best_gd = min(_gd(X, y, 0.5, loss, w, s) for w, s in ((20, 0), (40, 1)))
    assert res.recovered_objective <= best_gd * (1 + 1e-6)
    # the certificate's lower bound is valid: below every network's objective
    assert res.certificate.lower_bound <= best_gd
    assert res.certificate.lower_bound <= res.recovered_objective


def _gd(X, y, beta, loss, width, seed):
    if loss == "squared":
        return train_two_layer(X, y, beta=beta, width=width, bias="regularized", seed=seed)
    Xt, free = Variant(bias="regularized").lift(X)
    U0, a0 = random_start(Xt, y, width, np.random.default_rng(seed))
    return descend(Xt, y, beta=beta, loss=get_loss(loss), pen=np.ones(Xt.shape[1]), F=None,
                   U0=U0, alpha0=a0, maxiter=3000).objective


def test_init_network_is_an_upper_bound():
    """fit(..., init=net) over a small fixed sample is never worse than net (THEORY A.10)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 6))
    y = np.tanh(X @ rng.standard_normal(6))
    Xt, _ = Variant(bias="regularized").lift(X)
    U0, a0 = random_start(Xt, y, 30, rng)
    loc = descend(Xt, y, beta=1.0, loss=get_loss("squared"), pen=np.ones(7), F=None,
                  U0=U0, alpha0=a0, maxiter=2000)
    net = cn.Network(W1=loc.U[:, :6], b1=loc.U[:, 6], W2=loc.alpha, regularize_bias=True)
    f_net = net.objective(X, y, beta=1.0)
    assert f_net == pytest.approx(loc.objective, rel=1e-9)
    alone = cn.fit(X, y, beta=1.0, bias="regularized", patterns=5, seed=0, certify=False)
    seeded = cn.fit(X, y, beta=1.0, bias="regularized", patterns=5, seed=0, init=net,
                    certify=False)
    assert seeded.objective <= f_net * (1 + 1e-7)
    assert seeded.objective < alone.objective
    # the init network's patterns are in the program
    D = network_patterns(net, X, Xt)
    have = {c.tobytes() for c in seeded.program.D.T}
    assert all(c.tobytes() in have for c in D.T if c.any())


def test_init_accepts_torch_module():
    import torch

    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 4))
    y = rng.standard_normal(30)
    module = cn.Network(W1=rng.standard_normal((5, 4)), b1=rng.standard_normal(5),
                        W2=rng.standard_normal(5), regularize_bias=True).to_torch()
    assert isinstance(module, torch.nn.Module)
    res = cn.fit(X, y, beta=1.0, bias="regularized", patterns=3, init=module, certify=False)
    assert res.objective <= cn.Network.from_torch(module).objective(X, y, beta=1.0) + 1e-9
    with pytest.raises(TypeError, match="init"):
        cn.fit(X, y, beta=1.0, init="not a network", bias="none")


def test_best_bias_matches_brute_force():
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((5, 12))
    lam = rng.standard_normal(12)
    lam -= lam.mean()  # 1^T lam = 0: the value is bounded in b
    val, b = best_bias(Z, lam)
    grid = np.linspace(-5, 5, 20001)
    for k in range(5):
        brute = max(lam @ np.maximum(Z[k] + t, 0) for t in grid)
        assert val[k] >= brute - 1e-9
        assert lam @ np.maximum(Z[k] + b[k], 0) == pytest.approx(val[k], abs=1e-12)


def test_ascent_never_below_its_start():
    rng = np.random.default_rng(5)
    Xt = rng.standard_normal((50, 4))
    lam = rng.standard_normal(50)
    U0 = rng.standard_normal((64, 4))
    vals, U = ascend(Xt, lam, U0)
    start = np.maximum(U0 @ Xt.T, 0) @ lam / np.linalg.norm(U0, axis=1)
    assert np.all(vals >= start - 1e-12)
    attained = np.maximum(U @ Xt.T, 0) @ lam / np.linalg.norm(U, axis=1)
    np.testing.assert_allclose(attained, vals, rtol=1e-10, atol=1e-12)


def test_generate_refused_for_gated():
    X, y = rank4(12)
    with pytest.raises(ValueError, match="generate"):
        cn.fit(X, y, beta=0.1, model="gated", bias="regularized", patterns="generate")


@pytest.mark.slow
def test_rank4_n24_default_fit_equals_exact_optimum():
    X, y = rank4(24, seed=1)
    exact = cn.fit(X, y, beta=0.1, bias="regularized", patterns="exact", solver="clarabel")
    res = cn.fit(X, y, beta=0.1, bias="regularized", seed=0)
    assert res.objective == pytest.approx(exact.objective, rel=1e-6)
    assert res.certificate.certified


class _FakePricer:
    """A scripted Pricer: round k finds ``found[k]`` over beta and adds ``added[k]``
    columns, with the engine's other inputs (``stale``, ``exhausted``) as given; the
    master's objective falls by 1 a round."""

    columns_name = "columns"

    def __init__(self, added, found=None, stale=(), exhausted=(), proof=None):
        self.added, self.found = list(added), found or [1.5] * len(added)
        self.stale, self.exhausted, self.proof = set(stale), set(exhausted), proof
        self.k, self.n_columns = 0, 1

    def start(self, report):
        report.seed_objective = 100.0

    def master(self):
        from convexnn.core.protocol import Master

        return Master(program=None, solution=self.k, objective=10.0 - self.k)

    def price(self, m):
        from convexnn.core.protocol import Priced

        k = self.k
        return Priced(self.found[k], self.added[k], note=f"round {k + 1}",
                      search=("record", k), stale=k in self.stale,
                      exhausted="the starts" if k in self.exhausted else "")

    def descend(self, m, priced):
        from convexnn.core.protocol import Descended

        return Descended()

    def prove(self, m):
        return self.proof

    def advance(self, m):
        self.k += 1


def test_engine_stops_for_the_pricers_reason():
    from convexnn.core.protocol import Budget, Proof
    from convexnn.generation import UNFINISHED, generate

    budget = Budget(max_rounds=10, stall_rounds=0)
    # nothing found in round 3: "searched", with the record of that round's search
    rep = generate(_FakePricer([5, 5, 0, 5]), budget).report
    assert (rep.stopped, rep.rounds, rep.search) == ("searched", 3, ("record", 2))
    assert rep.converged and "round 3" in rep.reason
    # violators only on columns already in the program: not "searched", no record
    rep = generate(_FakePricer([5, 0], stale=[1]), budget).report
    assert (rep.stopped, rep.rounds, rep.search) == ("no_new_columns", 2, None)
    # the pricer's work budget ends the loop after the round that spent it: unfinished
    rep = generate(_FakePricer([5, 5, 5, 5], exhausted=[1]), budget).report
    assert (rep.stopped, rep.rounds) == ("work_budget", 2)
    assert "work_budget" in UNFINISHED and not rep.converged
    # exact pricing proves it: "proven", its evidence kept, no search record
    rep = generate(_FakePricer([5, 0], proof=Proof("proven", evidence="bb")), budget).report
    assert (rep.stopped, rep.proof, rep.search) == ("proven", "bb", None)
    # the round budget
    rep = generate(_FakePricer([5] * 3), Budget(max_rounds=3, stall_rounds=0)).report
    assert rep.stopped == "max_rounds" and not rep.converged
