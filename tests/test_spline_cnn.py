"""The spline view of CNNs (THEORY G) against independent truth: torch's forward pass
(convolution and pooling matrices, max-pool indices), torch autograd (affine maps),
dense sampling of codes (segments and slices), numpy loops (VQ distance, penalties)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from convexnn.spline import (
    Abs,
    Residual,
    activation_codes,
    affine_maps,
    as_layers,
    input_jacobians,
    segment_regions,
    slice_regions,
    template_penalty,
    vq_distance,
    vq_distance_matrix,
)
from convexnn.spline.conv_matrices import avgpool_matrix, conv_matrix


# ---- fixtures ---------------------------------------------------------------------------
def cnn(kind: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    """Small float64 CNNs in eval mode, with their input shape."""
    torch.manual_seed(seed)
    if kind == "conv_max_avg":
        model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(3, 4, 2, stride=1), nn.LeakyReLU(0.2),
                              nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(4, 3))
        shape = (1, 6, 6)
    elif kind == "residual_abs_bn":
        model = nn.Sequential(
            nn.Conv2d(2, 3, 3, padding="same", dilation=2), nn.BatchNorm2d(3), nn.ReLU(),
            Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, groups=3), Abs(),
                                   nn.Conv2d(3, 3, 1))),
            nn.MaxPool2d(3, stride=2, padding=1), nn.Flatten(), nn.Linear(3 * 3 * 3, 4))
        shape = (2, 5, 5)
    elif kind == "conv1d":
        model = nn.Sequential(nn.Conv1d(2, 3, 3, stride=2, padding=1), nn.ReLU(),
                              nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6, 5), nn.ReLU(),
                              nn.Dropout(0.5), nn.Linear(5, 2))
        shape = (2, 8)
    elif kind == "residual_mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(),
                              Residual(nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 5))),
                              nn.ReLU(), nn.Linear(5, 2))
        shape = (1, 2, 3)
    else:
        raise ValueError(kind)
    model = model.double().eval()
    with torch.no_grad():                          # batch norm with non-trivial statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return model, shape


KINDS = ["conv_max_avg", "residual_abs_bn", "conv1d", "residual_mlp"]


def autograd_jacobians(model: nn.Module, X: np.ndarray) -> np.ndarray:
    Xt = torch.tensor(X)
    J = torch.func.vmap(torch.func.jacrev(lambda x: model(x[None])[0]))(Xt)
    return J.detach().reshape(len(X), J.shape[1], -1).numpy()


def sampled_runs(stack, x0: np.ndarray, x1: np.ndarray, n: int) -> int:
    """Brute force: runs of equal codes among n equally spaced points of the segment."""
    t = np.linspace(0.0, 1.0, n)
    _, codes = stack.forward(x0 + np.outer(t, x1 - x0))
    Q = np.hstack(codes)
    return 1 + int(np.count_nonzero(np.any(Q[1:] != Q[:-1], axis=1)))


# ---- matrices of convolutions and poolings ----------------------------------------------

@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("cin,cout,k,s,p,dil,g,shape", [
    (2, 4, 3, 1, 1, 1, 1, (7, 6)), (4, 6, (3, 2), 2, (1, 0), (2, 1), 2, (9, 8)),
    (3, 3, 2, 1, 0, 1, 3, (5, 5)), (2, 2, 4, 1, "same", 1, 1, (6, 5)),
])
def test_conv_matrix_equals_torch_convolution(cin, cout, k, s, p, dil, g, shape):
    torch.manual_seed(1)
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=dil, groups=g).double()
    stack = as_layers(conv, input_shape=(cin, *shape))
    X = torch.randn(4, cin, *shape, dtype=torch.float64)
    Y = conv(X).detach().numpy().reshape(4, -1)
    layer = stack.layers[0]
    np.testing.assert_allclose(X.numpy().reshape(4, -1) @ layer.W.T + layer.b, Y, atol=1e-13)


def test_pool_and_conv1d_matrices_equal_torch():
    X = torch.randn(3, 2, 7, 6, dtype=torch.float64)
    for pool in (nn.AvgPool2d(3, 2, padding=1), nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
                 nn.AvgPool2d(2, 1, divisor_override=3)):
        M, _ = avgpool_matrix((2, 7, 6), kernel=pool.kernel_size if isinstance(pool.kernel_size, tuple)
                              else (pool.kernel_size,) * 2, stride=(pool.stride,) * 2,
                              padding=[(pool.padding, pool.padding)] * 2,
                              count_include_pad=pool.count_include_pad, divisor=pool.divisor_override)
        np.testing.assert_allclose(X.numpy().reshape(3, -1) @ M.T, pool(X).numpy().reshape(3, -1), atol=1e-14)
    conv = nn.Conv1d(3, 2, 3, stride=2, padding=2, dilation=2).double()
    W, b, out = conv_matrix(conv.weight.detach().numpy(), conv.bias.detach().numpy(), (3, 9),
                            stride=(2,), padding=[(2, 2)], dilation=(2,))
    x = torch.randn(5, 3, 9, dtype=torch.float64)
    np.testing.assert_allclose(x.numpy().reshape(5, -1) @ W.T + b,
                               conv(x).detach().numpy().reshape(5, -1), atol=1e-13)
    assert out == tuple(conv(x).shape[1:])


def test_maxpool_codes_are_torch_argmax_indices():
    pool = nn.MaxPool2d(3, stride=2, padding=1)
    stack = as_layers(pool, input_shape=(2, 7, 6))
    X = torch.randn(6, 2, 7, 6, dtype=torch.float64)
    out, idx = nn.functional.max_pool2d(X, 3, 2, 1, return_indices=True)
    (q,) = activation_codes(stack, X.numpy())
    op = stack.layers[0]
    chosen = op.selected(q) % (7 * 6)                 # flat spatial index, as torch's
    np.testing.assert_array_equal(chosen, idx.numpy().reshape(6, -1))
    H, _ = stack.forward(X.numpy().reshape(6, -1))
    np.testing.assert_array_equal(H, out.numpy().reshape(6, -1))


# ---- affine maps --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_cnn_affine_map_equals_autograd_and_reproduces_output(kind, seed):
    model, shape = cnn(kind, seed)
    stack = as_layers(model, input_shape=shape)
    X = np.random.default_rng(seed).standard_normal((25, *shape))
    A, b = affine_maps(stack, X)
    np.testing.assert_allclose(A, autograd_jacobians(model, X), rtol=0, atol=1e-10)
    fX = model(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(np.einsum("ncd,nd->nc", A, X.reshape(25, -1)) + b, fX, rtol=0, atol=1e-10)
    # the same map from input_jacobians (autograd, batched as in the penalty)
    np.testing.assert_allclose(input_jacobians(model, torch.tensor(X)).detach().numpy(), A, atol=1e-10)


def test_template_argmax_is_the_network_prediction():
    model, shape = cnn("residual_abs_bn", 3)
    stack = as_layers(model, input_shape=shape)
    X = np.random.default_rng(3).standard_normal((200, *shape))
    A, b = affine_maps(stack, X)
    scores = np.einsum("ncd,nd->nc", A, X.reshape(200, -1)) + b       # <A[x]_c, x> + b[x]_c
    pred = model(torch.tensor(X)).detach().numpy().argmax(1)
    np.testing.assert_array_equal(scores.argmax(1), pred)
    assert len(np.unique(pred)) > 1


# ---- segments ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_cnn_segment_count_equals_dense_sampling(kind):
    model, shape = cnn(kind, 4)
    stack = as_layers(model, input_shape=shape)
    rng = np.random.default_rng(5)
    x0, x1 = rng.standard_normal(shape), rng.standard_normal(shape)
    seg = segment_regions(stack, x0, x1)
    assert seg.n_regions > 5
    assert sampled_runs(stack, x0.ravel(), x1.ravel(), 1_001) <= seg.n_regions
    # every piece is longer than 4 sample spacings, so fine sampling must see them all
    assert min(p.t1 - p.t0 for p in seg.pieces) > 1e-4
    assert sampled_runs(stack, x0.ravel(), x1.ravel(), 40_001) == seg.n_regions
    assert seg.check(20_001).n_mismatch == 0
    t = rng.uniform(0, 1, 200)
    f = model(torch.tensor(seg.points(t).reshape(200, *shape))).detach().numpy()
    np.testing.assert_allclose(seg.evaluate(t), f, atol=1e-10)
    for p in seg.pieces[::7]:                        # input-space maps of the pieces
        x = seg.points([(p.t0 + p.t1) / 2])
        np.testing.assert_allclose(p.A @ x[0] + p.b, stack.forward(x)[0][0], atol=1e-10)


def test_segment_from_a_blank_image_ties_only_at_its_end():
    # from x0 = 0 every max-pool window holds equal entries (relu of the bias): a tie at
    # t = 0 only, which the exact pieces and the interior samples of check() both ignore
    model, shape = cnn("conv_max_avg", 6)
    stack = as_layers(model, input_shape=shape)
    x1 = np.random.default_rng(6).standard_normal(shape)
    seg = segment_regions(stack, np.zeros(shape), x1)
    _, codes = stack.forward(np.zeros((1, 36)))
    assert np.all(codes[1] == 0)                       # the tie-break at t = 0: first entry
    assert np.any(seg.pieces[0].code[1] != 0)          # just after 0 the ties are broken
    check = seg.check(40_001)
    assert check.n_mismatch == 0 and check.n_sampled_regions == seg.n_regions


def test_maxpool_breakpoints_are_the_envelope_switches():
    # one window of 4 affine functions of t: the argmax switches exactly where the upper
    # envelope changes piece, found here by a fine grid
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((4, 1)), rng.standard_normal(4)
    lin = nn.Linear(1, 4).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(W))
        lin.bias.copy_(torch.tensor(b))
    model = nn.Sequential(lin, nn.Unflatten(1, (1, 4)), nn.MaxPool1d(4))
    seg = segment_regions(as_layers(model), [-5.0], [5.0])
    t = np.linspace(0, 1, 1_000_001)
    arg = np.argmax(b + np.outer(-5 + 10 * t, W[:, 0]), axis=1)
    switches = t[1:][arg[1:] != arg[:-1]]
    np.testing.assert_allclose(seg.breakpoints, switches, atol=2e-6)
    assert 1 <= seg.n_regions - 1 <= 3


# ---- 2-D slices ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["conv_avg", "conv_max", "residual_abs_bn"])
def test_cnn_slice_tiles_box_and_matches_grid_codes(kind):
    torch.manual_seed(7)
    if kind == "residual_abs_bn":
        model, shape = cnn(kind, 7)
    else:
        pool = nn.AvgPool2d(2) if kind == "conv_avg" else nn.MaxPool2d(2)
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), pool, nn.Flatten(),
                              nn.Linear(2 * 2 * 2, 3)).double().eval()
        shape = (1, 6, 6)
    stack = as_layers(model, input_shape=shape)
    rng = np.random.default_rng(8)
    x0, e1, e2 = (rng.standard_normal(shape) for _ in range(3))
    box = (-0.3, 0.3, -0.3, 0.3)
    part = slice_regions(stack, x0, e1, e2, box=box)
    areas = np.array([r.area for r in part.regions])
    assert part.n_regions > 5 and np.all(areas > 0)
    np.testing.assert_allclose(areas.sum(), part.box_area, rtol=1e-10)
    assert len({np.concatenate(r.code).tobytes() for r in part.regions}) == part.n_regions
    C = np.array([r.centroid for r in part.regions])
    F, codes = stack.forward(part.points(C))
    np.testing.assert_allclose(np.vstack([r(c) for r, c in zip(part.regions, C, strict=True)]), F, atol=1e-10)
    for i, r in enumerate(part.regions):
        assert all(np.array_equal(q[i], rq) for q, rq in zip(codes, r.code, strict=True))
        np.testing.assert_allclose(r.A @ part.points(C[i])[0] + r.b, F[i], atol=1e-10)
    check = part.check(100)
    assert check.n_mismatch == 0 and check.n_unlocated == 0
    assert check.n_sampled_regions <= part.n_regions
    if kind != "residual_abs_bn":       # few regions: a 300 x 300 grid meets every one
        g = np.linspace(-0.3, 0.3, 300)
        S, T = np.meshgrid(g, g)
        _, grid_codes = stack.forward(part.points(np.column_stack([S.ravel(), T.ravel()])))
        Q = np.ascontiguousarray(np.hstack(grid_codes).astype(np.int8))
        assert len(np.unique(Q.view(np.dtype((np.void, Q.shape[1]))))) == part.n_regions


def test_maxpool_slice_of_an_upper_envelope_counts_its_pieces():
    # f(x) = max_r (w_r . x + b_r) on the plane: one region per affine function that is
    # the maximum somewhere in the box, counted here on a fine grid
    rng = np.random.default_rng(4)
    W, b = rng.standard_normal((6, 2)), 0.5 * rng.standard_normal(6)
    triples = [(W, b, "linear")]
    lin = nn.Linear(2, 6).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(W))
        lin.bias.copy_(torch.tensor(b))
    model = nn.Sequential(lin, nn.Unflatten(1, (1, 6)), nn.MaxPool1d(6))
    part = slice_regions(as_layers(model), box=(-2, 2, -2, 2))
    g = np.linspace(-2, 2, 801)
    S, T = np.meshgrid(g, g)
    P = np.column_stack([S.ravel(), T.ravel()])
    winners = np.unique(np.argmax(P @ W.T + b, axis=1))
    assert part.n_regions == len(winners)
    assert sorted(int(r.code[0][0]) for r in part.regions) == sorted(winners.tolist())
    assert as_layers(triples).n_outputs == 6


# ---- VQ distance -------------------------------------------------------------------------

VQ_MODEL, VQ_SHAPE = cnn("conv_max_avg", 9)
VQ_STACK = as_layers(VQ_MODEL, input_shape=VQ_SHAPE)
images = arrays(np.float64, VQ_SHAPE, elements=st.floats(-3, 3, allow_nan=False))


@settings(max_examples=40, deadline=None)
@given(images, images, images, st.sampled_from(["unit", "width"]))
def test_cnn_vq_distance_is_a_pseudometric(x, y, z, weights):
    d = lambda a, b: vq_distance(VQ_STACK, a, b, weights=weights)  # noqa: E731
    assert d(x, x) == 0.0
    assert d(x, y) == d(y, x) >= 0.0
    assert d(x, z) <= d(x, y) + d(y, z) + 1e-12


def test_cnn_vq_distance_counts_code_changes_and_vanishes_within_regions():
    rng = np.random.default_rng(3)
    x0, x1 = rng.standard_normal(VQ_SHAPE), rng.standard_normal(VQ_SHAPE)
    seg = segment_regions(VQ_STACK, x0, x1)
    X = seg.points([(p.t0 + p.t1) / 2 for p in seg.pieces])
    D = vq_distance_matrix(VQ_STACK, X)
    assert np.all(np.diag(D) == 0) and np.all(D[~np.eye(len(X), dtype=bool)] > 0)
    for p in seg.pieces[::5]:
        a, b = seg.points([p.t0 + 0.1 * (p.t1 - p.t0), p.t1 - 0.1 * (p.t1 - p.t0)])
        assert vq_distance(VQ_STACK, a, b) == 0.0
    # naive loop over units, max-pool argmax codes included
    _, codes = VQ_STACK.forward(X)
    sizes = VQ_STACK.code_sizes
    for weights, w in (("unit", np.ones(len(sizes))), ("width", 1.0 / np.array(sizes))):
        ref = np.array([[sum(wl * np.sum(q[i] != q[j]) for wl, q in zip(w, codes, strict=True))
                         for j in range(len(X))] for i in range(len(X))])
        np.testing.assert_allclose(vq_distance_matrix(VQ_STACK, X, weights=weights), ref, atol=1e-12)
    assert codes[1].dtype.kind == "i" and codes[1].max() > 1      # argmax positions 0..3


# ---- penalties and training --------------------------------------------------------------

def test_template_penalty_of_a_cnn_equals_numpy_loops():
    model, shape = cnn("conv_max_avg", 2)
    X = np.random.default_rng(1).standard_normal((12, *shape))
    P = template_penalty(model, torch.tensor(X))
    A, _ = affine_maps(as_layers(model, input_shape=shape), X)      # explicit product
    ref = np.mean([sum(float(A[i, c] @ A[i, k]) ** 2 for c in range(3) for k in range(3) if c != k)
                   for i in range(len(X))])
    assert abs(P.item() - ref) <= 1e-10 * ref
    model[0].train()
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(32, 2)).double()
    with pytest.raises(ValueError, match="BatchNorm2d in training mode"):
        template_penalty(bn, torch.zeros(3, 1, 6, 6, dtype=torch.float64))


def test_train_classifier_is_seeded_and_the_penalty_acts():
    from convexnn.spline import digits_cnn, digits_images, train_classifier
    from convexnn.spline.penalties import last_layer_penalty

    X, y, _, _ = digits_images(45, seed=0, classes=[3, 5, 8])
    assert set(np.unique(y)) == {0, 1, 2} and X.shape[1:] == (1, 8, 8)
    runs = [train_classifier(digits_cnn(1, n_classes=3), X, y, epochs=4, batch_size=15, seed=2)
            for _ in range(2)]
    for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters(), strict=True):
        assert torch.equal(p, q)
    pen = train_classifier(digits_cnn(1, n_classes=3), X, y, epochs=4, batch_size=15, seed=2,
                           penalty="last_layer", lam=100.0)
    assert last_layer_penalty(pen.model).item() < 0.1 * last_layer_penalty(runs[0].model).item()
    tmp = train_classifier(digits_cnn(1, n_classes=3), X, y, epochs=2, batch_size=15,
                           penalty="template", lam=1e-3)
    assert len(tmp.penalty) == 2 and tmp.penalty[0] > 0


# ---- errors --------------------------------------------------------------------------------

def test_unsupported_cnn_layers_raise_named_errors():
    with pytest.raises(TypeError, match=r"'1'.*Tanh.*nn.Conv2d"):
        as_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh()), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="input_shape"):
        as_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    with pytest.raises(ValueError, match="Flatten"):
        as_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(3, 2)), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="eval"):
        as_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="ceil_mode"):
        as_layers(nn.MaxPool2d(2, ceil_mode=True), input_shape=(1, 5, 5))
    with pytest.raises(TypeError, match="padding_mode"):
        as_layers(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        as_layers(nn.Conv2d(1, 1, 3), input_shape=(1, 5))
    with pytest.raises(ValueError, match="equal shapes"):
        as_layers(Residual(nn.Conv2d(1, 2, 3)), input_shape=(1, 5, 5))
    with pytest.raises(TypeError, match="training mode"):
        as_layers(nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.Dropout()))
    stack = as_layers(nn.Conv2d(1, 1, 3), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match=r"x0 must be one input of shape \(25,\) or \(1, 5, 5\)"):
        segment_regions(stack, np.zeros((2, 1, 5, 5)), np.zeros((1, 5, 5)))
