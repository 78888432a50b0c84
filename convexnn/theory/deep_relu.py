r"""Deep ReLU networks on whitened data: sign-separated deep-linear shrinkage (THEORY E.3).

For :math:`XX^\top = I_n` (orthonormal rows, n <= d), scalar output, no biases, hidden
widths >= 2 and weight decay :math:`\tfrac\beta2\sum_l\|W_l\|_F^2`, the optimum found here is

.. math::
    \hat y = \sigma_L(\|y_+\|)\frac{y_+}{\|y_+\|} - \sigma_L(\|y_-\|)\frac{y_-}{\|y_-\|},\qquad
    p^\star_L = \sum_{\pm} \min_{\sigma\ge0}\ \tfrac12(\sigma - \|y_\pm\|)^2 + \tfrac{\beta L}{2}\sigma^{2/L},

with :math:`\sigma_L` the deep-linear shrinkage of :func:`convexnn.theory.deep_linear.shrink`
(soft threshold for L = 2, which is :func:`convexnn.theory.closed_forms.whitened_two_layer`; a hard
threshold with a jump for L >= 3, applied to each sign part separately).

Status [D/V]: the value is **attained** by two disjoint balanced chains
:math:`W_1 = [\sigma_+^{1/L}X^\top\hat y_+,\ \sigma_-^{1/L}X^\top\hat y_-]`,
:math:`W_l = \mathrm{diag}(\sigma_+^{1/L}, \sigma_-^{1/L})`,
:math:`W_L = (\sigma_+^{1/L}, -\sigma_-^{1/L})` (so it is an upper bound of p*), and it equals
the best of 20 L-BFGS runs on every instance measured (see tests/test_deep_relu.py).  The
general lower bound :math:`\|\hat y\| \le \prod_l\|W_l\|_F` gives only the *joint* shrinkage
of :math:`\|y\|`, which is strictly lower for mixed-sign y; a proof that the sign parts
cannot share the trunk more cheaply is not given here.  The seed's "whitened deep ReLU
closed form" therefore holds in this sign-separated form (not as the deep-linear formula
applied to y).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array, check_int, check_positive
from ..networks.deep import DeepNetwork
from .closed_forms import _whitened
from .deep_linear import shrink


@dataclass(frozen=True)
class DeepReLUClosedForm:
    """Value, predictions, a network attaining them, and the two shrunk norms."""

    objective: float
    prediction: np.ndarray
    network: DeepNetwork
    sigma_pos: float
    sigma_neg: float
    joint_lower_bound: float


def _h(r: float, beta: float, L: int) -> tuple[float, float]:
    s = float(shrink([r], beta, L)[0])
    return s, 0.5 * (s - r) ** 2 + 0.5 * beta * L * s ** (2.0 / L)


def whitened_deep_relu(X: Any, y: Any, *, beta: float, depth: int) -> DeepReLUClosedForm:
    """The sign-separated closed form above (X X^T = I_n, scalar y, depth L >= 2)."""
    X = _whitened(X)
    y = check_array("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries; X has {X.shape[0]} rows")
    beta = check_positive("beta", beta)
    L = check_int("depth", depth, minimum=2)
    parts = (np.maximum(y, 0.0), np.maximum(-y, 0.0))
    sig, obj, pred, dirs = [], 0.0, np.zeros_like(y), []
    for sign, part in zip((1.0, -1.0), parts):
        r = float(np.linalg.norm(part))
        s, val = _h(r, beta, L)
        obj += val
        e = part / r if r > 0 else np.zeros_like(part)
        pred += sign * s * e
        sig.append(s)
        dirs.append(X.T @ e)
    t = np.array(sig) ** (1.0 / L)
    W = [np.vstack([t[0] * dirs[0], t[1] * dirs[1]])]  # (2, d)
    W += [np.diag(t) for _ in range(L - 2)]
    W += [np.array([[t[0], -t[1]]])]
    net = DeepNetwork(W, activation="relu")
    _, joint = _h(float(np.linalg.norm(y)), beta, L)
    return DeepReLUClosedForm(obj, pred, net, sig[0], sig[1], joint)


__all__ = ["whitened_deep_relu", "DeepReLUClosedForm"]
