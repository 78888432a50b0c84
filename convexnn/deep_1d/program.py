r"""Deep narrow ReLU networks on 1-D data as a Lasso with reflection features.

Zeger, Wang & Pilanci (2024, "A library of mirrors", arXiv 2403.01046; conventions checked
against pilancilab/1d-convex-nn): a network :math:`f(x) = \xi + \sum_k a_k g_k(x)` of K
parallel *unit chains* of depth L (width one, free biases)

.. math::  g(x) = h_{L},\quad h_1 = x,\quad h_{l+1} = (w_l h_l + b_l)_+ \ (l < L),

trained with :math:`\tfrac12\|f(X) - y\|^2 + \tfrac{\beta}{L}\sum_k(\sum_l|w_{kl}|^L + |a_k|^L)`
has, by AM-GM over the rescalings, cost :math:`\beta\sum_k|a_k|\prod_l|w_{kl}|`: a Lasso over
the atoms :math:`g` with unit weights :math:`w_l = s_l = \pm1`.  The library's finite
dictionary (features recursively, with breakpoints :math:`a_l`):

.. math::
    \phi_1(x) = x,\qquad \phi_{l+1}(x) = \big(s_l(\phi_l(x) - \phi_l(a_l))\big)_+ ,

with :math:`a_l = x_{j_l}` and, for L = 4, also the *reflection*
:math:`a_1 = 2x_{j_2} - x_{j_1}`.  :func:`lasso_deep_1d` solves
:math:`\min_{z,\xi}\tfrac12\|Az + \xi1 - y\|^2 + \beta\|z\|_1` over it; any finite dictionary
of unit chains gives an **upper bound** of the network optimum, and
:func:`grid_dictionary` (breakpoints on a grid) is the independent check that the library's
dictionary loses nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from ..core.validation import check_array, check_int, check_positive
from ..exceptions import SolverError
from ..networks.chains import DeepChainNetwork
from ..solvers.cvxpy_backend import solve_problem


def chain_features(x: np.ndarray, signs: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    r"""Atoms :math:`\phi_L(x)` for many chains at once.

    ``signs`` and ``breaks`` have shape (K, L-1); returns (len(x), K).
    """
    x = np.asarray(x, float)[:, None]
    h = np.broadcast_to(x, (x.shape[0], signs.shape[0])).copy()
    hb = breaks.T.copy()  # phi_l at every later breakpoint a_m, shape (L-1, K)
    for layer in range(signs.shape[1]):
        s, c = signs[:, layer], hb[layer]
        h = np.maximum(s * (h - c), 0.0)
        hb = np.maximum(s * (hb - c), 0.0)
    return h


def chain_weights(signs: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    r"""Biases :math:`b_l = -s_l\phi_l(a_l)` of the unit chains (shape (K, L-1))."""
    hb = breaks.T.copy()
    b = np.zeros_like(signs, dtype=float)
    for layer in range(signs.shape[1]):
        s, c = signs[:, layer], hb[layer].copy()
        b[:, layer] = -s * c
        hb = np.maximum(s * (hb - c), 0.0)
    return b


def library_dictionary(x: Any, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The library-of-mirrors dictionary: (signs, breaks), each (K, depth-1)."""
    x = np.asarray(x, float)
    depth = check_int("depth", depth, minimum=2)
    if depth > 4:
        raise ValueError(f"depth must be 2, 3 or 4; got {depth}")
    n, L1 = len(x), depth - 1
    S, B = [], []
    for s in product((1.0, -1.0), repeat=L1):
        for j in product(range(n), repeat=L1):
            a = x[list(j)]
            S.append(s)
            B.append(a)
            if depth == 4:  # reflection of x_{j1} about x_{j2}
                S.append(s)
                B.append(np.array([2 * a[1] - a[0], a[1], a[2]]))
    return _unique(np.array(S), np.array(B))


