r"""``fit`` for vector output: Y of shape (n, c) (squared loss) or class labels
(softmax cross-entropy), THEORY C.

.. math::
    \min_\theta\ \ell\big((XW_1^\top + b_1)_+W_2 + XW_0 + 1c_0^\top;\ Y\big)
    + \tfrac\beta2\big(\|W_1\|_F^2 + \|W_2\|_F^2\ [+\|b_1\|^2]\big),\qquad W_2\in\mathbb R^{m\times c}.

* ``model="gated"``: the nuclear-norm group program per pattern (exact for gated
  networks), solved by FISTA with a certified gap or by cvxpy (reference);
* ``model="relu"``: neuron generation (:mod:`convexnn.vector.neuron_generation`),
  exact pricing by face enumeration where the arrangement is small.

:func:`convexnn.fit` dispatches here when y is 2-D or ``loss="cross_entropy"``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..core.losses import encode_labels, get_loss  # noqa: F401 (encode_labels re-exported)
from ..core.patterns import MAX_PATTERNS
from ..core.solution import ITERATION_LIMIT, OPTIMAL
from ..core.validation import check_array, check_choice, check_positive
from ..core.variant import BIASES, MODELS
from ..exceptions import ConvergenceWarning, SolverError
from ..two_layer.program import lift_bias
from .program import VectorProgram, VectorSolution

#: Solvers of the vector programs ("auto" = "fista").
VECTOR_SOLVERS = ("auto", "fista", "clarabel", "scs", "mosek")
VECTOR_LOSSES = ("squared", "cross_entropy")


def check_vector_data(X: Any, y: Any, loss: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated (X, Y, classes): Y (n, c) float; classes for cross-entropy."""
    X = check_array("X", X, ndim=2)
    if loss == "cross_entropy":
        Y, classes = encode_labels(y)
    else:
        Y, classes = check_array("y", y, ndim=2), None
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and y have different numbers of samples: {X.shape[0]} != {Y.shape[0]}")
    n, c = Y.shape
    if c > n:
        raise ValueError(f"y has c = {c} outputs (columns/classes), more than n = {n} samples")
    return X, Y, classes


