"""torch modules and training against independent references.

References: the numpy :class:`Network` / :class:`DeepNetwork` (predictions, objective),
central finite differences of the numpy objective (gradients, one GD step), enumeration
of all mini-batches (unbiasedness), the exact convex optimum (weak duality, warm start),
and Adam's closed-form first step.
"""

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch

import convexnn  # noqa: E402
from convexnn import DeepNetwork, Network  # noqa: E402
from convexnn import training as tb  # noqa: E402

torch.set_num_threads(1)
BIASES = ("none", "regularized", "free")


def random_network(rng, d=3, m=4, c=None, *, model="relu", bias="none", skip=False,
                   output_bias=False):
    W2 = rng.standard_normal(m if c is None else (m, c))
    kw = {}
    if bias != "none":
        kw["b1"] = rng.standard_normal(m)
    if skip:
        kw["skip"] = rng.standard_normal(d if c is None else (d, c))
    if output_bias:
        kw["c0"] = rng.standard_normal() if c is None else rng.standard_normal(c)
    if model == "gated":
        kw["gates"] = rng.standard_normal((m, d))
        kw["gate_bias"] = rng.standard_normal(m) if bias != "none" else np.zeros(m)
    return Network(W1=rng.standard_normal((m, d)), W2=W2, regularize_bias=bias == "regularized",
                   **kw)


def torch_objective(module, X, y, beta, loss="squared", n=None):
    return tb.objective(module, torch.as_tensor(X), torch.as_tensor(y), beta=beta, loss=loss, n=n)


