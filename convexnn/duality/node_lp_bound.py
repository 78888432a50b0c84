r"""The node linear program's certified bound, shared by its two interior-point forms.

For B nodes at once, each in coordinates :math:`a\in\mathbb R^M` of its region's rays
(v = G a),

.. math::
    \max_{a,s}\ W^\top a - c^\top s \quad\text{s.t.}\quad a \ge 0,\quad h + Ra \ge 0,
    \quad s \ge Va,\quad s \ge 0,

where row 0 of (h, R) is a cut :math:`q^\top Ga \le 1` (h = 1, :math:`R_0 = -G^\top q`
< 0), further rows are cuts or sign constraints (h = 0), and the hinge rows V with costs
c > 0 are the exact terms :math:`-c_j(V_ja)_+`.  For any :math:`t\in[0,c]` and
:math:`\zeta\ge0` weak duality gives

.. math::
    \text{LP} \le h^\top\zeta + \max_k\frac{(W - V^\top t + R^\top\zeta)_k^+}{-R_{0k}}

(:func:`certified_bound`): the bound holds at whatever multipliers an iteration reaches,
so a solver's accuracy affects only its tightness.
"""

from __future__ import annotations

import numpy as np

#: Predictor-corrector iterations at most.
MAX_ITER = 40
#: Fraction of the way to the boundary taken by each step.
STEP = 0.99


def certified_bound(W, R, h, V, c, t, zeta):
    r"""The weak-duality bound of the module docstring at (t, zeta), clipped into
    :math:`t\in[0,c]`, :math:`\zeta\ge0`."""
    t = np.clip(t, 0.0, c)
    zeta = np.maximum(zeta, 0.0)
    w = W - np.matmul(t[:, None, :], V)[:, 0, :] + np.matmul(zeta[:, None, :], R)[:, 0, :]
    return np.einsum("bq,bq->b", h, zeta) + (np.maximum(w, 0.0) / -R[:, 0, :]).max(axis=1)


def lp_value(W, V, c, a):
    r""":math:`W^\top a - \sum_j c_j(V_ja)_+` (the LP objective at a feasible a)."""
    Va = np.matmul(V, a[:, :, None])[:, :, 0]
    return np.einsum("br,br->b", W, a) - np.einsum("bk,bk->b", c, np.maximum(Va, 0.0))


def mv(M, x):
    """Batched matrix-vector product M (B, p, q) x (B, q) -> (B, p)."""
    return np.matmul(M, x[:, :, None])[:, :, 0]


def max_step(v, dv):
    """Largest step in [0, 1] keeping v + step dv >= 0, per node."""
    ratio = np.where(dv < 0, -v / np.where(dv < 0, dv, -1.0), np.inf)
    return np.minimum(ratio.min(axis=1), 1.0)


def batched_inverse(S: np.ndarray) -> np.ndarray:
    """Inverses of the matrices S (B, p, p), NaN for the singular ones (the caller drops
    those nodes, keeping the bounds they reached: every iterate's bound is valid)."""
    try:
        return np.linalg.inv(S)
    except np.linalg.LinAlgError:
        out = np.full_like(S, np.nan)
        for b in range(S.shape[0]):
            try:
                out[b] = np.linalg.inv(S[b])
            except np.linalg.LinAlgError:
                pass
        return out
