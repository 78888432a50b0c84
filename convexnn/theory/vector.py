r"""Vector-output theory checks (THEORY C) for any two-layer network (convex or torch-trained).

* :func:`output_rank_check`: the prediction's nonlinear part
  :math:`\sigma(XW_1^\top + b_1)W_2` has rank at most c, and so has :math:`W_2` (m x c).
* :func:`active_neuron_check`: a globally optimal network needs at most :math:`nc` active
  neurons (pruning argument on the vectorized rank-one fits :math:`h_kg_k^\top`); the
  convex fit's recovered network meets it after pruning.  A trained network may exceed
  it and still be optimal, so this is a check of the recovered network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..networks.two_layer import Network
from .report import Check


def _active(network: Network, rtol: float) -> int:
    contrib = np.sqrt(np.sum(network.W1**2, 1) + network.b1**2) * np.linalg.norm(
        np.atleast_2d(network.W2.T).T, axis=1)
    top = float(np.max(contrib, initial=0.0))
    return int(np.sum(contrib > rtol * top)) if top > 0 else 0


def output_rank_check(network: Network, X: Any, *, rtol: float = 1e-9) -> Check:
    r""":math:`\mathrm{rank}(W_2) \le c` and :math:`\mathrm{rank}(\sigma(\cdot)W_2) \le c`
    (numerical rank: singular values above ``rtol`` times the largest)."""
    W2 = np.atleast_2d(network.W2.T).T
    c = W2.shape[1]

    def rank(M):
        s = np.linalg.svd(M, compute_uv=False)
        return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0

    r_w, r_z = rank(W2), rank(network.hidden(X) @ W2)
    return Check("rank of output layer <= c", predicted=c, measured=max(r_w, r_z),
                 holds=max(r_w, r_z) <= c, section="C", details={"rank_W2": r_w, "rank_output": r_z})


def active_neuron_check(network: Network, n: int, *, rtol: float = 1e-9) -> Check:
    """Active neurons (contribution above ``rtol`` of the largest) <= n c."""
    c = network.n_outputs
    m = _active(network, rtol)
    return Check("active neurons <= n c", predicted=n * c, measured=m, holds=m <= n * c, section="C")


__all__ = ["output_rank_check", "active_neuron_check"]
