"""Vector-output neuron generation on real-size data (issue 24): the numpy descent against
torch, the closed-form dual-norm bound against exact enumeration and sampling, init
networks and gradient runs as upper bounds, lower bounds below them."""

import numpy as np
import pytest
import torch

import convexnn as cn
from convexnn.core.losses import get_loss
from convexnn.neurons.descent import descend, evaluate, random_start
from convexnn.neurons.pricing import crude_bound, exact_dual_norm, values_of


def classes(seed=0, n=40, d=3, c=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    labels = np.argmax(X @ rng.standard_normal((d, c)) + 0.3 * rng.standard_normal((n, c)), 1)
    return X, labels


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_descent_objective_and_gradient_match_torch(loss):
    """evaluate() is F(W, G) written in torch; descend() only lowers it."""
    rng = np.random.default_rng(1)
    X, labels = classes(1, n=15, d=2)
    Xt = np.hstack([X, np.ones((15, 1))])
    Y = np.eye(3)[labels]
    L = get_loss(loss)
    pen = np.ones(3, bool)
    W, G = random_start(3, 6, 3, rng)
    net = evaluate(Xt, Y, beta=0.3, loss=L, pen=pen, F=None, W=W, G=G)
    Wt, Gt = torch.tensor(W), torch.tensor(G)
    Z = torch.relu(torch.tensor(Xt) @ Wt.T) @ Gt
    Yt = torch.tensor(Y)
    data = (0.5 * ((Z - Yt) ** 2).sum() if loss == "squared"
            else -(Yt * torch.log_softmax(Z, 1)).sum())
    F = data + 0.15 * ((Wt**2).sum() + (Gt**2).sum())
    assert np.isclose(net.objective, float(F), rtol=1e-10)
    out = descend(Xt, Y, beta=0.3, loss=L, pen=pen, F=None, W0=W, G0=G, maxiter=100)
    assert out.objective <= net.objective
    again = evaluate(Xt, Y, beta=0.3, loss=L, pen=pen, F=None, W=out.W, G=out.G)
    assert np.isclose(again.objective, out.objective, rtol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_crude_bound_above_exact_dual_norm_and_samples(seed):
    """The closed-form bound is >= the exact dual norm (enumerated cells, d = 2 lifted to 3)
    and >= the value of every sampled unit direction."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 2))
    Xt = np.hstack([X, np.ones((12, 1))])
    Lam = rng.standard_normal((12, 3))
    pen = np.ones(3, bool)
    bound = crude_bound(Xt, Lam, pen)
    exact = exact_dual_norm(Xt, Lam, pen)
    assert exact is not None and exact.exhaustive
    assert bound >= exact.s * (1 - 1e-12)
    U = rng.standard_normal((5000, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    assert bound >= values_of(Xt, Lam, U).max()
    assert exact.s >= values_of(Xt, Lam, U).max() * (1 - 1e-9)


@pytest.mark.slow
def test_fit_below_init_network_and_gradient_runs():
    """A trained network passed as ``init`` bounds the fit from above; the certified lower
    bound is below every gradient run (weak duality)."""
    from convexnn import training as tb

    X, labels = classes(2, n=60, d=4)
    runs = []
    for seed in range(2):
        module = tb.random_module(4, 20, bias="regularized", n_outputs=3, seed=seed)
        runs.append(tb.train(module, X, labels, beta=1.0, loss="cross_entropy",
                             optimizer="lbfgs", epochs=150, seed=seed, quiet=True))
    r = cn.fit(X, labels, beta=1.0, loss="cross_entropy", init=runs[0].network)
    assert r.recovered_objective <= runs[0].objective * (1 + 1e-7)
    assert r.recovered_objective <= min(run.objective for run in runs) * (1 + 1e-4)
    for run in runs:
        assert r.certificate.lower_bound <= run.objective + 1e-9
    assert r.certificate.lower_bound <= r.recovered_objective + 1e-9
