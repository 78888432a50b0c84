"""The library-of-mirrors notebooks' printed values against the certified deep 1-D optimum.

Reference values are the printed outputs of pilancilab/1d-convex-nn, codeForFigs/Fig18.ipynb
(Lasso, "bounce"), Fig19.ipynb (Lasso "zshape"; Adam, L = 4) and Fig2.ipynb (Adam, L = 4),
all at beta = 1e-8 (printed "optimal objective" = p*, so p*/beta is the cost).  Where the
notebooks agree with the certified optimum the test reproduces them; where they do not, the
test proves by exact LP duality that the printed value is not the optimum of the stated
program, and exhibits the printed point.
"""

import numpy as np
import pytest
import torch
from torch import nn

from convexnn.deep_1d.interpolation import (
    fit_on_features,
    min_cost_interpolation,
    notebook_feature,
    split_trunk,
)
from convexnn.deep_1d.program import lasso_deep_1d

ZSHAPE = ([0.0, 2, 6, 7], [0.0, 0, 3, 3])
BOUNCE = ([0.0, 2, 6, 7], [0.0, 0, 3, 7])
BETA_NB = 1e-8
#: printed "optimal objective" / beta (Fig18: bounce L = 2, 3, 4; Fig19: zshape L = 3, 4)
PRINTED = {("bounce", 2): 4e-08, ("bounce", 3): 4.0000000374258676e-08, ("bounce", 4): 9e-08,
           ("zshape", 3): 1.4999999949889037e-08, ("zshape", 4): 3.0000000000000004e-08}
#: Fig2/Fig19, L = 4, zshape: Adam's first loss, final objective, "kink" (f first within 1e-2 of 3)
ADAM_FIRST_LOSS, ADAM_OBJECTIVE, ADAM_KINK = 0.1711832, 4.832638259166235e-08, 4.248748748748748
#: Fig2 right: x_1 moved to -1, 15000 epochs, same initialization (breakpoint 4)
ADAM_KINK_RIGHT = 5.085585585585585


@pytest.mark.parametrize("name,depth", sorted(PRINTED))
def test_printed_lasso_values_against_certified_optimum(name, depth):
    """c* = min ||z||_1 s.t. Az + xi = y (LP, certified by its dual) equals the Lasso's
    p/beta at beta = 1e-8; the printed value agrees for bounce L = 2, 3 and is strictly
    above c* (not the optimum of the stated program) for bounce L = 4 and zshape L = 3, 4."""
    x, y = ZSHAPE if name == "zshape" else BOUNCE
    lp = min_cost_interpolation(x, y, depth=depth)
    assert lp.certified
    ours = lasso_deep_1d(x, y, beta=BETA_NB, depth=depth).objective / BETA_NB
    assert ours == pytest.approx(lp.cost, rel=1e-4)
    printed = PRINTED[name, depth] / BETA_NB
    if (name, depth) in (("bounce", 2), ("bounce", 3)):
        assert printed == pytest.approx(lp.cost, rel=1e-6)  # reproduced: 4.0
    else:
        assert printed > lp.lower_bound * 1.9  # 9 vs 4, 1.5 vs 0.75, 3 vs 0.75


def test_printed_bounce_depth4_support_is_a_cost_9_interpolant():
    """Fig18, L = 4 prints the support (s, j, k) = ([1,1,1], [2,2,3], 1), ([1,1,1], [3,2,3], 1):
    reflection features with first breakpoints 2*2 - 2 = 2 and 2*2 - 0 = 4.  They interpolate
    bounce exactly with z = (-2.5, 6.5): cost 9 = the printed 9e-08 / beta, while the
    certified optimum over the same dictionary is 4 (the L = 2 ramps at 2 and 6)."""
    x, y = BOUNCE
    S1, B1 = notebook_feature(x, [1, 1, 1], [2, 2, 3], 1)
    S2, B2 = notebook_feature(x, [1, 1, 1], [3, 2, 3], 1)
    assert B1[0, 0] == 2.0 and B2[0, 0] == 4.0
    z, xi, res, cost = fit_on_features(x, y, np.vstack([S1, S2]), np.vstack([B1, B2]))
    assert res < 1e-12 and abs(xi) < 1e-12
    assert np.allclose(z, [-2.5, 6.5]) and cost == pytest.approx(PRINTED["bounce", 4] / BETA_NB)
    lp = min_cost_interpolation(x, y, depth=4)
    assert lp.lower_bound == pytest.approx(4.0, rel=1e-9) and lp.lower_bound < cost


def test_printed_bounce_depth3_support_reproduced():
    """Fig18, L = 3 support ([-1,-1], [0,1], 0), ([-1,-1], [0,2], 0): ramps on [6,7] and
    [2,7] with z = (3.25, 0.75), cost 4 = the printed value and the certified optimum."""
    x, y = BOUNCE
    S1, B1 = notebook_feature(x, [-1, -1], [0, 1], 0)
    S2, B2 = notebook_feature(x, [-1, -1], [0, 2], 0)
    z, _, res, cost = fit_on_features(x, y, np.vstack([S1, S2]), np.vstack([B1, B2]))
    assert res < 1e-12 and np.allclose(z, [3.25, 0.75])
    assert cost == pytest.approx(min_cost_interpolation(x, y, depth=3).lower_bound, rel=1e-9)


