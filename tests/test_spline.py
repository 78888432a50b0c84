"""Tests of convexnn.spline against independent truth: torch autograd, closed-form root
sets and arrangement counts (Zaslavsky), brute-force sampling, numpy loops."""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations
from math import comb

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from convexnn import DeepNetwork, Network
from convexnn.spline import (
    activation_codes,
    affine_map,
    affine_maps,
    as_layers,
    last_layer_penalty,
    layer_hamming,
    segment_regions,
    slice_regions,
    template_cosines,
    template_penalty,
    templates,
    vq_distance,
    vq_distance_matrix,
)


# ---- fixtures ---------------------------------------------------------------------------
def random_deep(seed: int, sizes: tuple[int, ...], activation: str = "relu") -> DeepNetwork:
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.standard_normal(b) for b in sizes[1:]]
    return DeepNetwork(Ws, bs, activation=activation, negative_slope=0.1)


def one_layer(seed: int, m: int, d: int = 2, *, skip: bool = False, gated: bool = False,
              c: int | None = None) -> Network:
    rng = np.random.default_rng(seed)
    W2 = rng.standard_normal(m) if c is None else rng.standard_normal((m, c))
    skip_shape = (d,) if c is None else (d, c)
    return Network(W1=rng.standard_normal((m, d)), b1=rng.standard_normal(m), W2=W2,
                   skip=rng.standard_normal(skip_shape) if skip else None,
                   c0=0.3 if c is None else 0.3 * np.ones(c),
                   gates=rng.standard_normal((m, d)) if gated else None,
                   gate_bias=rng.standard_normal(m) if gated else None)


def torch_of_network(net: Network):
    """An independent torch implementation of Network.predict (for autograd Jacobians)."""
    W1, b1, W2 = (torch.tensor(a) for a in (net.W1, net.b1, np.atleast_2d(net.W2.T).T))
    skip = torch.tensor(net.skip.reshape(net.input_dim, -1))
    c0 = torch.tensor(np.atleast_1d(net.c0))

    def f(x):
        z = x @ W1.T + b1
        if net.gates is None:
            h = torch.relu(z)
        else:
            g = x.detach() @ torch.tensor(net.gates).T + torch.tensor(net.gate_bias)
            h = (g >= 0).double() * z
        return h @ W2 + x @ skip + c0
    return f


def jacobians(f, X: np.ndarray) -> np.ndarray:
    Xt = torch.tensor(X)
    return torch.func.vmap(torch.func.jacrev(f))(Xt).detach().numpy()


# ---- affine maps --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_affine_map_equals_autograd_for_torch_sequential(seed):
    torch.manual_seed(seed)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 5), nn.LeakyReLU(0.2),
                          nn.Sequential(nn.Linear(5, 5), nn.ReLU()), nn.Linear(5, 4)).double()
    X = np.random.default_rng(seed).standard_normal((50, 3))
    A, b = affine_maps(model, X)
    np.testing.assert_allclose(A, jacobians(model, X), atol=1e-12)
    fX = model(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(np.einsum("ncd,nd->nc", A, X) + b, fX, atol=1e-12)


@pytest.mark.parametrize("skip,gated,c", [(False, False, None), (True, False, None),
                                          (True, True, None), (True, False, 3), (False, True, 2)])
def test_affine_map_of_two_layer_network(skip, gated, c):
    net = one_layer(3, 7, d=4, skip=skip, gated=gated, c=c)
    X = np.random.default_rng(4).standard_normal((40, 4))
    A, b = affine_maps(net, X)
    np.testing.assert_allclose(A, jacobians(torch_of_network(net), X), atol=1e-12)
    fX = net.predict(X).reshape(len(X), -1)
    np.testing.assert_allclose(np.einsum("ncd,nd->nc", A, X) + b, fX, atol=1e-12)
    A0, b0 = affine_map(net, X[0])
    np.testing.assert_allclose(A0 @ X[0] + b0, fX[0], atol=1e-12)
    np.testing.assert_array_equal(templates(net, X[0]), A0)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "linear"])
