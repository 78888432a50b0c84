"""Parallel three-layer ReLU networks with path regularization (THEORY E.1)."""

import numpy as np
import pytest

import convexnn as cn
from convexnn.networks.parallel import ParallelNetwork
from convexnn.three_layer.certificate import certify_parallel
from convexnn.three_layer.groups import (
    exact_groups,
    first_level_patterns,
    sample_subnetworks,
    sampled_groups,
    second_level_patterns,
)
from convexnn.training.compare_parallel import compare_parallel
from convexnn.training.parallel import random_parallel, train_parallel

BETA = 0.2


def tiny(seed=0, n=6, d=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@pytest.fixture(scope="module")
def fits():
    X, y = tiny()
    return X, y, {p: cn.fit(X, y, depth=3, beta=BETA, path=p, m1=2, bias="none") for p in ("l1", "l2")}


def test_second_level_enumeration_matches_brute_force():
    """Every second-level pattern of 40000 random sub-networks (m1 = 2) is enumerated, and
    every enumerated pattern has a witness z realizing it strictly (numpy re-check)."""
    X, _ = tiny(1)
    D1, exact = first_level_patterns(X)
    assert exact
    cols = {c.tobytes(): i for i, c in enumerate(D1.T)}
    P1pat, S, D2 = sample_subnetworks(X, 40000, 2, seed=3)
    seen: dict = {}
    for a in range(len(D2)):
        if not D2[a].any() or any(P1pat[a, j].tobytes() not in cols for j in range(2)):
            continue
        blocks = tuple(sorted((cols[P1pat[a, j].tobytes()], int(S[a, j])) for j in range(2)))
        seen.setdefault(blocks, set()).add(D2[a].tobytes())
    found_total = 0
    enumerated_total = 0
    for blocks, pats in seen.items():
        p = np.array([b[0] for b in blocks])
        s = np.array([b[1] for b in blocks])
        E, Z = second_level_patterns(X, D1, p, s)
        enum = {e.tobytes() for e in E}
        assert pats <= enum, f"sampled pattern missing for blocks {blocks}"
        found_total += len(pats)
        enumerated_total += len(enum)
        for e, z in zip(E, Z):  # the witness realizes the pattern strictly
            h = sum(sj * D1[:, i] * (X @ zj) for i, sj, zj in zip(p, s, z))
            assert np.all((2.0 * D1[:, p] - 1.0).T * (X @ z.T).T > 0)
            assert np.array_equal(h > 0, e)
    assert found_total >= 0.9 * enumerated_total  # sampling finds nearly all cells too


def test_l1_second_level_patterns_cover_wide_subnetworks():
    X, _ = tiny(2)
    g = exact_groups(X, path="l1")
    enum = {e.tobytes() for e in g.D2}
    _, _, D2 = sample_subnetworks(X, 20000, 5, seed=1)
    assert {e.tobytes() for e in D2 if e.any()} <= enum


@pytest.mark.parametrize("path", ["l1", "l2"])
def test_recovery_attains_optimum_and_certificate(fits, path):
    X, y, res = fits
    r = res[path]
    assert r.exhaustive and r.status == "optimal"
    rel = abs(r.recovered_objective - r.objective) / r.objective
    assert rel <= 1e-6
    net = r.network
    assert abs(net.objective(X, y, beta=BETA) - r.objective) <= 1e-6 * r.objective
    assert r.certificate.certified
    assert r.certificate.lower_bound <= r.objective + 1e-9
    assert net.n_subnetworks <= X.shape[0]  # pruned to independent group outputs


def test_l2_path_is_below_l1(fits):
    """R_2 <= R_1 for every network, so p*(l2, m1) <= p*(l1)."""
    _, _, res = fits
    assert res["l2"].objective <= res["l1"].objective + 1e-7


def test_width_one_equals_two_layer_optimum():
    r"""With m1 = 1 a sub-network is :math:`\alpha(c(Xw)_+)_+ = \alpha c_+(Xw)_+`: a two-layer
    ReLU network with path norm :math:`|\alpha c|\|w\|`, so both programs equal C-ReLU."""
    X, y = tiny(3)
    two = cn.fit(X, y, beta=BETA, patterns="exact", solver="clarabel", bias="none").objective
    r = cn.fit(X, y, depth=3, beta=BETA, path="l2", m1=1, bias="none")
    assert abs(r.objective - two) <= 1e-6 * two


def test_done_when_lbfgs_runs_are_above_optimum(fits):
    """n = 6, d = 2, beta = 0.2: the convex optimum is <= L-BFGS runs of the same networks
    (three seeds here; ten in the slow test) and every run's certificate bound is <= p*."""
    X, y, res = fits
    for path, m1 in (("l1", 3), ("l2", 2)):
        r = res[path]
        cmp = compare_parallel(X, y, beta=BETA, path=path, m1=m1, K=8, seeds=3, result=r,
                               max_iter=300)
        assert r.objective <= cmp.best * (1 + 1e-9)
        run = cmp.runs[0]
        cert = certify_parallel(run.network, X, y, beta=BETA, groups=r.groups)
        assert cert.lower_bound <= r.objective + 1e-8
        assert cert.upper_bound >= r.objective - 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("path,m1", [("l1", 4), ("l2", 2)])
def test_done_when_ten_lbfgs_runs(path, m1):
    X, y = tiny()
    r = cn.fit(X, y, depth=3, beta=BETA, path=path, m1=2, bias="none")
    cmp = compare_parallel(X, y, beta=BETA, path=path, m1=m1, K=10, seeds=10, result=r)
    assert r.objective <= cmp.best * (1 + 1e-9)
    assert cmp.best <= 1.1 * r.objective  # gradient runs come close
    assert abs(r.recovered_objective - r.objective) <= 1e-6 * r.objective


def test_sampled_groups_are_an_upper_bound(fits):
    X, y, res = fits
    g = sampled_groups(X, path="l2", m1=2, n_samples=300, seed=0)
    assert not g.exhaustive
    r = cn.fit(X, y, depth=3, beta=BETA, path="l2", m1=2, patterns=g, certify=False, bias="none")
    assert r.objective >= res["l2"].objective - 1e-7
    assert "upper bound" in r.summary()


def test_fit_dispatch_and_errors():
    X, y = tiny(4, n=5)
    r = cn.fit(X, y, beta=0.3, depth=3, path="l1", bias="none")
    assert r.program.path == "l1" and r.exhaustive
    with pytest.raises(ValueError, match="depth"):
        cn.fit(X, y, beta=0.3, depth=5, bias="none")
    with pytest.raises(ValueError, match="path"):
        cn.fit(X, y, beta=0.3, depth=3, path="l3", bias="none")
    with pytest.raises(ValueError, match="beta"):
        cn.fit(X, y, depth=3, beta=-1.0, bias="none")


def test_network_save_load_torch(tmp_path):
    X, y = tiny(5)
    net = random_parallel(2, 4, 3, path="l1", seed=1)
    p = net.save(tmp_path / "net")
    back = ParallelNetwork.load(p)
    assert np.array_equal(back.W, net.W) and back.path == "l1"
    mod = net.to_torch()
    import torch

    out = mod(torch.as_tensor(X)).detach().numpy()
    assert np.allclose(out, net.predict(X), atol=1e-12)
    assert abs(float(mod.penalty().detach()) - net.penalty()) < 1e-12
    # path norms are invariant under the ReLU rescalings
    t = 3.0
    resc = ParallelNetwork(W=net.W * t, c=net.c / t * 2.0, alpha=net.alpha / 2.0, path="l1")
    assert np.allclose(resc.predict(X), net.predict(X))
    assert abs(resc.penalty("l2") - net.penalty("l2")) < 1e-12
    run = train_parallel(X, y, beta=0.1, path="l1", K=3, m1=2, seed=0, max_iter=20)
    assert np.isfinite(run.objective)
