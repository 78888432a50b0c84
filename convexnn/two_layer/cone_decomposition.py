r"""Cone decomposition: a gated (C-GReLU) solution as a ReLU network (THEORY B).

For each active gated block :math:`u_i`, solve the SOCP

.. math::  \min_{v, w}\ \|v_\pi\| + \|w_\pi\| \quad\text{s.t.}\quad v - w = u_i,\;
           (2D_i - I)\tilde X v \ge 0,\; (2D_i - I)\tilde X w \ge 0

(Mishkin, Sahiner & Pilanci 2022).  The resulting C-ReLU point has exactly the gated
model's training predictions, so its objective is an upper bound on the ReLU optimum over
the same patterns, while the gated optimum is a lower bound when the patterns are exact.
All blocks are solved in one vectorized cvxpy problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..core.solution import ConvexSolution
from ..exceptions import SolverError
from ..networks.two_layer import Network
from ..solvers.cvxpy_backend import solve_problem


@dataclass
class ConeDecomposition:
    """A ReLU network with the gated solution's predictions, and the two bounds.

    Attributes
    ----------
    network : Network
        The decomposed ReLU network (same training predictions as the gated model).
    relu_objective : float
        Its non-convex objective: an upper bound on the ReLU optimum over these patterns.
    gated_objective : float
        The C-GReLU optimum: a lower bound on the ReLU optimum when the patterns are exact.
    max_prediction_change : float
        max |f_relu(X) - f_gated(X)| on the training data.
    """

    network: Network
    relu_objective: float
    gated_objective: float
    max_prediction_change: float
    solution: ConvexSolution


def decompose(program, sol: ConvexSolution, *, solver: str = "CLARABEL",
              tol: float = 1e-8) -> ConeDecomposition:
    """Decompose the gated solution ``sol`` of ``program`` (model="gated") into C-ReLU blocks."""
    import cvxpy as cp

    if not program.variant.gated:
        raise ValueError("cone decomposition needs a gated program (model='gated')")
    norms = program.group_norms(sol.V)
    top = float(norms.max(initial=0.0))
    act = np.flatnonzero(norms > tol * top) if top > 0 else np.array([], int)
    P, dp = sol.V.shape
    Vf, Wf = np.zeros((P, dp)), np.zeros((P, dp))
    if act.size:
        U = sol.V[act].T  # (d', k)
        S = 2.0 * program.D[:, act] - 1.0
        V = cp.Variable(U.shape)
        W = cp.Variable(U.shape)
        pen = program.penalized
        prob = cp.Problem(
            cp.Minimize(cp.sum(cp.norm(V[pen, :], 2, axis=0)) + cp.sum(cp.norm(W[pen, :], 2, axis=0))),
            [V - W == U, cp.multiply(S, program.Xt @ V) >= 0, cp.multiply(S, program.Xt @ W) >= 0])
        out = solve_problem(prob, solver=solver, what="the cone decomposition")
        if not out.ok:
            raise SolverError(
                f"cone decomposition is {out.solver_status}: some gate cone has empty interior "
                "(a gate with X g = 0 on a sample); resample the gates")
        Vf[act], Wf[act] = V.value.T, W.value.T
    relu_sol = ConvexSolution(Vf, Wf, sol.skip.copy(), sol.c, status=sol.status, solver=solver.lower())
    # predictions: sum D_i X (v_i - w_i) = sum D_i X u_i exactly up to the solver tolerance
    program_relu = _as_relu(program)
    net = program_relu.recover(relu_sol, prune=False)
    gated_pred = program.predict(sol)
    change = float(np.max(np.abs(net.predict(program.X) - gated_pred)))
    return ConeDecomposition(net, program_relu.network_objective(net), program.objective(sol),
                             change, relu_sol)


def _as_relu(program):
    from .program import TwoLayerProgram

    relu = TwoLayerProgram.__new__(TwoLayerProgram)
    relu.__dict__.update(program.__dict__)
    relu.variant = replace(program.variant, model="relu")
    relu.model = relu.variant.model
    relu._problem = None
    return relu


def cone_decomposition(result: Any) -> Any:
    """Map a gated fit (:func:`convexnn.fit` with ``model="gated"``) to a ReLU network with
    the same training predictions, reporting both bounds (THEORY B; :func:`decompose`)."""
    return decompose(result.program, result.solution)
