r"""Active neurons against the representer bound (THEORY A.3, F.2).

A pruned optimal network has neuron fits :math:`(Xu_j + b_j)_+\alpha_j` that are linearly
independent modulo the span of the free terms
:math:`F = [X \text{ if skip}, 1 \text{ if a free constant}]`, so

.. math::
    m \le n - \mathrm{rank}(F)

(:math:`m \le n` without free terms; :math:`m \le n - \mathrm{rank}([X, 1])` with a free
affine term, Parhi & Nowak 2021: :math:`K \le N - (d+1)`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.validation import check_array
from ..core.variant import Variant
from ..networks.two_layer import Network
from .report import Check


def active_neurons(network: Network, X: Any, *, skip: bool = False, free_constant: bool = False,
                   tol: float = 1e-6) -> Check:
    r"""Active neurons against the representer bound (THEORY A.3, F.2).

    After pruning, the neuron fits :math:`(Xu_j + b_j)_+` are linearly independent modulo
    the free subspace :math:`F` (columns :math:`X` for a free skip, :math:`1` for a free
    constant), so the width is at most :math:`n - \mathrm{rank}(F)`: :math:`n` with no
    free terms, :math:`n - \mathrm{rank}([X, 1])` with a free affine term (Parhi & Nowak
    2021: :math:`K \le N-(d+1)`).  Neurons with :math:`\|u_j\|\|\alpha_j\| \le` ``tol``
    times the largest are not counted.  ``details["independent"]`` is the rank of the fits
    modulo F (equal to the width for a pruned network).

    Parameters
    ----------
    network : Network
        A (pruned) two-layer network, e.g. ``fit(...).network``.
    X : array-like of shape (n, d)
        The training inputs.
    skip, free_constant : bool, default=False
        Which free terms the model had.
    tol : float, default=1e-6
        Relative contribution below which a neuron is not counted.
    """
    X = check_array("X", X, ndim=2)
    n = X.shape[0]
    F = Variant(skip=skip, output_bias=free_constant).free_basis(X)
    rank_F = 0
    net = network.prune_zero(tol)
    H = net.hidden(X) * np.linalg.norm(net.W2.reshape(net.width, -1), axis=1)
    if F is not None:
        U, s, _ = np.linalg.svd(F, full_matrices=False)
        Q = U[:, s > 1e-10 * s[0]]  # orthonormal basis of the free subspace F
        rank_F = Q.shape[1]
        H = H - Q @ (Q.T @ H)
    independent = int(np.linalg.matrix_rank(H)) if net.width else 0
    bound = n - rank_F
    return Check("active neurons <= n - rank(free terms)", predicted=bound, measured=net.width,
                 holds=net.width <= bound, section="A.3, F.2",
                 details={"n": n, "rank_free": rank_F, "independent": independent})


__all__ = ["active_neurons"]