# ---- imports --------------------------------------------------------------------------------
def test_import_convexnn_does_not_import_torch():
    code = ("import sys, numpy as np, convexnn, convexnn.networks.two_layer, convexnn.training.compare, "
            "convexnn.plotting.training\n"
            "net = convexnn.Network(W1=np.ones((2, 3)), W2=np.ones(2))\n"
            "net.predict(np.ones((4, 3)))\n"
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# ---- round trips ----------------------------------------------------------------------------
VARIANTS = list(itertools.product(("relu", "gated"), BIASES, (False, True), (False, True),
                                  (None, 2)))


@pytest.mark.parametrize("model,bias,skip,output_bias,c", VARIANTS)
def test_round_trip_every_variant(rng, model, bias, skip, output_bias, c):
    net = random_network(rng, c=c, model=model, bias=bias, skip=skip, output_bias=output_bias)
    X = rng.standard_normal((9, 3))
    module = net.to_torch(bias=bias, skip=skip, output_bias=output_bias)
    with torch.no_grad():
        pred = module(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(pred, net.predict(X), rtol=0, atol=1e-12)
    # the trainable parameters are exactly the model's; gates are fixed buffers
    expected = {"W1", "W2"} | ({"b1"} if bias != "none" else set()) | ({"skip"} if skip else set())
    expected |= {"c0"} if (output_bias or bias == "free") else set()
    assert {k for k, p in module.named_parameters() if p.requires_grad} == expected
    assert {k for k, _ in module.named_buffers()} == ({"gates", "gate_bias"} if model == "gated" else set())
    # torch objective == numpy objective (penalty on W1, W2 [, b1 if regularized] only)
    losses = ["squared"] + (["logistic", "hinge"] if c is None else [])
    for loss in losses:
        y = rng.standard_normal(X.shape[0]) if c is None else rng.standard_normal((X.shape[0], c))
        if loss != "squared":
            y = np.sign(y)
        F = torch_objective(module, X, y, 0.37, loss).item()
        assert F == pytest.approx(net.objective(X, y, beta=0.37, loss=loss), rel=1e-13, abs=1e-13)
    back = Network.from_torch(module)
    for name in ("W1", "W2", "b1", "skip", "gates", "gate_bias"):
        a, b = getattr(net, name), getattr(back, name)
        assert (a is None and b is None) or np.array_equal(a, b), name
    assert np.array_equal(np.asarray(back.c0), np.asarray(net.c0))
    assert back.regularize_bias == net.regularize_bias
    # and the trainable configuration survives the numpy round trip
    again = back.to_torch()
    assert {k for k, _ in again.named_parameters()} == expected


def test_to_torch_infers_free_parts_and_rejects_conflicts(rng):
    net = random_network(rng, bias="free", skip=True, output_bias=True)
    module = net.to_torch()
    assert module.bias == "free" and module.skip is not None and module.c0 is not None
    with pytest.raises(ValueError, match="bias"):
        net.to_torch(bias="none")
    with pytest.raises(ValueError, match="regularize_bias"):
        net.to_torch(bias="regularized")
    with pytest.raises(ValueError, match="skip"):
        net.to_torch(skip=False)
    plain = random_network(rng)
    assert plain.to_torch().bias == "none" and plain.to_torch().skip is None


@pytest.mark.parametrize("activation", ["relu", "linear", "leaky_relu"])
@pytest.mark.parametrize("regularize_bias", [False, True])
@pytest.mark.parametrize("outputs", [1, 3])
def test_deep_round_trip(rng, activation, regularize_bias, outputs):
    sizes = [4, 5, 6, outputs]
    Ws = [rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(b) for b in sizes[1:]]
    net = DeepNetwork(Ws, bs, activation=activation, negative_slope=0.2,
                      regularize_bias=regularize_bias)
    X = rng.standard_normal((7, 4))
    module = net.to_torch()
    assert isinstance(module, torch.nn.Sequential)
    with torch.no_grad():
        pred = module(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(pred, net.predict(X), rtol=0, atol=1e-12)
    assert module.penalty().item() == pytest.approx(net.penalty(), rel=1e-14)
    back = DeepNetwork.from_torch(module)
    assert back.activation == activation and back.regularize_bias == regularize_bias
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def test_plain_sequential_to_deep_network(rng):
    seq = torch.nn.Sequential(torch.nn.Linear(3, 5, dtype=torch.float64), torch.nn.ReLU(),
                              torch.nn.Linear(5, 1, bias=False, dtype=torch.float64))
    X = rng.standard_normal((6, 3))
    net = DeepNetwork.from_torch(seq)
    with torch.no_grad():
        ref = seq(torch.as_tensor(X)).numpy()[:, 0]
    np.testing.assert_allclose(net.predict(X), ref, rtol=0, atol=1e-12)
    # a plain Sequential trains as its MLPModule; the caller's module is left alone
    y = rng.standard_normal(6)
    before = seq[0].weight.detach().clone()
    res = tb.train(seq, X, y, beta=0.1, optimizer="gd", epochs=5, quiet=True)
    assert torch.equal(seq[0].weight, before)
    assert res.objective == pytest.approx(res.network.objective(X, y, beta=0.1), rel=1e-12)
    assert res.objective < net.objective(X, y, beta=0.1)
    with pytest.raises(ValueError, match="unsupported layer"):
        DeepNetwork.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()))


# ---- gradients ------------------------------------------------------------------------------
def _flat_params(net):
    return {k: np.array(getattr(net, k), dtype=float) for k in ("W1", "b1", "W2", "skip", "c0")}


def _numeric_gradient(net, X, y, beta, loss, names, h=1e-6):
    """Central differences of the numpy objective, parameter by parameter."""
    from dataclasses import replace

    grads = {}
    base = _flat_params(net)
    for name in names:
        g = np.zeros_like(base[name])
        for idx in np.ndindex(g.shape):
            vals = []
            for sgn in (1, -1):
                p = base[name].copy()
                p[idx] += sgn * h
                vals.append(replace(net, **{name: p if p.ndim else float(p)}).objective(
                    X, y, beta=beta, loss=loss))
            g[idx] = (vals[0] - vals[1]) / (2 * h)
        grads[name] = g
    return grads


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("bias", BIASES)
def test_autograd_matches_finite_differences(rng, loss, bias):
    net = random_network(rng, d=3, m=4, bias=bias, skip=True, output_bias=True)
    X = rng.standard_normal((10, 3))
    assert np.min(np.abs(net.preactivations(X))) > 1e-3  # no kink within the FD step
    y = rng.standard_normal(10)
    y = np.sign(y) if loss == "logistic" else y
    module = net.to_torch(bias=bias, skip=True, output_bias=True)
    names = [k for k, _ in module.named_parameters()]
    F = torch_objective(module, X, y, 0.3, loss)
    auto = dict(zip(names, (g.numpy() for g in torch.autograd.grad(F, list(module.parameters())))))
    numeric = _numeric_gradient(net, X, y, 0.3, loss, names)
    for name in names:
        np.testing.assert_allclose(auto[name], numeric[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_minibatch_objective_is_unbiased(rng):
    """Average of F_B over all C(6, 2) batches == F, for the value and the gradient."""
    net = random_network(rng, d=2, m=3, bias="regularized", skip=True)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    module = net.to_torch()
    params = list(module.parameters())
    F = torch_objective(module, X, y, 0.5)
    full_grad = torch.autograd.grad(F, params)
    values, grads = [], []
    for B in itertools.combinations(range(6), 2):
        FB = torch_objective(module, X[list(B)], y[list(B)], 0.5, n=6)
        values.append(FB.item())
        grads.append(torch.autograd.grad(FB, params))
    assert np.mean(values) == pytest.approx(net.objective(X, y, beta=0.5), rel=1e-13)
    for k, g in enumerate(full_grad):
        mean = torch.stack([gb[k] for gb in grads]).mean(0)
        np.testing.assert_allclose(mean.numpy(), g.numpy(), rtol=1e-12, atol=1e-13)


def test_one_gd_step_is_explicit_penalized_gradient_step(rng):
    """theta_1 = theta_0 - lr * grad F, grad F by finite differences of the numpy objective:
    the free bias, skip and output bias get no decay; W1, W2 do."""
    net = random_network(rng, d=2, m=3, bias="free", skip=True, output_bias=True)
    X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
    grads = _numeric_gradient(net, X, y, 0.4, "squared", ["W1", "b1", "W2", "skip", "c0"])
    for optimizer in ("gd", "sgd"):
        res = tb.train(net, X, y, beta=0.4, optimizer=optimizer, epochs=1, lr=0.01,
                       batch_size=7, quiet=True)
        for name, g in grads.items():
            np.testing.assert_allclose(getattr(res.network, name),
                                       _flat_params(net)[name] - 0.01 * g, rtol=0, atol=1e-8)


def test_adam_penalty_is_coupled(rng):
    """Adam's first step is -lr * g / (|g| + eps) with g the gradient of loss + penalty."""
    net = random_network(rng, d=2, m=3, bias="regularized")
    X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
    grads = _numeric_gradient(net, X, y, 5.0, "squared", ["W1", "b1", "W2"])
    res = tb.train(net, X, y, beta=5.0, optimizer="adam", epochs=1, lr=1e-3, quiet=True)
    for name, g in grads.items():
        step = -1e-3 * g / (np.abs(g) + 1e-8)
        np.testing.assert_allclose(getattr(res.network, name) - _flat_params(net)[name], step,
                                   rtol=1e-4, atol=1e-9)


# ---- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"optimizer": "adamw"}, "decoupled"),
    ({"optimizer": "AdamW"}, "decoupled"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1.0}, "lr"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 100}, "batch_size"),
    ({"optimizer": "gd", "batch_size": 2}, "full batch"),
    ({"optimizer": "adam", "momentum": 0.9}, "momentum"),
    ({"beta": -1.0}, "beta"),
    ({"loss": "cauchy"}, "loss"),
])
def test_bad_input_raises_value_error(rng, kwargs, match):
    net = random_network(rng, d=2, m=2)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    args = {"beta": 0.1, "epochs": 2, "quiet": True, **kwargs}
    with pytest.raises(ValueError, match=match):
        tb.train(net, X, y, **args)