def grid_dictionary(x: Any, depth: int, grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Unit chains with every breakpoint on ``grid`` (and the data): an independent,
    larger-or-different dictionary (its Lasso is also an upper bound)."""
    pts = np.unique(np.concatenate([np.asarray(grid, float), np.asarray(x, float)]))
    L1 = check_int("depth", depth, minimum=2) - 1
    S, B = [], []
    for s in product((1.0, -1.0), repeat=L1):
        for a in product(pts, repeat=L1):
            S.append(s)
            B.append(a)
    return _unique(np.array(S), np.array(B))


def _unique(S: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, idx = np.unique(np.round(np.hstack([S, B]), 12), axis=0, return_index=True)
    idx = np.sort(idx)
    return S[idx], B[idx]


@dataclass
class Deep1DLasso:
    """Solution of the deep 1-D Lasso and its recovered network."""

    objective: float
    z: np.ndarray
    xi: float
    signs: np.ndarray
    breaks: np.ndarray
    depth: int
    beta: float
    status: str

    def network(self, *, rtol: float = 1e-7) -> DeepChainNetwork:
        r"""Unit chain k scaled by :math:`r = |z_k|^{1/L}`: :math:`w_l = s_l r`,
        :math:`b_l = b_l^{unit} r^l`, :math:`a = \mathrm{sign}(z_k) r` (same output,
        penalty :math:`\beta|z_k|`)."""
        act = np.abs(self.z) > rtol * np.abs(self.z).max(initial=0.0)
        S, Bk, z = self.signs[act], self.breaks[act], self.z[act]
        L = self.depth
        r = np.abs(z) ** (1.0 / L)
        bu = chain_weights(S, Bk)
        powers = np.arange(1, L)
        return DeepChainNetwork(W=S * r[:, None], b=bu * r[:, None] ** powers, a=np.sign(z) * r,
                                xi=self.xi)


def lasso_deep_1d(x: Any, y: Any, *, beta: float, depth: int,
                  dictionary: tuple[np.ndarray, np.ndarray] | None = None,
                  solver: str = "CLARABEL", min_norm: bool = False) -> Deep1DLasso:
    r""":math:`\min_{z,\xi}\tfrac12\|Az + \xi 1 - y\|^2 + \beta\|z\|_1` over the library
    dictionary (or ``dictionary``); an upper bound of the depth-L network optimum that the
    library theorem states is exact.  ``min_norm``: then the least :math:`\|z\|_2` among
    points within 1e-9 (relative) of the optimum (the library's choice among optimal sets)."""
    x = check_array("x", x, ndim=1)
    y = check_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length; got {len(x)} and {len(y)}")
    beta = check_positive("beta", beta)
    import cvxpy as cp

    S, B = library_dictionary(x, depth) if dictionary is None else dictionary
    A = chain_features(x, S, B)
    nz = np.abs(A).max(axis=0) > 0
    S, B, A = S[nz], B[nz], A[:, nz]
    z = cp.Variable(A.shape[1])
    xi = cp.Variable()
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ z + xi - y) + beta * cp.norm1(z)))
    out = solve_problem(prob, solver=solver, what="the deep 1-D Lasso")
    if not out.ok:
        raise SolverError(f"{solver} returned status {out.solver_status!r} for the deep 1-D Lasso")
    if min_norm:
        cost = 0.5 * cp.sum_squares(A @ z + xi - y) + beta * cp.norm1(z)
        with warnings.catch_warnings():  # the objective is re-evaluated below
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            solve_problem(cp.Problem(cp.Minimize(cp.sum_squares(z)),
                                     [cost <= out.value * (1 + 1e-9)]), solver=solver,
                          what="the minimum-norm deep 1-D Lasso")
    zv = np.asarray(z.value, float)
    r = A @ zv + float(xi.value) - y
    obj = float(0.5 * r @ r + beta * np.abs(zv).sum())
    return Deep1DLasso(obj, zv, float(xi.value), S, B, depth, beta, out.solver_status)


__all__ = ["library_dictionary", "grid_dictionary", "chain_features", "chain_weights",
           "lasso_deep_1d", "Deep1DLasso", "DeepChainNetwork"]