def test_affine_map_of_deep_network_equals_autograd(activation):
    net = random_deep(5, (3, 8, 8, 2), activation)
    Ws = [torch.tensor(W) for W in net.weights]
    bs = [torch.tensor(b) for b in net.biases]
    sigma = {"relu": torch.relu, "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.1),
             "linear": lambda z: z}[activation]

    def f(x):
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            x = sigma(x @ W.T + b)
        return x @ Ws[-1].T + bs[-1]
    X = np.random.default_rng(6).standard_normal((30, 3))
    A, b = affine_maps(net, X)
    np.testing.assert_allclose(A, jacobians(f, X), atol=1e-12)
    np.testing.assert_allclose(np.einsum("ncd,nd->nc", A, X) + b, net.predict(X).reshape(30, -1),
                               atol=1e-12)
    assert len(activation_codes(net, X)) == (0 if activation == "linear" else 2)


def test_codes_follow_the_theory_convention():
    net = DeepNetwork([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    q = activation_codes(net, [1.0, 0.0])
    np.testing.assert_array_equal(q[0], [True, False])     # q = 1[z > 0]: a tie is off


def test_bad_inputs_raise_named_errors():
    nn = torch.nn
    with pytest.raises(TypeError, match="Tanh"):
        as_layers(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))
    with pytest.raises(TypeError, match="model"):
        as_layers("not a network")
    net = one_layer(0, 3)
    with pytest.raises(ValueError, match="x has 3 features"):
        affine_map(net, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x must be a single input"):
        affine_map(net, np.ones((2, 2)))
    with pytest.raises(ValueError, match="x1"):
        segment_regions(net, [0.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="box"):
        slice_regions(net, box=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="e1 and e2"):
        slice_regions(net, e1=[1.0, 1.0], e2=[2.0, 2.0])
    with pytest.raises(ValueError, match="weights"):
        vq_distance(net, [0.0, 0.0], [1.0, 1.0], weights="mean")
    with pytest.raises(ValueError, match=r"model\[1\]"):
        as_layers([(np.ones((3, 2)), np.zeros(3), "relu"), (np.ones((1, 4)), np.zeros(1), "linear")])


def test_torch_activation_without_linear_gets_an_identity_layer():
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.LeakyReLU(0.3), nn.Linear(4, 1)).double()
    X = np.random.default_rng(0).standard_normal((20, 2))
    A, b = affine_maps(model, X)
    np.testing.assert_allclose(A, jacobians(model, X), atol=1e-12)


def test_import_does_not_import_torch():
    code = ("import sys, convexnn, convexnn.spline, convexnn.plotting.spline; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---- segments ------------------------------------------------------------------------------

def sampled_runs(net, x0, x1, n: int) -> int:
    """Brute force: runs of equal codes among n equally spaced points of the segment."""
    t = np.linspace(0.0, 1.0, n)
    X = x0 + np.outer(t, x1 - x0)
    Q = np.hstack([np.atleast_2d(q) for q in activation_codes(net, X)])
    return 1 + int(np.count_nonzero(np.any(Q[1:] != Q[:-1], axis=1)))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_segment_count_equals_dense_sampling_2_7_7_7_1(seed):
    # THEORY I13: a random 2-7-7-7-1 net, a line through it
    net = random_deep(seed, (2, 7, 7, 7, 1))
    rng = np.random.default_rng(100 + seed)
    x1 = 6 * rng.standard_normal(2)
    x0 = -x1
    seg = segment_regions(net, x0, x1)
    assert seg.n_regions > 10
    assert np.all(np.diff(seg.breakpoints) > 0) and np.all((seg.breakpoints > 0) & (seg.breakpoints < 1))
    assert sampled_runs(net, x0, x1, 2_001) <= seg.n_regions        # a lower bound
    assert sampled_runs(net, x0, x1, 400_001) == seg.n_regions      # exact at fine resolution
    check = seg.check(100_001)
    assert check.n_mismatch == 0
    t = np.random.default_rng(seed).uniform(0, 1, 300)
    np.testing.assert_allclose(seg.evaluate(t)[:, 0], net.predict(seg.points(t)), atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_one_hidden_layer_pieces_are_the_closed_form_roots(seed):
    m = 9
    net = one_layer(seed, m, d=3, skip=True)
    rng = np.random.default_rng(seed)
    x0, x1 = 2 * rng.standard_normal(3), 2 * rng.standard_normal(3)
    # the roots t_k = -(w_k x0 + b_k) / (w_k (x1 - x0)) in (0, 1), in closed form
    t = -(net.W1 @ x0 + net.b1) / (net.W1 @ (x1 - x0))
    roots = np.sort(t[(t > 0) & (t < 1)])
    seg = segment_regions(net, x0, x1)
    np.testing.assert_allclose(seg.breakpoints, roots, rtol=0, atol=1e-12)
    assert seg.n_regions <= m + 1


def test_segment_linear_pieces_merge_dead_units():
    # units with zero output weight split activation regions but not linear pieces
    rng = np.random.default_rng(7)
    W1, b1 = rng.standard_normal((8, 2)), rng.standard_normal(8)
    W2 = np.r_[rng.standard_normal(4), np.zeros(4)]
    net = Network(W1=W1, b1=b1, W2=W2)
    x0, x1 = np.array([-4.0, -3.0]), np.array([4.0, 3.5])
    t = -(W1 @ x0 + b1) / (W1 @ (x1 - x0))
    inside = (t > 0) & (t < 1)
    seg = segment_regions(net, x0, x1)
    assert seg.n_regions == 1 + inside.sum()
    assert seg.n_linear_regions() == 1 + inside[:4].sum()
    assert seg.n_linear_regions(on="input") == 1 + inside[:4].sum()
    np.testing.assert_allclose(seg.linear_breakpoints, np.sort(t[:4][inside[:4]]), atol=1e-12)


# ---- 2-D slices ----------------------------------------------------------------------------

def arrangement_count_in_box(W: np.ndarray, b: np.ndarray, box) -> int:
    """1 + (lines meeting the box) + (pairwise intersections inside it), from the lines."""
    s0, s1, t0, t1 = box
    corners = np.array([[s0, t0], [s1, t0], [s1, t1], [s0, t1]])
    vals = corners @ W.T + b
    L = int(np.sum((vals.max(0) > 0) & (vals.min(0) < 0)))
    I = 0
    for i, j in combinations(range(len(b)), 2):
        p = np.linalg.solve(W[[i, j]], -b[[i, j]])
        I += int(s0 < p[0] < s1 and t0 < p[1] < t1)
    return 1 + L + I


def intersections(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.solve(W[[i, j]], -b[[i, j]]) for i, j in combinations(range(len(b)), 2)])


@pytest.mark.parametrize("seed,gated", [(0, False), (1, False), (2, True), (3, False)])
def test_one_hidden_layer_slice_count_is_one_plus_lines_plus_intersections(seed, gated):
    net = one_layer(seed, 10, skip=True, gated=gated)
    lines_W = net.gates if gated else net.W1
    lines_b = net.gate_bias if gated else net.b1
    box = (-1.5, 1.0, -1.0, 2.0)
    part = slice_regions(net, box=box)
    assert part.n_regions == arrangement_count_in_box(lines_W, lines_b, box)
    # Zaslavsky: m lines in general position cut the plane into sum_{i<=2} C(m, i) regions,
    # all met by a box holding every pairwise intersection
    R = 1.0 + 2 * np.max(np.abs(intersections(lines_W, lines_b)))
    big = slice_regions(net, box=(-R, R, -R, R))
    assert big.n_regions == sum(comb(10, i) for i in range(3))


@pytest.mark.parametrize("delta", [1e-6, 1e-8])
def test_slice_resolves_nearly_coincident_lines(delta):
    # a convex optimum's neurons often share a line through two data points up to solver
    # accuracy: copies of a line turned by delta about a point of the box make slivers
    rng = np.random.default_rng(12)
    W, b = rng.standard_normal((6, 2)), rng.standard_normal(6)
    p = np.array([0.2, -0.1])
    copies = []
    for k, angle in enumerate([delta, -2 * delta]):
        c, s_ = np.cos(angle), np.sin(angle)
        w = np.array([[c, -s_], [s_, c]]) @ W[k]
        copies.append((w, -w @ (p + 0.3 * k)))
    W = np.vstack([W, [w for w, _ in copies]])
    b = np.concatenate([b, [c0 for _, c0 in copies]])
    net = Network(W1=W, b1=b, W2=rng.standard_normal(len(b)))
    box = (-1.0, 1.0, -1.0, 1.0)
    part = slice_regions(net, box=box)
    assert part.n_regions == arrangement_count_in_box(W, b, box)
    assert len({np.concatenate(r.code).tobytes() for r in part.regions}) == part.n_regions
    assert part.n_linear_regions() == part.n_regions
    np.testing.assert_allclose(sum(r.area for r in part.regions), part.box_area, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_slice_codes_stay_distinct_for_lines_through_data_pairs(seed):
    # the lines of a convex optimum (2-D data with a bias) pass through pairs of data points,
    # several neurons per pair, up to solver accuracy: slivers and near-concurrent lines
    rng = np.random.default_rng(seed)
    P = rng.uniform(-1, 1, (5, 2))
    W, b = [], []
    for i, j in combinations(range(5), 2):
        n = np.array([P[i, 1] - P[j, 1], P[j, 0] - P[i, 0]])
        for _ in range(2):
            w = n * rng.uniform(0.5, 2) + 1e-9 * rng.standard_normal(2)
            W.append(w)
            b.append(-w @ P[i] + 1e-9 * rng.standard_normal())
    net = Network(W1=np.array(W), b1=np.array(b), W2=rng.standard_normal(len(b)))
    part = slice_regions(net, box=(-1.5, 1.5, -1.5, 1.5))
    assert len({np.concatenate(r.code).tobytes() for r in part.regions}) == part.n_regions
    np.testing.assert_allclose(sum(r.area for r in part.regions), part.box_area, rtol=1e-12)
    check = part.check(100)
    assert check.ok


def test_slice_of_higher_dimensional_input():
    rng = np.random.default_rng(11)
    m, d = 7, 5
    net = Network(W1=rng.standard_normal((m, d)), b1=rng.standard_normal(m),
                  W2=rng.standard_normal(m))
    x0, e1, e2 = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal(d)
    box = (-2.0, 2.0, -2.0, 2.0)
    part = slice_regions(net, x0, e1, e2, box=box)
    # the neuron lines in the (s, t) plane: (w.e1) s + (w.e2) t + (w.x0 + b) = 0
    W = np.column_stack([net.W1 @ e1, net.W1 @ e2])
    assert part.n_regions == arrangement_count_in_box(W, net.W1 @ x0 + net.b1, box)


@pytest.mark.parametrize("sizes", [(2, 8, 8, 1), (2, 6, 6, 6, 3)])
def test_slice_polygons_tile_the_box_and_reproduce_f(sizes):
    net = random_deep(21, sizes)
    box = (-2.0, 2.0, -1.5, 2.5)
    part = slice_regions(net, box=box)
    areas = np.array([r.area for r in part.regions])
    assert np.all(areas > 0)
    np.testing.assert_allclose(areas.sum(), part.box_area, rtol=1e-12)
    C = np.array([r.centroid for r in part.regions])
    fC = net.predict(C).reshape(len(C), -1)
    np.testing.assert_allclose(np.vstack([r(c) for r, c in zip(part.regions, C, strict=True)]),
                               fC, atol=1e-10)
    codes = activation_codes(net, C)
    for i, r in enumerate(part.regions):
        assert all(np.array_equal(q[i], rq) for q, rq in zip(codes, r.code, strict=True))
    # the full codes of distinct regions are distinct
    assert len({np.concatenate(r.code).tobytes() for r in part.regions}) == part.n_regions
    check = part.check(150)
    assert check.n_mismatch == 0 and check.n_unlocated == 0
    assert check.n_sampled_regions <= part.n_regions


def test_slice_linear_regions_merge_dead_units():
    rng = np.random.default_rng(8)
    W1, b1 = rng.standard_normal((7, 2)), rng.standard_normal(7)
    net = Network(W1=W1, b1=b1, W2=np.r_[rng.standard_normal(4), np.zeros(3)])
    R = 1.0 + 2 * np.max(np.abs(intersections(W1, b1)))
    big = slice_regions(net, box=(-R, R, -R, R))
    assert big.n_regions == sum(comb(7, i) for i in range(3))
    assert big.n_linear_regions() == sum(comb(4, i) for i in range(3))
    groups = big.linear_regions()
    assert sorted(i for g in groups for i in g) == list(range(big.n_regions))


def test_decision_boundary_segments_lie_on_the_boundary():
    net = random_deep(2, (2, 8, 8, 1))
    part = slice_regions(net, box=(-2, 2, -2, 2))
    level = float(np.median(net.predict(np.random.default_rng(0).uniform(-2, 2, (200, 2)))))
    segs = part.decision_boundary(level=level)
    assert segs
    P = np.vstack(segs)
    np.testing.assert_allclose(net.predict(P), level, atol=1e-9)
    net3 = random_deep(3, (2, 8, 8, 3))
    part3 = slice_regions(net3, box=(-2, 2, -2, 2))
    for seg in part3.decision_boundary():
        F = net3.predict(np.vstack([seg, seg.mean(0, keepdims=True)]))
        top2 = np.sort(F, axis=1)[:, -2:]
        np.testing.assert_allclose(top2[:, 0], top2[:, 1], atol=1e-9)


# ---- VQ distance ---------------------------------------------------------------------------

VQ_NET = random_deep(9, (2, 6, 5, 1))
points = arrays(np.float64, 2, elements=st.floats(-3, 3, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(points, points, points, st.sampled_from(["unit", "width"]))
def test_vq_distance_is_a_pseudometric(x, y, z, weights):
    d = lambda a, b: vq_distance(VQ_NET, a, b, weights=weights)  # noqa: E731
    assert d(x, x) == 0.0
    assert d(x, y) == d(y, x) >= 0.0
    assert d(x, z) <= d(x, y) + d(y, z) + 1e-12


def test_vq_distance_is_zero_exactly_within_a_region():
    net = VQ_NET
    rng = np.random.default_rng(3)
    x0, x1 = 3 * rng.standard_normal(2), 3 * rng.standard_normal(2)
    seg = segment_regions(net, x0, x1)
    mids = np.array([(p.t0 + p.t1) / 2 for p in seg.pieces])
    X = seg.points(mids)
    D = vq_distance_matrix(net, X)
    assert np.all(np.diag(D) == 0) and np.all(D[~np.eye(len(X), dtype=bool)] > 0)
    # invariant to moves that stay inside a region
    for p in seg.pieces:
        a, b = seg.points([p.t0 + 0.1 * (p.t1 - p.t0), p.t1 - 0.1 * (p.t1 - p.t0)])
        assert vq_distance(net, a, b) == 0.0
    # the weights: w_l = 1 counts units, w_l = 1/D_l averages per layer
    H = layer_hamming(net, X[:-1], X[1:])
    np.testing.assert_array_equal(vq_distance(net, X[:-1], X[1:]), H.sum(1))
    np.testing.assert_allclose(vq_distance(net, X[:-1], X[1:], weights="width"), H @ [1 / 6, 1 / 5])
    np.testing.assert_allclose(vq_distance_matrix(net, X, weights="width")[0, 1:],
                               vq_distance(net, np.repeat(X[:1], len(X) - 1, 0), X[1:], weights="width"))


# ---- templates and penalties ---------------------------------------------------------------

def test_template_penalty_equals_numpy_loops():
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),
                          nn.Linear(10, 3)).double()
    X = np.random.default_rng(1).standard_normal((25, 2))
    P = template_penalty(model, torch.tensor(X))
    A, _ = affine_maps(model, X)                  # explicit product, not autograd
    ref = np.mean([sum(float(A[i, c] @ A[i, k]) ** 2 for c in range(3) for k in range(3) if c != k)
                   for i in range(len(X))])
    assert abs(P.item() - ref) <= 1e-10 * ref
    P.backward()
    assert model[0].weight.grad is not None and float(model[0].weight.grad.abs().sum()) > 0
    W = model[-1].weight.detach().numpy()
    refW = sum(float(W[c] @ W[k]) ** 2 for c in range(3) for k in range(3) if c != k)
    assert abs(last_layer_penalty(model).item() - refW) <= 1e-12 * refW
    assert abs(last_layer_penalty(W) - refW) <= 1e-12 * refW
    cos = template_cosines(model, X)
    live = np.linalg.norm(A, axis=2) > 0             # a dead region has zero templates
    np.testing.assert_allclose(np.diagonal(cos, 0, 1, 2), live.astype(float))
    i = 4
    np.testing.assert_allclose(cos[i, 0, 1], A[i, 0] @ A[i, 1] / np.linalg.norm(A[i, 0]) / np.linalg.norm(A[i, 1]))


# ---- plots ---------------------------------------------------------------------------------

def test_plots_draw_partition_and_pieces(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.spline import plot_partition, plot_pieces
    net = random_deep(1, (2, 6, 6, 1))
    part = slice_regions(net, box=(-2, 2, -2, 2))
    fig, axes = plt.subplots(1, 3)
    plot_partition(part, axes[0])
    plot_partition(part, axes[1], color_by="linear", points=[[0, 0], [1, 1]], labels=[0, 1])
    one_d = one_layer(0, 5, d=1)
    plot_pieces(segment_regions(one_d, [-3.0], [3.0]), axes[2], merge=True)
    assert len(axes[0].collections) == 2          # polygons and decision boundary
    assert len(axes[2].lines) >= 2
    fig.savefig(tmp_path / "spline.png")
    plt.close(fig)
    with pytest.raises(ValueError, match="color_by"):
        plot_partition(part, color_by="nope")
