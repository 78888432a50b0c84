r"""The convex program of a two-layer ReLU CNN with sum or mean pooling (THEORY D).

With the stacked patch matrix :math:`Z = \rho[\tilde X_1; \dots; \tilde X_K]`
(:meth:`convexnn.core.conv.Conv.stacked`; :math:`\rho = 1/K` for mean pooling), joint
patterns :math:`D_i = \mathrm{diag}(1[Zu_i \ge 0])` of its nK rows, and the pooling
:math:`P = [I_n \cdots I_n]` (:math:`\sum_k D_i^{(k)}\tilde X_k = PD_iZ/\rho`), Ergen &
Pilanci's program (ICLR 2021) is

.. math::
    \min_{v_i, w_i}\ \ell\Big(\sum_i PD_iZ(v_i - w_i) + c\,1;\ y\Big)
        + \beta\sum_i\big(\|v_i\|_2 + \|w_i\|_2\big)
    \quad\text{s.t.}\quad (2D_i - I)Zv_i \ge 0,\ (2D_i - I)Zw_i \ge 0,

the two-layer C-ReLU program on the stacked rows with its predictions pooled: over every
pattern its optimum equals the CNN's training problem with penalty
:math:`(\beta/2)\|\theta\|^2` (over a subset, an upper bound), and a solution maps to a
CNN with the same objective (:mod:`convexnn.cnn.recover`).  Hidden biases are
"none" or "regularized" (a constant in every patch); the output constant c is free when
asked for.  :class:`ConvProgram` implements :class:`~convexnn.core.protocol.BlockProgram`
(blocks with pooling, :class:`~convexnn.solvers.blocks.BlockSet`), so convexnn's
working-set solver solves it; :meth:`ConvProgram.build` gives the CVXPY form.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.conv import Conv
from ..core.lazy import torch_module as _torch
from ..core.losses import Loss, get_loss
from ..core.pattern_program import PatternProgram
from ..core.patterns import PatternSet
from ..core.solution import ConvexSolution
from ..core.validation import check_positive
from ..core.variant import Variant


class ConvWords:
    """What a CNN program says about itself and its networks (shared by the scalar and
    the vector program): needs ``X``, ``y``, ``beta``, ``loss``, ``variant``, ``conv``."""

    def network_objective(self, net) -> float:
        """The non-convex objective of a :class:`~convexnn.networks.conv.ConvNetwork`."""
        return net.objective(self.X, self.y, beta=self.beta, loss=self.loss)

    def training_settings(self) -> dict[str, Any]:
        """The settings a recovered network was trained with (saved with it)."""
        return {"loss": self.loss.name, "beta": float(self.beta), "bias": self.variant.bias,
                "output_bias": self.variant.output_bias, "pooling": self.conv.pooling}


def describe_conv(program, *, columns: Any, columns_name: str, source: str,
                  outputs: str = "") -> dict[str, Any]:
    """What :class:`~convexnn.core.results.FitResult` prints for a CNN program."""
    C, H, W = program.shape
    v = program.variant
    return {"model": f"two-layer ReLU CNN ({program.conv.describe(program.shape)}){outputs}",
            "loss": program.loss.name, "variant": f", bias={v.bias}, output_bias={v.output_bias}",
            "n": program.n_samples, "d": f"{C}x{H}x{W}", "beta": program.beta,
            "columns": columns, "columns_name": columns_name, "source": source}


class ConvProgram(ConvWords, PatternProgram):
    """The convex program of a two-layer ReLU CNN, as data (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n, C, H, W)
        Images (:meth:`Conv.images`).
    y : ndarray of shape (n,)
    beta : float
    loss : str or Loss
    conv : Conv
    bias : {"none", "regularized"}
    output_bias : bool
    patterns : PatternSet
        Patterns of the stacked patch matrix (nK rows); all-off patterns are dropped.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, *, beta: float, loss: str | Loss,
                 conv: Conv, bias: str, output_bias: bool, patterns: PatternSet) -> None:
        self.variant = Variant("relu", bias, False, output_bias)
        if self.variant.free_bias:
            raise ValueError("a CNN program takes bias='none' or 'regularized'")
        self.loss = get_loss(loss)
        self.beta = check_positive("beta", beta)
        self.X = X
        self.y = self.loss.check_targets(y)
        self.conv = conv
        self.shape = X.shape[1:]
        self.K = conv.n_patches(self.shape)
        self.Xt = conv.stacked(X, bias=self.variant.has_bias)
        if patterns.D.shape[0] != self.Xt.shape[0]:
            raise ValueError(f"patterns has {patterns.D.shape[0]} rows; the stacked patch "
                             f"matrix has {self.Xt.shape[0]} (n K)")
        self.patterns = patterns.without_empty()
        self.D = self.patterns.D
        self._problem = None

    _transient = ("_problem", "variables")

    # ---- sizes (n_samples, n_patterns and with_beta: PatternProgram) ----------------------
    @property
    def free_basis(self) -> np.ndarray | None:
        """The column of ones of a free output constant (None without one)."""
        return self.variant.free_basis(np.empty((self.n_samples, 0)))

    @property
    def has_cone_rows(self) -> bool:
        return True

    @property
    def exhaustive(self) -> bool:
        """Whether the patterns are every cell of the stacked arrangement."""
        return bool(self.patterns.exhaustive)

    def pool(self, Z: np.ndarray) -> np.ndarray:
        r""":math:`PZ`: rows :math:`kn + j` summed over k, shape (n, ...)."""
        return Z.reshape(self.K, self.n_samples, *Z.shape[1:]).sum(axis=0)

    # ---- the block-program protocol ----------------------------------------------------
    def block_set(self, device):
        """Apply: blocks (pattern, sign) with pooling K
        (:class:`~convexnn.solvers.blocks.BlockSet`)."""
        from ..solvers.blocks import BlockSet

        torch = _torch()
        P, dp = self.n_patterns, self.Xt.shape[1]
        m = 2 * P
        return BlockSet(
            Xt=torch.as_tensor(self.Xt, dtype=torch.float64, device=device),
            D=torch.as_tensor(self.D, device=device),
            pat=torch.as_tensor(np.tile(np.arange(P), 2), device=device),
            sign=torch.as_tensor(np.repeat([1.0, -1.0], P), dtype=torch.float64, device=device),
            pen=torch.ones(m, dp, dtype=torch.float64, device=device),
            rows=torch.zeros(m, 0, dtype=torch.long, device=device),
            rmask=torch.zeros(m, 0, dtype=torch.bool, device=device),
            linear=torch.zeros(m, dtype=torch.bool, device=device), pool=self.K)

    def solution_from_blocks(self, blocks, v, a, Q) -> ConvexSolution:
        """Invert: block variables (the first P blocks are the v_i, the last P the w_i) and
        the free coefficients ``a`` (basis ``Q``)."""
        P = self.n_patterns
        v = v.cpu().numpy()
        V, W = np.zeros((P, v.shape[1])), np.zeros((P, v.shape[1]))
        pat, sign = blocks.pat.cpu().numpy(), blocks.sign.cpu().numpy()
        for b in range(blocks.m):
            (V if sign[b] > 0 else W)[pat[b]] = v[b]
        c = 0.0
        if Q is not None:
            c = float(np.linalg.lstsq(self.free_basis, Q @ a.cpu().numpy(), rcond=None)[0][0])
        return ConvexSolution(V, W, np.zeros(0), c)

    # ---- numpy evaluation ----------------------------------------------------------------
    def block_fits(self, B: np.ndarray) -> np.ndarray:
        r"""Columns :math:`PD_iZb_i`, shape (n, P), for blocks B (P, h')."""
        return self.pool(self.D * (self.Xt @ B.T))

    def predict(self, sol: ConvexSolution) -> np.ndarray:
        r""":math:`\sum_i PD_iZ(v_i - w_i) + c`."""
        return self.block_fits(sol.V - sol.W).sum(axis=1) + sol.c

    def regularizer(self, sol: ConvexSolution) -> float:
        r""":math:`\sum_i \|v_i\| + \|w_i\|`."""
        return float(np.sum(np.linalg.norm(sol.V, axis=1)) + np.sum(np.linalg.norm(sol.W, axis=1)))

    def objective(self, sol: ConvexSolution, beta: float | None = None) -> float:
        """The convex objective evaluated in numpy."""
        beta = self.beta if beta is None else beta
        return self.loss.value(self.predict(sol), self.y) + beta * self.regularizer(sol)

    def constraint_violation(self, sol: ConvexSolution) -> float:
        r""":math:`\max_i\max_r[-(2D_i - I)Zv_i]_+` over both block sets, relative to
        :math:`\max(\max|Zv_i|, \|y\|_\infty)`."""
        S = 2.0 * self.D - 1.0
        worst, scale = 0.0, float(np.max(np.abs(self.y), initial=0.0))
        for B in (sol.V, sol.W):
            Z = self.Xt @ B.T
            worst = max(worst, float(np.max(-S * Z, initial=0.0)))
            scale = max(scale, float(np.max(np.abs(Z), initial=0.0)))
        return worst / scale if scale > 0 else 0.0

    def zero_solution(self) -> ConvexSolution:
        P, dp = self.n_patterns, self.Xt.shape[1]
        return ConvexSolution(np.zeros((P, dp)), np.zeros((P, dp)), np.zeros(0), 0.0)

    # ---- cvxpy ---------------------------------------------------------------------------
    def build(self):
        """The program as a ``cvxpy.Problem`` (built once; ``beta`` is a Parameter).
        Variables ``V``, ``W`` (h', P), column i the block of pattern i, and ``c``."""
        if self._problem is not None:
            return self._problem
        import cvxpy as cp
        import scipy.sparse as sp

        n, dp, P = self.n_samples, self.Xt.shape[1], self.n_patterns
        Dm = self.D.astype(np.float64)
        pool = sp.hstack([sp.identity(n, format="csr")] * self.K, format="csr")
        beta = cp.Parameter(nonneg=True, name="beta", value=self.beta)
        V, W = cp.Variable((dp, P), name="V"), cp.Variable((dp, P), name="W")
        ZV, ZW = self.Xt @ V, self.Xt @ W
        pred = pool @ cp.sum(cp.multiply(Dm, ZV - ZW), axis=1)
        variables = {"V": V, "W": W}
        if self.variant.output_bias:
            variables["c"] = c = cp.Variable(name="c")
            pred = pred + c
        S = 2.0 * Dm - 1.0
        reg = cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
        self._problem = cp.Problem(cp.Minimize(self.loss.cvxpy(pred, self.y) + beta * reg),
                                   [cp.multiply(S, ZV) >= 0, cp.multiply(S, ZW) >= 0])
        self.variables, self.parameters = variables, {"beta": beta}
        return self._problem

    def solution_from_variables(self) -> ConvexSolution:
        v = self.variables
        c = float(v["c"].value) if "c" in v else 0.0
        return ConvexSolution(np.asarray(v["V"].value).T.copy(), np.asarray(v["W"].value).T.copy(),
                              np.zeros(0), c)

    # ---- recovery and words ----------------------------------------------------------------
    def recover(self, sol: ConvexSolution, *, prune: bool = True, tol: float = 1e-6) -> Any:
        """The CNN of ``sol``, with the same objective (:func:`convexnn.cnn.recover.recover`)."""
        from .recover import recover

        return recover(self, sol, prune=prune, tol=tol)

    def describe(self) -> dict[str, Any]:
        """What :class:`~convexnn.core.results.FitResult` prints."""
        return describe_conv(self, columns=self.n_patterns, columns_name="patterns",
                             source=self.patterns.method)


__all__ = ["ConvProgram", "ConvWords", "describe_conv"]
