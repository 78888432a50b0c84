r"""Convex programs of parallel three-layer ReLU networks with path regularization (E.1).

Over the groups :math:`g = (\tau, D_2, \sigma)` of
:mod:`~convexnn.three_layer.groups` (block list :math:`\tau = ((i_j, s_j))_j`,
second-level pattern :math:`D_2`, output sign :math:`\sigma`):

.. math::
    \min_z\ \ell\Big(\sum_g \sigma_g D_{2,g} h_g\Big) + \beta\sum_g \rho(z_g),\qquad
    h_g = \sum_j s_j D_{1,i_j} X z_{g,j},

    \text{s.t. } (2D_{1,i_j} - I)Xz_{g,j} \ge 0,\quad (2D_{2,g} - I) h_g \ge 0,

with :math:`\rho(z_g) = \sum_j\|z_{g,j}\|` (l1 path; one block per (pattern, sign), merging
is free) or :math:`\rho(z_g) = (\sum_j \|z_{g,j}\|^2)^{1/2}` (l2 path; m1 blocks).  Any
network maps to a feasible point with :math:`\rho` = its path norm (so the optimum is a
lower bound for every K when the groups are exhaustive), and :meth:`recover` maps a
solution to a network with the same objective:
:math:`W_j = z_j/\|z_j\|,\ c_j = s_j\|z_j\|/\rho_g,\ \alpha = \sigma\rho_g`.

**Regularized first-layer biases** (``lifted``): X is then :math:`\tilde X = [X, 1]`, and
the bias-free program on it is the program of networks with regularized biases on X (the
last coordinate of :math:`z_j` is the bias :math:`b_j`, inside the path norm); the
recovered network has biases (:meth:`ParallelNetwork.from_lifted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.losses import Loss
from ..core.solution import SolveRecord
from ..networks.parallel import ParallelNetwork
from .groups import Groups

#: Blocks with norm below this fraction of the largest are dropped at recovery.
DROP_RTOL = 1e-7


@dataclass
class ThreeLayerSolution(SolveRecord):
    """The program's variables Z (G*m, d), group-major blocks (:class:`SolveRecord`)."""

    Z: np.ndarray