def test_bad_data_raises(rng):
    net = random_network(rng, d=2, m=2)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X"):
        tb.train(net, X, y, beta=0.1, epochs=1, quiet=True)
    with pytest.raises(ValueError, match="shape"):
        tb.train(net, np.ones((6, 2)), np.ones((6, 2)), beta=0.1, epochs=1, quiet=True)
    with pytest.raises(ValueError, match="features"):
        tb.train(net, np.ones((6, 3)), y, beta=0.1, epochs=1, quiet=True)
    with pytest.raises(ValueError, match="gates"):
        tb.random_module(2, 3, model="gated", gates=np.ones((2, 2)))
    with pytest.raises(ValueError, match="labels"):
        tb.train(net, np.ones((6, 2)), np.arange(6.0), beta=0.1, loss="logistic", epochs=1,
                 quiet=True)


# ---- determinism ----------------------------------------------------------------------------
def test_training_is_deterministic_under_a_seed(rng):
    X, y = rng.standard_normal((12, 2)), rng.standard_normal(12)
    runs = [tb.train(tb.random_module(2, 5, bias="regularized", seed=s), X, y, beta=0.1,
                     optimizer="sgd", batch_size=3, epochs=30, seed=s, quiet=True)
            for s in (7, 7, 8)]
    assert runs[0].history["objective"] == runs[1].history["objective"]
    assert runs[0].history["objective"] != runs[2].history["objective"]
    assert np.array_equal(runs[0].network.W1, runs[1].network.W1)
    # the batch order alone (same init, other seed) changes the SGD path
    m = tb.random_module(2, 5, seed=1)
    a = tb.train(m, X, y, beta=0.1, optimizer="sgd", batch_size=3, epochs=3, seed=1, quiet=True)
    b = tb.train(m, X, y, beta=0.1, optimizer="sgd", batch_size=3, epochs=3, seed=2, quiet=True)
    assert a.objective != b.objective