def fit_vector(X: Any, y: Any, *, beta: float, model: str = "relu", loss: str = "squared",
               patterns: Any = "auto", bias: str = "none", skip: bool = False,
               output_bias: bool = False, solver: str = "auto", seed: Any = None,
               prune: bool = True, tol: float | None = None, max_patterns: int = MAX_PATTERNS,
               verbose: bool = False, certify: bool = True, max_rounds: int = 200,
               time_limit: float | None = None, **solver_options):
    r"""Vector-output :func:`convexnn.fit` (see the module docstring).

    ``patterns``: gated: the gate set ("auto", "exact", int, array); relu: "auto" prices
    exactly when the arrangement is small, "exact" forces exact pricing, an int uses the
    ascent heuristic only.  ``tol``: the certified relative gap of the solves (default
    1e-8 gated, 1e-6 for the pricing threshold of relu).  The result's ``classes_`` holds
    the class labels (cross-entropy) or None.
    """
    from ..api import FitResult, resolve_patterns

    t0 = time.perf_counter()
    loss_name = get_loss(loss).name
    check_choice("loss", loss_name, VECTOR_LOSSES)
    X, Y, classes = check_vector_data(X, y, loss_name)
    check_positive("beta", beta)
    check_choice("model", model, MODELS)
    check_choice("bias", bias, BIASES)
    solver = check_choice("solver", solver, VECTOR_SOLVERS)
    solver = "fista" if solver == "auto" else solver
    if tol is not None:
        tol = check_positive("tol", tol)
    Xt, _ = lift_bias(X, bias)
    pset = None
    if model == "gated":
        pset = resolve_patterns(Xt, patterns, bias=bias, seed=seed, max_patterns=max_patterns)
    program = VectorProgram(X, Y, beta=beta, loss=loss_name, model=model, bias=bias, skip=skip,
                            output_bias=output_bias, patterns=pset)
    program.exact = (None if isinstance(patterns, str) and patterns == "auto"
                     else True if isinstance(patterns, str) and patterns == "exact" else False)
    t_patterns = time.perf_counter() - t0
    messages: list[str] = []
    if model == "gated":
        if time_limit is not None:  # each solver's own name for a time limit
            key = {"scs": "time_limit_secs", "mosek": "mosek_params"}.get(solver, "time_limit")
            if key != "mosek_params":
                solver_options.setdefault(key, time_limit)
        sol = _solve_gated(program, solver, tol=1e-8 if tol is None else tol, verbose=verbose,
                           **solver_options)
    else:
        from .neuron_generation import neuron_generation

        sol, pr, _ = neuron_generation(program, solver=solver, tol=1e-6 if tol is None else tol,
                                       exact=program.exact, max_rounds=max_rounds, seed=seed,
                                       time_limit=time_limit, verbose=verbose)
        program.pricing = pr
        if not pr.exhaustive:
            messages.append("pricing by ascent only (arrangement too large to enumerate): "
                            "the objective is an upper bound; the certificate is not exhaustive")
    if sol.status == ITERATION_LIMIT:
        msg = f"{sol.solver} stopped before its tolerance ({sol.solver_status})"
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        messages.append(msg)
    objective = program.objective(sol)
    t1 = time.perf_counter()
    network = program.recover(sol, prune=prune)
    recovered = program.network_objective(network)
    if abs(recovered - objective) > 1e-6 * max(1.0, abs(objective)):
        messages.append(f"recovered network objective {recovered:.10g} != convex {objective:.10g}")
    timings = {"patterns": t_patterns, "setup": sol.setup_time, "solve": sol.solve_time,
               "recover": time.perf_counter() - t1}
    exhaustive = (pset.exhaustive if model == "gated" else bool(program.pricing.exhaustive))
    result = FitResult(objective=objective, status=sol.status, network=network,
                       recovered_objective=recovered, problem=program._problem,
                       patterns=program.D, exhaustive=exhaustive, program=program, solution=sol,
                       solver=sol.solver, constraint_violation=0.0, timings=timings,
                       seed=seed if isinstance(seed, int | None) else None,
                       gates=None if pset is None else pset.gates, messages=messages)
    result.classes_ = classes
    if certify:
        from .certificate import certify_vector_fit

        result.certificate = certify_vector_fit(result)
        timings["certify"] = result.certificate.time
    timings["total"] = time.perf_counter() - t0
    return result


def _solve_gated(program: VectorProgram, solver: str, *, tol: float, verbose: bool = False,
                 **options) -> VectorSolution:
    """The gated nuclear-norm program by FISTA (certified gap) or cvxpy."""
    t0 = time.perf_counter()
    c = program.n_outputs
    if solver == "fista":
        from ..solvers.group_fista import fista, nuclear_group_operator

        op = nuclear_group_operator(program.Xt, program.D, c)
        r = fista(op, program.free_basis, program.y, program.loss, program.beta, tol=tol,
                  **options)
        return VectorSolution(A=r.A, V=r.B, status=r.status, solver="fista",
                              solver_status=f"gap {r.relative_gap:.2e} after {r.iterations} it",
                              objective_reported=r.objective, dual_bound=r.lower_bound,
                              iterations=r.iterations, solve_time=time.perf_counter() - t0)
    import cvxpy as cp

    prob = program.build()
    t1 = time.perf_counter()
    try:
        prob.solve(solver=solver.upper(), verbose=verbose, **options)
    except cp.error.SolverError as e:
        raise SolverError(f"{solver} failed on the gated vector program: {e}") from e
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise SolverError(f"{solver} returned status {prob.status!r} on the gated vector program")
    V = np.stack([np.asarray(v.value) for v in program.variables["V"]])
    A = program.variables["A"]
    Av = np.zeros((0, c)) if A is None else np.asarray(A.value)
    return VectorSolution(A=Av, V=V, status=OPTIMAL if prob.status == "optimal" else "inaccurate",
                          solver=solver, solver_status=prob.status,
                          objective_reported=float(prob.value), setup_time=t1 - t0,
                          solve_time=time.perf_counter() - t1)


def predict_labels(result, X: Any) -> np.ndarray:
    """Class labels (``result.classes_``) of the largest output for the rows of X."""
    if getattr(result, "classes_", None) is None:
        raise ValueError("result has no classes_ (not a cross-entropy fit)")
    return result.classes_[np.argmax(result.network.predict(X), axis=1)]


__all__ = ["fit_vector", "encode_labels", "predict_labels", "check_vector_data"]