@dataclass
class ThreeLayerProgram:
    """The program above for data (X, y), penalty ``beta``, path ``"l1"``/``"l2"``."""

    X: np.ndarray
    y: np.ndarray
    beta: float
    path: str
    groups: Groups
    loss: Loss
    #: X is [X, 1]: the last coordinate is a regularized first-layer bias
    lifted: bool = False
    _problem: Any = field(default=None, repr=False)
    _Z: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        g = self.groups
        G, m = g.pattern.shape
        # every (tau, D2) twice: sigma = +1 then -1
        self.pattern = np.vstack([g.pattern, g.pattern])
        self.sign = np.vstack([g.sign, g.sign])
        self.D2 = np.vstack([g.D2, g.D2])
        self.sigma = np.concatenate([np.ones(G), -np.ones(G)])

    @property
    def n_groups(self) -> int:
        return self.D2.shape[0]

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def exhaustive(self) -> bool:
        """Whether the groups are every group there is (tiny n)."""
        return bool(self.groups.exhaustive)

    def describe(self) -> dict[str, Any]:
        """What :class:`~convexnn.core.results.FitResult` prints (ConvexProgram protocol)."""
        bias = ", regularized biases" if self.lifted else ""
        return {"model": f"parallel three-layer ReLU ({self.path} path, m1={self.groups.blocks}{bias})",
                "loss": self.loss.name, "n": self.n_samples, "d": self.data.shape[1],
                "beta": self.beta, "columns": f"{self.groups.n_groups} x 2 output signs",
                "columns_name": "groups", "source": self.groups.method}

    @property
    def blocks(self) -> int:
        return self.pattern.shape[1]

    def _block_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per block b = g*m + j: (D1 column times sign) and (2 D1 - 1), both (n, B)."""
        D1 = self.groups.D1
        cols = self.pattern.reshape(-1)
        Dm = D1[:, cols].astype(float)
        return Dm * self.sign.reshape(-1), 2.0 * Dm - 1.0

    def hidden(self, Z: np.ndarray) -> np.ndarray:
        r"""Second-level pre-activations :math:`h_g`, shape (n, G), for Z of shape (G*m, d)."""
        Dsign, _ = self._block_arrays()
        Hb = Dsign * (self.X @ Z.T)
        return Hb.reshape(self.X.shape[0], self.n_groups, self.blocks).sum(axis=2)

    def predictions(self, Z: np.ndarray) -> np.ndarray:
        return (self.D2.T * self.sigma * self.hidden(Z)).sum(axis=1)

    def group_norms(self, Z: np.ndarray) -> np.ndarray:
        Zg = Z.reshape(self.n_groups, self.blocks, -1)
        norms = np.linalg.norm(Zg, axis=2)
        return norms.sum(axis=1) if self.path == "l1" else np.sqrt((norms**2).sum(axis=1))

    def predict(self, sol: ThreeLayerSolution) -> np.ndarray:
        return self.predictions(sol.Z)

    def objective(self, sol: ThreeLayerSolution) -> float:
        """The convex objective, in numpy."""
        Z = sol.Z
        return float(self.loss.value(self.predictions(Z), self.y) + self.beta * self.group_norms(Z).sum())

    @property
    def data(self) -> np.ndarray:
        """The data of the networks: X without the constant column when ``lifted``."""
        return self.X[:, :-1] if self.lifted else self.X

    def network_objective(self, net: ParallelNetwork) -> float:
        return net.objective(self.data, self.y, beta=self.beta, loss=self.loss)

    def constraint_violation(self, sol: ThreeLayerSolution) -> float:
        """Largest violation of both cone constraints, relative to max|X z|."""
        Z = sol.Z
        _, S1 = self._block_arrays()
        XZ = self.X @ Z.T
        h = self.hidden(Z)
        scale = max(1e-300, np.abs(XZ).max(), np.abs(h).max())
        v1 = np.maximum(-(S1 * XZ), 0).max(initial=0.0)
        v2 = np.maximum(-((2.0 * self.D2.T - 1.0) * h), 0).max(initial=0.0)
        return float(max(v1, v2) / scale)

    def build(self):
        """The cvxpy problem (variable Z of shape (G*m, d), group-major blocks)."""
        import cvxpy as cp
        import scipy.sparse as sp

        n, d = self.X.shape
        G, m = self.n_groups, self.blocks
        Z = cp.Variable((G * m, d))
        Dsign, S1 = self._block_arrays()
        XZ = self.X @ Z.T
        agg = sp.kron(sp.eye(G), np.ones((m, 1)), format="csr")  # (G*m, G)
        h = cp.multiply(Dsign, XZ) @ agg
        yhat = cp.sum(cp.multiply(self.D2.T * self.sigma, h), axis=1)
        if self.path == "l1":
            pen = cp.sum(cp.norm(Z, 2, axis=1))
        else:
            pen = cp.sum(cp.norm(cp.reshape(Z, (G, m * d), order="C"), 2, axis=1))
        cons = [cp.multiply(S1, XZ) >= 0, cp.multiply(2.0 * self.D2.T - 1.0, h) >= 0]
        prob = cp.Problem(cp.Minimize(self.loss.cvxpy(yhat, self.y) + self.beta * pen), cons)
        self._problem, self._Z = prob, Z
        self.variables = {"Z": Z}
        return prob

    def solution_from_variables(self) -> ThreeLayerSolution:
        """The cvxpy variable's value (status filled by the caller)."""
        return ThreeLayerSolution(Z=np.asarray(self._Z.value, dtype=float))

    def zero_solution(self) -> ThreeLayerSolution:
        return ThreeLayerSolution(Z=np.zeros((self.n_groups * self.blocks, self.X.shape[1])))

    def prune(self, Z: np.ndarray) -> np.ndarray:
        """Rescale groups by factors in [0, 1] until the active group outputs are linearly
        independent (at most n groups; same predictions, penalty not larger; THEORY A.3)."""
        from ..core.pruning import prune_blocks

        rho = self.group_norms(Z)
        act = np.flatnonzero(rho > DROP_RTOL * rho.max(initial=0.0))
        if len(act) == 0:
            return Z
        fits = (self.D2.T * self.sigma * self.hidden(Z))[:, act]
        scale, _ = prune_blocks(fits, rho[act], None)
        factor = np.zeros(self.n_groups)
        factor[act] = scale
        d = Z.shape[1]
        return (Z.reshape(self.n_groups, self.blocks, d) * factor[:, None, None]).reshape(-1, d)

    def recover(self, sol: ThreeLayerSolution, *, drop_rtol: float = DROP_RTOL,
                prune: bool = True) -> ParallelNetwork:
        r"""One sub-network per nonzero group: :math:`W_j = z_j/\|z_j\|`,
        :math:`c_j = s_j\|z_j\|/\rho_g`, :math:`\alpha = \sigma\rho_g` (after :meth:`prune`);
        with biases :math:`b_j` from the last coordinate when ``lifted``."""
        Z = sol.Z
        n, d = self.X.shape
        if prune:
            Z = self.prune(Z)
        Zg = Z.reshape(self.n_groups, self.blocks, d)
        norms = np.linalg.norm(Zg, axis=2)
        top = norms.max(initial=0.0)
        subnets = []
        for g in range(self.n_groups):
            keep = norms[g] > drop_rtol * top
            if top == 0 or not keep.any():
                continue
            z = Zg[g, keep]
            nz = norms[g, keep]
            rho = nz.sum() if self.path == "l1" else float(np.sqrt((nz**2).sum()))
            subnets.append((z / nz[:, None], self.sign[g, keep] * nz / rho, self.sigma[g] * rho))
        m1 = max((len(s[1]) for s in subnets), default=1)
        K = len(subnets)
        W = np.zeros((K, m1, d))
        c = np.zeros((K, m1))
        alpha = np.zeros(K)
        for k, (w, cc, a) in enumerate(subnets):
            W[k, :len(cc)] = w
            c[k, :len(cc)] = cc
            alpha[k] = a
        net = ParallelNetwork(W=W if K else np.zeros((0, 1, d)), c=c, alpha=alpha, path=self.path)
        return ParallelNetwork.from_lifted(net) if self.lifted else net


__all__ = ["ThreeLayerProgram", "ThreeLayerSolution"]