def test_pattern_count_matches_numpy(rng):
    X = rng.standard_normal((10, 2))
    module = tb.random_module(2, 12, bias="regularized", seed=3)
    net = Network.from_torch(module)
    D = net.activation_patterns(X)
    expected = len({tuple(col) for col in D.T if col.any()})
    assert module.n_patterns(torch.as_tensor(X)) == expected


# ---- convex optimum: weak duality and warm start ---------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    return X, y


@pytest.mark.parametrize("bias", BIASES)
def test_every_optimizer_stays_above_the_exact_optimum(tiny, bias):
    X, y = tiny
    beta = 0.2
    p = convexnn.fit(X, y, beta=beta, bias=bias, patterns="exact").objective
    for optimizer, width in itertools.product(tb.OPTIMIZERS, (2, 8)):
        m = tb.random_module(2, width, bias=bias, seed=width)
        res = tb.train(m, X, y, beta=beta, optimizer=optimizer, epochs=60, optimum=p, quiet=True,
                       bias=bias)
        assert res.history["objective"][-1] < res.history["objective"][0]
        assert min(res.history["objective"]) >= p - 1e-7 * max(1.0, p), (optimizer, width)
        assert res.objective == pytest.approx(res.network.objective(X, y, beta=beta), rel=1e-12)


def test_gated_training_stays_above_the_gated_optimum(tiny):
    X, y = tiny
    fit = convexnn.fit(X, y, beta=0.2, model="gated", bias="regularized", patterns="exact")
    net = fit.network
    m = tb.random_module(2, net.width, model="gated", bias="regularized", gates=net.gates,
                         gate_bias=net.gate_bias, seed=0)
    res = tb.train(m, X, y, beta=0.2, optimizer="adam", epochs=300, optimum=fit.objective,
                   quiet=True)
    assert np.array_equal(res.network.gates, net.gates)  # gates are not trained
    assert min(res.history["objective"]) >= fit.objective - 1e-7


@pytest.mark.parametrize("bias,skip", [("none", False), ("regularized", False), ("free", False),
                                       ("none", True), ("free", True)])
def test_warm_start_at_a_kinked_optimum(tiny, bias, skip):
    """At the recovered optimum, F is stationary in every smooth direction (output weights,
    free terms, the rescaling orbit: THEORY A.1, H); W1 may sit on kinks (data points on a
    neuron's hyperplane), so only a monotone method is guaranteed to stay: L-BFGS."""
    X, y = tiny
    beta = 0.2
    fit = convexnn.fit(X, y, beta=beta, bias=bias, skip=skip, output_bias=skip, patterns="exact")
    module = fit.network.to_torch(bias=bias, skip=skip, output_bias=skip)
    F = torch_objective(module, X, y, beta)
    assert F.item() == pytest.approx(fit.recovered_objective, rel=1e-12)
    g = dict(zip([k for k, _ in module.named_parameters()],
                 torch.autograd.grad(F, list(module.parameters()))))
    tol = 1e-4 * max(1.0, fit.objective)
    for name in ("W2", "skip", "c0"):
        if name in g:
            assert float(g[name].abs().max()) <= tol, name
    radial = (g["W1"] * module.W1.detach()).sum(1) + (g["b1"] * module.b1.detach() if "b1" in g else 0)
    assert float(radial.abs().max()) <= tol
    res = tb.train(fit.network, X, y, beta=beta, optimizer="lbfgs", epochs=20, quiet=True,
                   bias=bias, skip=skip, output_bias=skip)
    assert res.objective == pytest.approx(fit.objective, rel=1e-6)


def planted_smooth_problem():
    """Two teacher neurons, data with margin >= 0.5 from both hyperplanes: the optimum at
    beta = 0.2 is two neurons with no data point on a kink."""
    U, a = np.array([[1.0, 0.3], [-0.4, 1.0]]), np.array([2.0, -1.0])
    X = np.random.default_rng(3).standard_normal((400, 2))
    X = X[np.min(np.abs(X @ U.T), axis=1) > 0.5][:8]
    return X, np.maximum(X @ U.T, 0) @ a, 0.2


