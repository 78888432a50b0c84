r"""Vector-output two-layer programs (THEORY C): data, the gated nuclear-norm program, recovery.

With lifted data :math:`\tilde X`, targets :math:`Y\in\mathbb R^{n\times c}` (or one-hot
labels for the softmax cross-entropy), free terms :math:`FA` (skip :math:`XW_0`, output
constant :math:`1c_0^\top`):

* **gated** (exact for gated networks with these gates; the nuclear-norm relaxation of
  the ReLU program on the same patterns):

  .. math:: \min_{V_i\in\mathbb R^{d'\times c}}\ \ell\Big(\sum_i D_i\tilde XV_i + FA\Big)
            + \beta\sum_i\|V_i\|_*,

  recovered by the SVD :math:`V_i = \sum_k\sigma_ka_kb_k^\top` into neurons
  :math:`u = \sqrt{\sigma_k}a_k`, :math:`g = \sqrt{\sigma_k}b_k` with gate :math:`g_i`
  (same prediction, penalty :math:`\tfrac\beta2(\|u\|^2+\|g\|^2) = \beta\sigma_k`);
* **relu**: neuron generation over unit directions (:mod:`convexnn.neurons`; this class
  is a :class:`~convexnn.neurons.program.NeuronProgram` with no pooling).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.patterns import PatternSet
from ..core.solution import VectorSolution
from ..core.validation import check_positive
from ..core.variant import Variant
from ..exceptions import RecoveryError
from ..networks.two_layer import Network
from ..neurons.program import NeuronProgram, neurons_of, prune_neurons


class VectorProgram(NeuronProgram):
    """A vector-output two-layer program as data (see module docstring).

    ``patterns`` is the gate set of the gated program; for ReLU it is the pattern set
    the pricing enumerates (informational; None when none was built).
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, *, beta: float, loss: str | Loss, model: str,
                 bias: str, skip: bool, output_bias: bool, patterns: PatternSet | None,
                 classes: np.ndarray | None = None) -> None:
        self.variant = Variant(model, bias, skip, output_bias)  # validated here, once
        self.model, self.bias = self.variant.model, self.variant.bias
        self.loss = get_loss(loss)
        self.beta = check_positive("beta", beta)
        self.X, self.y = X, Y
        self.skip, self.output_bias = self.variant.skip, self.variant.output_bias
        self.Xt, free = self.variant.lift(X)
        self.free = free
        self.penalized = ~free
        if patterns is not None:
            patterns = patterns.without_empty()
        self.patterns = patterns
        self.classes = classes
        #: ReLU pricing: None (exact when small), True (forced), False (ascent only)
        self.exact: bool | None = None
        #: whether the columns are complete: the gates' patterns are every cell, or the
        #: last pricing was exhaustive (set by the neuron pricer)
        self.exhaustive = bool(patterns is not None and patterns.exhaustive)
        self._problem = None

    # ---- sizes --------------------------------------------------------------------------
    @property
    def n_patterns(self) -> int:
        return 0 if self.patterns is None else self.patterns.D.shape[1]

    @property
    def D(self) -> np.ndarray:
        return np.zeros((self.n_samples, 0), bool) if self.patterns is None else self.patterns.D

    @property
    def has_free_constant(self) -> bool:
        return self.variant.has_free_constant

    @cached_property
    def free_basis(self) -> np.ndarray | None:
        return self.variant.free_basis(self.X)

    def split_free(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(skip (d, c), c0 (c,)) from the free coefficients A (q, c)."""
        return self.variant.split_free(A, self.X.shape[1])

    # ---- numpy evaluation ----------------------------------------------------------------
    def network_objective(self, net: Network) -> float:
        return net.objective(self.X, self.y, beta=self.beta, loss=self.loss)

    def objective(self, sol: VectorSolution) -> float:
        """The convex objective of ``sol`` recomputed in numpy."""
        return self.loss.value(self.predict(sol), self.y) + self.beta * self.regularizer(sol)

    def predict(self, sol: VectorSolution) -> np.ndarray:
        F = self.free_basis
        base = 0.0 if F is None else F @ sol.A
        if sol.V is not None:
            Z = sum(self.D[:, i, None] * (self.Xt @ sol.V[i]) for i in range(sol.V.shape[0]))
            return Z + base
        return self.neuron_predict(sol)

    def regularizer(self, sol: VectorSolution) -> float:
        if sol.V is not None:
            return float(np.sum(np.linalg.svd(sol.V[:, self.penalized, :], compute_uv=False)))
        return self.neuron_regularizer(sol)

    def constraint_violation(self, sol: VectorSolution) -> float:
        return 0.0

    # ---- cvxpy reference (gated) -----------------------------------------------------------
    def build(self):
        r"""The gated program as a cvxpy Problem (one :math:`d'\times c` variable per pattern)."""
        import cvxpy as cp

        if self._problem is not None:
            return self._problem
        n, k = self.Xt.shape
        c = self.n_outputs
        Vs = [cp.Variable((k, c)) for _ in range(self.n_patterns)]
        Dm = self.D.astype(np.float64)
        pred = sum(cp.multiply(Dm[:, i:i + 1] @ np.ones((1, c)), self.Xt @ V) for i, V in enumerate(Vs))
        F = self.free_basis
        A = None
        if F is not None:
            A = cp.Variable((F.shape[1], c))
            pred = pred + F @ A
        reg = sum(cp.normNuc(V) for V in Vs)
        self._problem = cp.Problem(cp.Minimize(self.loss.cvxpy(pred, self.y) + self.beta * reg))
        self.variables = {"V": Vs, "A": A}
        return self._problem

    def solution_from_variables(self) -> VectorSolution:
        """The cvxpy variables' values (status filled by the caller)."""
        V = np.stack([np.asarray(v.value) for v in self.variables["V"]])
        A = self.variables["A"]
        return VectorSolution(A=np.zeros((0, self.n_outputs)) if A is None else np.asarray(A.value),
                              V=V)

    def zero_solution(self) -> VectorSolution:
        q = 0 if self.free_basis is None else self.free_basis.shape[1]
        return VectorSolution(A=np.zeros((q, self.n_outputs)),
                              V=np.zeros((self.n_patterns, self.Xt.shape[1], self.n_outputs)))

    # ---- recovery --------------------------------------------------------------------------
    def recover(self, sol: VectorSolution, *, prune: bool = True, tol: float = 1e-9) -> Network:
        """Network of a solution (gated: SVD per block; relu: one neuron per direction)."""
        d, c = self.X.shape[1], self.n_outputs
        skip, c0 = self.split_free(sol.A)
        rows_u, rows_g, gate_idx = [], [], []
        if sol.V is not None:
            Us, S, Vts = np.linalg.svd(sol.V, full_matrices=False)
            top = float(np.max(S, initial=0.0))
            for i in range(S.shape[0]):
                for k in np.flatnonzero(S[i] > tol * top) if top > 0 else ():
                    r = np.sqrt(S[i, k])
                    rows_u.append(r * Us[i, :, k])
                    rows_g.append(r * Vts[i, k])
                    gate_idx.append(i)
            m = len(rows_u)
            U = np.array(rows_u).reshape(m, self.Xt.shape[1])
            G = np.array(rows_g).reshape(m, c)
        else:
            U, G = neurons_of(sol.U, sol.G, self.penalized, tol=tol)
            m = U.shape[0]
        if prune and m:
            U, G, skip, c0 = self._prune(U, G, gate_idx, skip, c0)
            gate_idx = self._kept_gates
        gates = gate_bias = None
        if sol.V is not None:
            Gt = self.patterns.gates
            if Gt is None:
                raise RecoveryError("gated networks need a gate vector per pattern; pass "
                                    "realisable patterns")
            gates = Gt[gate_idx, :d]
            gate_bias = Gt[gate_idx, d] if self.variant.has_bias else np.zeros(len(gate_idx))
        b1 = U[:, d] if self.variant.has_bias else np.zeros(U.shape[0])
        return Network(W1=U[:, :d], b1=b1, W2=G, c0=c0, skip=skip, gates=gates,
                       gate_bias=gate_bias, regularize_bias=self.variant.regularized_bias,
                       training={"loss": self.loss.name, "beta": float(self.beta),
                                 **self.variant.settings()})

    def _prune(self, U, G, gate_idx, skip, c0):
        r"""Prune neurons whose rank-one fits are linearly dependent modulo the free terms
        (:func:`~convexnn.neurons.program.prune_neurons`)."""
        Z = self.Xt @ U.T
        H = np.maximum(Z, 0.0) if not self.variant.gated else self.D[:, gate_idx] * Z
        U, G, A, keep = prune_neurons(H, U, G, self.penalized, self.free_basis)
        self._kept_gates = [g for g, k in zip(gate_idx, keep) if k] if gate_idx else []
        if A.size:
            k = 0
            if self.skip:
                skip = skip + A[: self.X.shape[1]]
                k = self.X.shape[1]
            if self.has_free_constant:
                c0 = c0 + A[k]
        return U, G, skip, c0

    def describe(self) -> dict[str, Any]:
        """What :class:`~convexnn.core.results.FitResult` prints (ConvexProgram protocol)."""
        v = self.variant
        gated = v.gated
        return {"model": f"two-layer {'gated ReLU' if gated else 'ReLU'}, {self.n_outputs} outputs",
                "loss": self.loss.name, "variant": f", bias={v.bias}, skip={v.skip}",
                "n": self.n_samples, "d": self.X.shape[1], "beta": self.beta,
                "columns": self.n_patterns if gated else "-",
                "columns_name": "patterns" if gated else "neurons",
                "source": self.patterns.method if gated else "generated"}


__all__ = ["VectorProgram", "VectorSolution"]
