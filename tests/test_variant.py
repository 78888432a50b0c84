"""convexnn.core.variant: the one validation of model / bias / skip / output bias, and the lifted
data and free terms it defines (against hand-built matrices)."""

from dataclasses import replace

import numpy as np
import pytest
from problems import VARIANTS

from convexnn.core.variant import BIASES, MODELS, Variant


def test_grid_is_every_valid_variant():
    assert len(VARIANTS) == len(MODELS) * len(BIASES) * 4 - 4  # gated + free bias refused
    assert all(not (m == "gated" and b == "free") for (m, b, _, _) in VARIANTS)


@pytest.mark.parametrize("kw,match", [(dict(model="tanh"), "model"), (dict(bias="yes"), "bias"),
                                      (dict(model="gated", bias="free"), "degenerate")])
def test_bad_variants_raise_named_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        Variant(**kw)


@pytest.mark.parametrize("model,bias,skip,output_bias", VARIANTS)
def test_lift_and_free_terms(model, bias, skip, output_bias, rng):
    X = rng.standard_normal((5, 3))
    v = Variant(model, bias, skip, output_bias)
    Xt, free = v.lift(X)
    expected = X if bias == "none" else np.hstack([X, np.ones((5, 1))])
    np.testing.assert_array_equal(Xt, expected)
    np.testing.assert_array_equal(free, [False] * 3 + ([bias == "free"] if bias != "none" else []))
    # a free hidden bias brings the free output constant (stored as output_bias=False)
    assert v.output_bias == (output_bias and bias != "free")
    assert v.has_free_constant == (output_bias or bias == "free")
    cols = ([X] if skip else []) + ([np.ones((5, 1))] if v.has_free_constant else [])
    F = v.free_basis(X)
    if cols:
        np.testing.assert_array_equal(F, np.hstack(cols))
    else:
        assert F is None
    assert v.has_cone_rows == (model == "relu")


def test_network_records_its_variant_and_torch_keeps_a_zero_free_bias():
    """A fitted network records its Variant (saved and loaded with it); the torch module
    built from it keeps a free hidden bias trainable even where every b1 is zero, which
    inference from the weights alone ("free" only if some b1 != 0) would lose."""
    import convexnn as cn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = X[:, 0] - np.abs(X[:, 1])
    res = cn.fit(X, y, beta=0.5, bias="free", skip=True, patterns="exact", certify=False)
    v = res.network.variant
    assert (v.model, v.bias, v.skip) == ("relu", "free", True)
    net = replace(res.network, b1=np.zeros_like(res.network.b1))
    module = net.to_torch()
    assert module.bias == "free" and module.skip is not None
    plain = replace(net, training={}, meta={})
    assert plain.variant is None and plain.to_torch().bias == "none"


def test_network_variant_survives_save_and_load(tmp_path):
    import convexnn as cn

    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 2))
    res = cn.fit(X, X[:, 0], beta=0.3, bias="regularized", output_bias=True,
                 patterns="exact", certify=False)
    path = tmp_path / "net.npz"
    res.network.save(path)
    assert cn.Network.load(path).variant == res.network.variant