def test_warm_start_at_a_smooth_optimum_stays():
    X, y, beta = planted_smooth_problem()
    fit = convexnn.fit(X, y, beta=beta, patterns="exact", bias="none")
    assert np.min(np.abs(fit.network.preactivations(X))) > 0.1  # no kink at the optimum
    module = fit.network.to_torch()
    F = torch_objective(module, X, y, beta)
    grad = torch.cat([g.ravel() for g in torch.autograd.grad(F, list(module.parameters()))])
    assert float(grad.norm()) <= 1e-4
    for optimizer in ("gd", "lbfgs"):
        res = tb.train(fit.network, X, y, beta=beta, optimizer=optimizer, epochs=100, quiet=True)
        assert res.objective == pytest.approx(fit.objective, rel=1e-8, abs=1e-10), optimizer
        assert res.grad_norm <= 1e-4
        np.testing.assert_allclose(res.network.W1, fit.network.W1, atol=1e-5)


def test_deep_training_decreases_and_balances(rng):
    """A 3-layer linear net trained by L-BFGS ends balanced: ||W_l||_F^2 equal across layers
    (THEORY H), and the reported objective is the numpy one."""
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    Ws = [rng.standard_normal((4, 3)) * 0.5, rng.standard_normal((4, 4)) * 0.5,
          rng.standard_normal((1, 4)) * 0.5]
    net = DeepNetwork(Ws, activation="linear")
    res = tb.train(net, X, y, beta=0.5, optimizer="lbfgs", epochs=300, quiet=True)
    out = res.network
    assert isinstance(out, DeepNetwork)
    assert res.objective == pytest.approx(out.objective(X, y, beta=0.5), rel=1e-12)
    assert res.objective < net.objective(X, y, beta=0.5)
    norms = [np.sum(W**2) for W in out.weights]
    assert max(norms) - min(norms) <= 1e-4 * max(norms)


def test_callback_values_join_the_history(rng):
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    m = tb.random_module(2, 3, seed=0)

    def callback(epoch, module):
        assert not torch.is_grad_enabled()
        return {"seen": epoch, "pred0": module(torch.as_tensor(X[:1])).item()}

    res = tb.train(m, X, y, beta=0.1, optimizer="gd", epochs=10, log_every=5, quiet=True,
                   callback=callback)
    assert res.history["seen"] == res.history["epoch"] == [0, 5, 10]
    assert res.history["pred0"][-1] == pytest.approx(res.network.predict(X[:1])[0], rel=1e-12)
    assert res.history["time"] == sorted(res.history["time"]) and res.time == res.history["time"][-1]


def test_train_plain_linear_layer_reaches_ridge_closed_form():
    """A bare ``torch.nn.Linear`` (float32 parameters) trains as the one-layer linear model:
    float64, bias unpenalized, so L-BFGS reaches ridge regression's closed form
    w = (Xc^T Xc + beta I)^{-1} Xc^T yc (centered data) and its objective."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5 + 0.1 * rng.standard_normal(40)
    beta = 0.7
    torch.manual_seed(0)
    res = convexnn.train(torch.nn.Linear(2, 1), X, y, beta=beta, optimizer="lbfgs", epochs=100,
                   quiet=True)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + beta * np.eye(2), Xc.T @ yc)
    b = y.mean() - X.mean(0) @ w
    F = 0.5 * np.sum((X @ w + b - y) ** 2) + 0.5 * beta * w @ w
    assert res.status != "diverged"
    assert res.objective == pytest.approx(F, rel=1e-9)
    assert np.allclose(res.network.weights[0].ravel(), w, atol=1e-6)


def test_train_custom_module_without_numpy_counterpart():
    """A custom module with its own penalty() trains (cast to float64) and returns no
    numpy network instead of failing after training."""
    class Ridge(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x)[:, 0]

        def penalty(self):
            return (self.lin.weight ** 2).sum()

    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 2))
    y = X[:, 0]
    res = convexnn.train(Ridge(), X, y, beta=0.1, optimizer="lbfgs", epochs=50, quiet=True)
    assert res.network is None and np.isfinite(res.objective)
    assert next(res.module.parameters()).dtype == torch.float64