@pytest.mark.parametrize("depth", [3, 4])
def test_trunk_architecture_is_cheaper_than_the_lasso(depth):
    """The notebooks' gradient runs use a width-one trunk with a wide last layer
    (par=False).  The zshape optimum (one feature, cost 0.75) split over m last-layer copies
    computes the same function at penalty 0.75 m^((2-L)/L) < 0.75: that network's optimum is
    not the Lasso's."""
    x, y = ZSHAPE
    lp = min_cost_interpolation(x, y, depth=depth)
    i = int(np.argmax(np.abs(lp.z)))
    assert np.sum(np.abs(lp.z) > 1e-9) == 1 and lp.cost == pytest.approx(0.75)
    for m in (1, 2, 100):
        net = split_trunk(lp.signs[i], lp.breaks[i], lp.z[i], m)
        assert np.max(np.abs(net.predict(np.asarray(x)) + lp.xi - np.asarray(y))) < 1e-12
        assert net.penalty() == pytest.approx(0.75 * m ** ((2 - depth) / depth), rel=1e-12)
    assert split_trunk(lp.signs[i], lp.breaks[i], lp.z[i], 2).penalty() < lp.lower_bound


def _notebook_adam_run(epochs: int, x0: float = 0.0):
    """The notebooks' L = 4 zshape run re-implemented: Linear modules created in their
    order under torch.manual_seed(8) (float64), the first unit chain set to the reflection
    breakpoint 4 = 2*2 - 0 with alpha = 3/2, sum-of-squares loss + (1e-8/4) sum p^4 over all
    weights, Adam(lr=5e-3, weight_decay=1e-4).  Returns (first loss, last loss, kink, f)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(8)
        mods = [nn.Linear(1, 1), nn.Linear(100, 100), nn.Linear(1, 1), nn.Linear(1, 1),
                nn.Linear(1, 100), nn.Linear(100, 1)]
    finally:
        torch.set_default_dtype(old)
    _, _, t1, t2, wide, last = mods
    g = 1.5 ** 0.25
    s, a = np.array([-1.0, -1, 1]), np.array([4.0, 2, 0])
    w, b = s * g, -s * a * np.array([g, g**2, g**3])
    with torch.no_grad():
        t1.weight[0], t1.bias[0], t2.weight[0], t2.bias[0] = w[0], b[0], w[1], b[1]
        wide.weight[0], wide.bias[0], last.weight[0][0], last.bias[0] = w[2], b[2], g, 0.0
    X = torch.tensor([[x0], [2.0], [6.0], [7.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [0.0], [3.0], [3.0]], dtype=torch.float64)

    def f(X):
        return last(torch.relu(wide(torch.relu(t2(torch.relu(t1(X)))))))

    weights = [p for m in mods for n, p in m.named_parameters() if "bias" not in n]
    opt = torch.optim.Adam([p for m in mods for p in m.parameters()], lr=5e-3, weight_decay=1e-4)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = ((f(X) - y) ** 2).sum() + 1e-8 / 4 * sum((p**4).sum() for p in weights)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    xt = torch.linspace(x0 - 0.5, 7.5, 1000, dtype=torch.float64)[:, None]
    out = f(xt).detach().numpy().ravel()
    kink = float(xt[np.flatnonzero(np.abs(out - 3.0) < 1e-2)[0], 0])
    return losses[0], losses[-1], kink, f


def test_notebook_adam_kink_is_reproduced_and_not_optimal():
    """The printed 4.25 "kink" (Fig2 left, Fig19) is reproduced: same first loss (7 digits,
    so the same initialization), 'kink' within one grid step (8/999) of 4.2487.  It is an
    Adam point started at the reflection breakpoint 4 (cost 1.5) under an extra weight decay
    1e-4 (4e4 times beta/L), not an optimum: (i) f rises by 3 on [2, ~4.25], so every
    parallel-chain network computing it costs >= 3/2.25 = 1.33 > 0.75 = the certified
    optimum; (ii) a network of the notebook's own architecture interpolating exactly has
    objective 1e-8 * 0.075 (kink at 6, split over the 100 last neurons), 64 times below the
    printed 4.83e-8 (and below our re-run's final objective)."""
    first, final, kink, f = _notebook_adam_run(1000)
    assert first == pytest.approx(ADAM_FIRST_LOSS, abs=5e-8)
    assert abs(kink - ADAM_KINK) <= 8 / 999 + 1e-9
    x, y = ZSHAPE
    lp = min_cost_interpolation(x, y, depth=4)
    assert 3.0 / (kink - 2.0) > 1.3 > lp.cost
    i = int(np.argmax(np.abs(lp.z)))
    net = split_trunk(lp.signs[i], lp.breaks[i], lp.z[i], 100)
    r = net.predict(np.asarray(x)) + lp.xi - np.asarray(y)
    objective = float(r @ r) + BETA_NB * net.penalty()  # their loss: sum of squares + (beta/L) sum p^L
    assert objective < ADAM_OBJECTIVE / 50 and objective < final


@pytest.mark.slow
def test_notebook_adam_right_plot_is_an_unconverged_drift():
    """Fig2 right (data -1, 2, 6, 7; 15000 Adam epochs from the same breakpoint-4 start)
    prints the 'kink' 5.0856, near the reflection 2*2 - (-1) = 5.  The same run here (same
    first loss) ended at 4.66 when this test was written (torch 2.13, CPU): the location is
    Adam's drift in a flat valley, not a property of the optimum.  Both reach 3 at k < 6, so their slope 3/(k - 2)
    exceeds the certified least cost 0.75 of an interpolant of these data."""
    first, _, kink, _ = _notebook_adam_run(15000, x0=-1.0)
    assert first == pytest.approx(ADAM_FIRST_LOSS, abs=5e-8)
    lp = min_cost_interpolation([-1.0, 2, 6, 7], [0.0, 0, 3, 3], depth=4)
    assert lp.certified and lp.cost == pytest.approx(0.75)
    for k in (kink, ADAM_KINK_RIGHT):
        assert 3.0 / (k - 2.0) > 1.2 * lp.cost
