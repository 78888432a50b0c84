r"""Minimum-cost interpolation by deep narrow 1-D networks, with a certificate, and the
conventions of the library-of-mirrors notebooks (Zeger, Wang & Pilanci 2024).

**The beta -> 0 limit as an LP.**  As :math:`\beta\to0`, :math:`p^\star(\beta)/\beta` of the
Lasso of :mod:`convexnn.deep_1d.program` tends to the least cost of an interpolant,

.. math::
    c^\star = \min_{z,\xi}\ \|z\|_1 \ \text{ s.t. } Az + \xi 1 = y
    \;=\; \max_\lambda\ \lambda^\top y \ \text{ s.t. } \|A^\top\lambda\|_\infty \le 1,\ 1^\top\lambda = 0,

solved here by HiGHS; any :math:`\lambda` with :math:`1^\top\lambda = 0`, rescaled by
:math:`\max(1, \|A^\top\lambda\|_\infty)`, gives the certified lower bound
:math:`\lambda^\top y` (weak LP duality), so a claimed cost above it is refuted exactly,
whatever solver tolerance produced it.

**Notebook indices.**  The notebooks index a feature by :math:`(s, j, k)` on the data sorted
in *decreasing* order: breakpoints :math:`a_l = x^{\downarrow}_{j_l}`, and for
:math:`k = 1` (depth 4) the first one is the reflection
:math:`a_1 = 2x^{\downarrow}_{j_2} - x^{\downarrow}_{j_1}` (:func:`notebook_feature`).

**The notebooks' non-convex network is a trunk.**  Their gradient runs (``par=False``) use
L - 2 width-one layers shared by a last hidden layer of width m, penalized by
:math:`\tfrac{\beta}{L}\sum p^L` over all weights (:class:`TrunkNetwork`).  Copying the last
neuron m times with weights :math:`r` and trunk weights :math:`t` keeps the function when
:math:`t^{L-2}r^2 m = |z|` and costs :math:`\tfrac1L((L-2)t^L + 2mr^L)`, minimized
(:func:`split_trunk`; stationarity gives :math:`t^L = mr^L`) at
:math:`t^L = |z|\,m^{(2-L)/L}` (:math:`|z|/\sqrt m` for L = 4): for L >= 3 the shared trunk
is paid once, so this architecture is **not** the Lasso of parallel chains (whose cost of
the same function is :math:`|z|`), and its kinks need not be the Lasso's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from ..core.validation import check_array, check_int
from ..networks.chains import TrunkNetwork
from .program import chain_features, chain_weights, library_dictionary


@dataclass(frozen=True)
class InterpolationLP:
    """Least-cost interpolant over a chain dictionary and its certified lower bound."""

    cost: float
    lower_bound: float
    z: np.ndarray
    xi: float
    signs: np.ndarray
    breaks: np.ndarray

    @property
    def certified(self) -> bool:
        return self.lower_bound >= self.cost * (1 - 1e-9) - 1e-12


def min_cost_interpolation(x: Any, y: Any, *, depth: int,
                           dictionary: tuple[np.ndarray, np.ndarray] | None = None) -> InterpolationLP:
    r""":math:`\min\|z\|_1` s.t. :math:`Az + \xi1 = y` over the library dictionary (or
    ``dictionary``), with the dual bound of the module docstring."""
    x = check_array("x", x, ndim=1)
    y = check_array("y", y, ndim=1)
    S, B = library_dictionary(x, depth) if dictionary is None else dictionary
    A = chain_features(x, S, B)
    n, K = A.shape
    # variables (z+, z-, xi): min 1^T z+ + 1^T z-  s.t.  A z+ - A z- + xi 1 = y
    c = np.concatenate([np.ones(2 * K), [0.0]])
    Aeq = np.hstack([A, -A, np.ones((n, 1))])
    res = linprog(c, A_eq=Aeq, b_eq=y, bounds=[(0, None)] * (2 * K) + [(None, None)],
                  method="highs")
    if res.status != 0:
        raise ValueError(f"interpolation LP failed: {res.message}")
    z = res.x[:K] - res.x[K:2 * K]
    lam = np.asarray(res.eqlin.marginals, float)
    lam = lam - lam.mean()  # 1^T lambda = 0 exactly (the free xi)
    scale = max(1.0, float(np.abs(A.T @ lam).max(initial=0.0)))
    lb = float(lam @ y / scale)
    if lb < 0:  # the sign convention of the marginals
        lam = -lam
        lb = float(lam @ y / scale)
    return InterpolationLP(float(np.abs(z).sum()), lb, z, float(res.x[-1]), S, B)


def notebook_feature(x: Any, s: Any, j: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""(signs, breaks), each of shape (1, L-1), of the notebooks' feature :math:`(s, j, k)`
    (indices into the data sorted decreasingly; module docstring)."""
    xd = np.sort(check_array("x", x, ndim=1))[::-1]
    s = np.asarray(s, float)
    a = xd[np.asarray(j, int)].astype(float)
    if k == 1:
        a[0] = 2 * xd[j[1]] - xd[j[0]]
    return s[None, :], a[None, :]


def fit_on_features(x: Any, y: Any, signs: np.ndarray, breaks: np.ndarray
                    ) -> tuple[np.ndarray, float, float, float]:
    r"""Least squares over the given features plus :math:`\xi`: returns
    (z, xi, max |residual|, :math:`\|z\|_1`) (the cost when the residual is 0)."""
    x = check_array("x", x, ndim=1)
    y = check_array("y", y, ndim=1)
    A = np.hstack([chain_features(x, signs, breaks), np.ones((len(x), 1))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    res = float(np.abs(A @ sol - y).max())
    return sol[:-1], float(sol[-1]), res, float(np.abs(sol[:-1]).sum())


def split_trunk(signs: np.ndarray, breaks: np.ndarray, z: float, m: int) -> TrunkNetwork:
    r"""The chain :math:`z\,\phi` (one feature of :mod:`convexnn.deep_1d.program`) as a
    trunk network whose last layer holds m equal copies; trunk weights :math:`\pm t`, last
    weights :math:`\pm r`, :math:`t^{L-2}r^2m = |z|`, at the t minimizing the penalty
    :math:`\tfrac1L((L-2)t^L + 2mr^L)`, whose value is :math:`t^L = |z|\,m^{(2-L)/L}`."""
    m = check_int("m", m)
    s, a = np.asarray(signs, float).ravel(), np.asarray(breaks, float).ravel()
    L = len(s) + 1
    bu = chain_weights(s[None, :], a[None, :])[0]  # unit-chain biases
    # d/dt of (L-2) t^L + 2m r^L, r^2 = |z| / (m t^(L-2)):  t^L = m r^L  =>  t^L = |z| m^((2-L)/L)
    tL = abs(z) * float(m) ** ((2.0 - L) / L)
    t = tL ** (1.0 / L)
    r = np.sqrt(abs(z) / (m * t ** (L - 2)))
    scale = t ** np.arange(1, L - 1)  # layer l of the trunk scales its output by t^l
    w, b = s[:-1] * t, bu[:-1] * scale
    Wl = np.full(m, s[-1] * r)
    Bl = np.full(m, bu[-1] * t ** (L - 2) * r)
    return TrunkNetwork(w, b, Wl, Bl, np.full(m, np.sign(z) * r))


__all__ = ["InterpolationLP", "min_cost_interpolation", "notebook_feature", "fit_on_features",
           "split_trunk"]
