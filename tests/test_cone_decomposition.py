"""Cone decomposition (THEORY B): same predictions, bounds in the right order."""

import numpy as np
import pytest

import convexnn as cn


@pytest.mark.parametrize("bias", ["none", "regularized"])
def test_decomposition_bounds_and_predictions(rng, bias):
    X, y = rng.standard_normal((9, 2)), rng.standard_normal(9)
    gated = cn.fit(X, y, beta=0.2, model="gated", bias=bias, patterns="exact", certify=False)
    relu = cn.fit(X, y, beta=0.2, model="relu", bias=bias, patterns="exact", certify=False)
    dec = cn.cone_decomposition(gated)
    # identical training predictions
    assert dec.max_prediction_change < 1e-6 * max(1.0, np.abs(y).max())
    assert np.allclose(dec.network.predict(X), gated.network.predict(X), atol=1e-6)
    # p_gated <= p_relu <= objective of the decomposed (feasible) ReLU network
    assert dec.gated_objective == pytest.approx(gated.objective, rel=1e-9)
    assert gated.objective <= relu.objective + 1e-7
    assert relu.objective <= dec.relu_objective + 1e-7
    assert dec.network.activation == "relu"


def test_decomposition_needs_gated_fit(rng):
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    with pytest.raises(ValueError, match="gated"):
        cn.cone_decomposition(cn.fit(X, y, beta=0.2, certify=False, bias="none"))
