r"""Two-layer convex programs: C-ReLU (cone constrained) and C-GReLU (gated), scalar output.

With lifted data :math:`\tilde X` (:math:`[X, 1]` when hidden biases exist), patterns
:math:`D_1..D_P` and penalized coordinates :math:`\pi` (all of them, or the weights only
for a free bias), the C-ReLU program (THEORY A.2, A.5; Pilanci & Ergen 2020, eq. (8)) is

.. math::
    \min_{v_i, w_i}\; \ell\Big(\sum_i D_i\tilde X (v_i - w_i) + X w_0 + c\,1;\; y\Big)
        + \beta\sum_i \big(\|v_{i,\pi}\|_2 + \|w_{i,\pi}\|_2\big)
    \quad\text{s.t.}\quad (2D_i - I)\tilde X v_i \ge 0,\; (2D_i - I)\tilde X w_i \ge 0,

and C-GReLU (THEORY B; Mishkin, Sahiner & Pilanci 2022) drops the constraints and the
:math:`w_i`.  The skip term :math:`w_0` and output bias :math:`c` are free (present only
when requested).  Both programs equal their non-convex networks' training problems with
penalty :math:`(\beta/2)\|\theta\|^2` (exactly over all patterns; an upper bound over a
subset), and :meth:`TwoLayerProgram.recover` maps a solution to a network with the same
objective (THEORY A.4).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..core.blas import matmul
from ..core.losses import Loss, get_loss
from ..core.pattern_program import PatternProgram
from ..core.patterns import PatternSet
from ..core.pruning import prune_blocks
from ..core.solution import ConvexSolution
from ..core.validation import check_positive
from ..core.variant import BIASES, MODELS, Variant  # noqa: F401 (re-exported)
from ..exceptions import RecoveryError
from ..networks.two_layer import Network

#: Relative size below which a block is solver noise (see TwoLayerProgram.recover).
NOISE_TOL = 1e-9
#: Dependence tolerance of the pruning (singular values of the normalized fits, relative).
PRUNE_RTOL = 1e-9
#: ... and of the merging candidate, which also folds near-parallel neurons into one.
MERGE_RTOL = 1e-6


class TwoLayerProgram(PatternProgram):
    """The convex program of a two-layer (gated) ReLU network, as data.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    beta : float
        Weight-decay strength (objective convention of THEORY section 0).
    loss : str or Loss
    model : {"relu", "gated"}
    bias : {"none", "regularized", "free"}
    skip : bool
        Add a free linear term :math:`X w_0`.
    output_bias : bool
        Add a free output constant (implied by ``bias="free"``).
    patterns : PatternSet
        Patterns of the lifted data; all-off patterns are dropped.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, *, beta: float, loss: str | Loss,
                 model: str, bias: str, skip: bool, output_bias: bool,
                 patterns: PatternSet) -> None:
        self.variant = Variant(model, bias, skip, output_bias)  # validated here, once
        self.model, self.bias = self.variant.model, self.variant.bias
        self.skip, self.output_bias = self.variant.skip, self.variant.output_bias
        self.loss = get_loss(loss)
        self.beta = check_positive("beta", beta)
        self.X = X
        self.y = self.loss.check_targets(y)
        self.Xt, free = self.variant.lift(X)
        if patterns.D.shape[0] != X.shape[0]:
            raise ValueError(f"patterns has {patterns.D.shape[0]} rows; X has {X.shape[0]} samples")
        if self.variant.free_bias:
            patterns = patterns.with_all_on(self.Xt)
        self.patterns = patterns.without_empty()
        self.D = self.patterns.D
        self.penalized = np.flatnonzero(~free)
        self._problem = None

    #: pickled as None (:class:`convexnn.core.transient.Transient`)
    _transient = ("_problem", "variables")

    # ---- sizes (n_samples, n_patterns and with_beta: PatternProgram) ----------------------
    @property
    def has_free_constant(self) -> bool:
        return self.variant.has_free_constant

    @cached_property
    def free_basis(self) -> np.ndarray | None:
        """Columns spanning the unpenalized part of the prediction (skip, constant)."""
        return self.variant.free_basis(self.X)

    @property
    def has_cone_rows(self) -> bool:
        r"""Whether the blocks carry cone constraints :math:`(2D_i - I)\tilde Xv_i \ge 0`
        (C-ReLU; C-GReLU has none)."""
        return self.variant.has_cone_rows

    # ---- the block-program protocol (convexnn.core.protocol) -------------------------
    def block_set(self, device):
        """Apply: every block of the program as a torch
        :class:`~convexnn.solvers.blocks.BlockSet` on ``device``."""
        from .blocks import two_layer_blocks

        return two_layer_blocks(self, device)

    def solution_from_blocks(self, blocks, v, a, Q) -> ConvexSolution:
        """Invert: block variables ``v`` and free coefficients ``a`` (basis ``Q``) as a
        :class:`~convexnn.core.solution.ConvexSolution`."""
        from .blocks import two_layer_solution

        return two_layer_solution(self, blocks, v, a, Q)

    # ---- numpy evaluation ----------------------------------------------------------------
    def block_fits(self, B: np.ndarray) -> np.ndarray:
        r"""Columns :math:`D_i \tilde X b_i`, shape (n, P), for blocks B (P, d')."""
        return self.D * matmul(self.Xt, B, trans_b=True)

    def predict(self, sol: ConvexSolution) -> np.ndarray:
        r""":math:`\sum_i D_i\tilde X(v_i - w_i) + X w_0 + c`."""
        B = sol.V if sol.W is None else sol.V - sol.W
        return self.block_fits(B).sum(axis=1) + self.X @ sol.skip + sol.c

    def group_norms(self, B: np.ndarray) -> np.ndarray:
        r""":math:`\|b_{i,\pi}\|_2` per block."""
        return np.linalg.norm(B[:, self.penalized], axis=1)

    def regularizer(self, sol: ConvexSolution) -> float:
        r""":math:`\sum_i \|v_{i,\pi}\| + \|w_{i,\pi}\|`."""
        r = float(np.sum(self.group_norms(sol.V)))
        if sol.W is not None:
            r += float(np.sum(self.group_norms(sol.W)))
        return r

    def objective(self, sol: ConvexSolution, beta: float | None = None) -> float:
        """The convex objective evaluated in numpy."""
        beta = self.beta if beta is None else beta
        return self.loss.value(self.predict(sol), self.y) + beta * self.regularizer(sol)

    def constraint_violation(self, sol: ConvexSolution) -> float:
        r""":math:`\max_i \max_j [-(2D_i - I)\tilde X v_i]_+` over both block sets, relative to
        :math:`\max(\max|\tilde X v_i|, \|y\|_\infty)` (0 for C-GReLU); the target scale keeps
        solver noise around a zero optimum from counting as a violation."""
        if self.variant.gated:
            return 0.0
        S = 2.0 * self.D - 1.0
        worst, scale = 0.0, 0.0
        for B in (sol.V, sol.W):
            Z = matmul(self.Xt, B, trans_b=True)
            worst = max(worst, float(np.max(-S * Z, initial=0.0)))
            scale = max(scale, float(np.max(np.abs(Z), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(self.y), initial=0.0)))
        return worst / scale if scale > 0 else 0.0

    def zero_solution(self) -> ConvexSolution:
        P, dp = self.n_patterns, self.Xt.shape[1]
        return ConvexSolution(np.zeros((P, dp)), None if self.variant.gated else np.zeros((P, dp)),
                              np.zeros(self.X.shape[1]), 0.0)

    # ---- cvxpy ---------------------------------------------------------------------------
    def build(self):
        r"""The program as a ``cvxpy.Problem`` (built once; ``beta`` and ``y`` are Parameters).

        Variables are named ``V``, ``W`` (C-ReLU) or ``U`` (C-GReLU), each (d', P) with
        column i the block of pattern i, plus ``skip`` and ``c`` when present.  Set
        ``program.parameters["beta"].value`` to re-solve a path without recompiling.
        """
        if self._problem is not None:
            return self._problem
        import cvxpy as cp

        n, dp = self.Xt.shape
        P = self.n_patterns
        Dm = self.D.astype(np.float64)
        beta = cp.Parameter(nonneg=True, name="beta", value=self.beta)
        y = cp.Parameter(n, name="y", value=self.y)
        pen = self.penalized if self.penalized.size < dp else slice(None)
        if not self.variant.gated:
            V = cp.Variable((dp, P), name="V")
            W = cp.Variable((dp, P), name="W")
            XV, XW = self.Xt @ V, self.Xt @ W
            pred = cp.sum(cp.multiply(Dm, XV - XW), axis=1)
            S = 2.0 * Dm - 1.0
            constraints = [cp.multiply(S, XV) >= 0, cp.multiply(S, XW) >= 0]
            reg = cp.sum(cp.norm(V[pen, :], 2, axis=0)) + cp.sum(cp.norm(W[pen, :], 2, axis=0))
            variables = {"V": V, "W": W}
        else:
            U = cp.Variable((dp, P), name="U")
            pred = cp.sum(cp.multiply(Dm, self.Xt @ U), axis=1)
            constraints = []
            reg = cp.sum(cp.norm(U[pen, :], 2, axis=0))
            variables = {"U": U}
        if self.skip:
            variables["skip"] = w0 = cp.Variable(self.X.shape[1], name="skip")
            pred = pred + self.X @ w0
        if self.output_bias:
            variables["c"] = c = cp.Variable(name="c")
            pred = pred + c
        problem = cp.Problem(cp.Minimize(self.loss.cvxpy(pred, y) + beta * reg), constraints)
        self.variables = variables
        self.parameters = {"beta": beta, "y": y}
        self._problem = problem
        return problem

    def solution_from_variables(self) -> ConvexSolution:
        """Read the cvxpy variables' values into a ConvexSolution (status filled by caller)."""
        v = self.variables
        if not self.variant.gated:
            V, W = np.asarray(v["V"].value).T.copy(), np.asarray(v["W"].value).T.copy()
        else:
            V, W = np.asarray(v["U"].value).T.copy(), None
        skip = np.asarray(v["skip"].value).copy() if "skip" in v else np.zeros(self.X.shape[1])
        c = float(v["c"].value) if "c" in v else 0.0
        return ConvexSolution(V, W, skip, c)

    # ---- recovery ------------------------------------------------------------------------
    def _active_blocks(self, sol: ConvexSolution, tol: float):
        """(pattern index, sign, block) of every block above ``tol`` * the largest norm whose
        penalty beta*||v|| is above 1e-7 of the objective (the solvers' accuracy), and the
        constant carried by weightless blocks (free bias: all-on pattern)."""
        sets = [(sol.V, 1.0)] + ([] if sol.W is None else [(sol.W, -1.0)])
        top = max(float(np.max(self.group_norms(B), initial=0.0)) for B, _ in sets)
        # blocks at solver-noise level (e.g. the zero solution for beta >= beta_max)
        floor = 1e-7 * max(1.0, abs(self.objective(sol))) / self.beta
        top = top if top > floor else 0.0
        full = max(float(np.max(np.linalg.norm(B, axis=1), initial=0.0)) for B, _ in sets)
        blocks, constant = [], 0.0
        for B, sign in sets:
            norms = self.group_norms(B)
            active = norms > tol * top if top > 0 else np.zeros(norms.shape, dtype=bool)
            for i in np.flatnonzero(active):
                blocks.append((i, sign, B[i]))
            if self.variant.free_bias:
                # weight part ~ 0: the block is the constant D_i * b (only all-on survives
                # the cone constraint); fold it into the output bias
                for i in np.flatnonzero(~active & (np.abs(B[:, -1]) > tol * full)):
                    if self.D[:, i].all():
                        constant += sign * B[i, -1]
        return blocks, constant

    def recover(self, sol: ConvexSolution, *, prune: bool = True, tol: float = 1e-6) -> Network:
        r"""Network weights from a convex solution (THEORY A.4).

        Each active block gives one neuron :math:`u = v_i/\sqrt{\|v_{i,\pi}\|}`,
        :math:`\alpha = \pm\sqrt{\|v_{i,\pi}\|}` (balanced, same prediction and penalty).
        With ``prune`` the blocks are pruned to a linearly independent set (at most n;
        THEORY A.3).  Interior-point solutions spread real mass over many small blocks, so
        candidates are built: blocks below ``tol`` times the largest norm dropped and
        near-dependent fits merged (:data:`MERGE_RTOL`), the same with exact dependence
        only (the small network), and only blocks below 1e-9 dropped (exact to the
        solver's accuracy); the first whose objective is not higher than the exact one's
        by more than 1e-9 relative is kept (the small ones are, e.g., not for the hinge
        loss with margins at the kink).
        """
        exact = self._recover(sol, prune=prune, tol=min(tol, NOISE_TOL))
        if tol <= NOISE_TOL:
            return exact
        f_exact = self.network_objective(exact)
        # the smallest candidate first: near-parallel neurons merged too (an interior-point
        # solution splits an optimal neuron over adjacent patterns, its copies equal only
        # to the solver's accuracy), then the small network
        rtols = (MERGE_RTOL, PRUNE_RTOL) if prune else (PRUNE_RTOL,)
        for rtol in rtols:
            small = self._recover(sol, prune=prune, tol=tol, rtol=rtol)
            if self.network_objective(small) <= f_exact + NOISE_TOL * max(1.0, abs(f_exact)):
                return small
        return exact

    def _recover(self, sol: ConvexSolution, *, prune: bool, tol: float,
                 rtol: float = 1e-9) -> Network:
        """Recovery with blocks below ``tol`` times the largest dropped (see :meth:`recover`)."""
        blocks, constant = self._active_blocks(sol, tol)
        skip, c = sol.skip.copy(), sol.c + constant
        if prune and blocks:
            # the neurons' actual outputs: s (X b)_+ for ReLU (positive scaling preserves it
            # exactly, even for blocks off their cone by solver noise), s D_i X b if gated
            fits = np.stack([s * (np.maximum(self.Xt @ b, 0.0) if not self.variant.gated
                                  else self.D[:, i] * (self.Xt @ b)) for i, s, b in blocks], axis=1)
            rho = np.array([np.linalg.norm(b[self.penalized]) for _, _, b in blocks])
            scale, a = prune_blocks(fits, rho, self.free_basis, rtol=rtol)
            blocks = [(i, s, b * t) for (i, s, b), t in zip(blocks, scale) if t > 0]
            if a.size:
                k = 0
                if self.skip:
                    skip = skip + a[: self.X.shape[1]]
                    k = self.X.shape[1]
                if self.has_free_constant:
                    c += float(a[k])
        d = self.X.shape[1]
        m = len(blocks)
        W1, b1, W2 = np.zeros((m, d)), np.zeros(m), np.zeros(m)
        for j, (i, s, b) in enumerate(blocks):
            r = np.sqrt(np.linalg.norm(b[self.penalized]))
            if not np.isfinite(r) or r == 0:
                raise RecoveryError(f"block {i} has zero penalized norm after pruning")
            u = b / r
            W1[j], W2[j] = u[:d], s * r
            if self.variant.has_bias:
                b1[j] = u[d]
        gates = gate_bias = None
        if self.variant.gated:
            G = self.patterns.gates
            if G is None:
                raise RecoveryError(
                    "gated networks need a gate vector per pattern, and some given patterns "
                    "are not cells of the hyperplane arrangement of X; pass realisable patterns")
            idx = [i for i, _, _ in blocks]
            gates = G[idx, :d]
            gate_bias = G[idx, d] if self.variant.has_bias else np.zeros(m)
        return Network(W1=W1, b1=b1, W2=W2, c0=c, skip=skip, gates=gates, gate_bias=gate_bias,
                       regularize_bias=self.variant.regularized_bias,
                       training=self.training_settings())

    def network_objective(self, net: Network) -> float:
        """The non-convex objective of ``net`` on this program's data."""
        return net.objective(self.X, self.y, beta=self.beta, loss=self.loss)

    @property
    def exhaustive(self) -> bool:
        """Whether the patterns are every cell of the arrangement."""
        return bool(self.patterns.exhaustive)

    def training_settings(self) -> dict[str, Any]:
        """The settings a recovered network was trained with (saved with it)."""
        return {"loss": self.loss.name, "beta": float(self.beta), **self.variant.settings()}

    def describe(self) -> dict[str, Any]:
        """What :class:`~convexnn.core.results.FitResult` prints (ConvexProgram protocol)."""
        v = self.variant
        return {"model": "two-layer gated ReLU" if v.gated else "two-layer ReLU",
                "loss": self.loss.name, "variant": f", bias={v.bias}, skip={v.skip}",
                "n": self.n_samples, "d": self.X.shape[1], "beta": self.beta,
                "columns": self.n_patterns, "columns_name": "patterns",
                "source": self.patterns.method}
