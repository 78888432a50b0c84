r"""``convexnn.fit``: solve a two-layer network's convex program, recover, and check.

.. math::
    \min_{\theta}\ \ell(f_\theta(X); y) + \tfrac{\beta}{2}\|\theta\|_2^2
    \;=\; \min_{v, w}\ \ell\Big(\sum_i D_i\tilde X(v_i - w_i)\Big) + \beta\sum_i(\|v_i\| + \|w_i\|)

(Pilanci & Ergen 2020; THEORY A.2-A.4).  The answer is re-evaluated in numpy: the convex
objective, the cone constraints, and the recovered network's non-convex objective, which
must equal the convex optimum.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .core.losses import get_loss
from .core.patterns import (
    AUTO_EXACT_LIMIT,  # noqa: F401 (re-exported: the "auto" rule is patterns.resolve)
    AUTO_SAMPLES,  # noqa: F401
    MAX_PATTERNS,
    PatternSet,
    gates_for_patterns,
    make_patterns,
    resolve,
    unique_patterns,
)
from .core.solution import (
    FAILED,
    INACCURATE,
    INFEASIBLE,
    ITERATION_LIMIT,
    OPTIMAL,
    UNBOUNDED,
    ConvexSolution,
)
from .core.threads import limit_blas, small_problem_threads, solve_threads
from .core.transient import Transient
from .core.validation import (
    check_choice,
    check_num_threads,
    check_options,
    check_positive,
    check_tol,
    check_X_y,
)
from .exceptions import (
    ConvergenceWarning,
    InaccurateSolutionWarning,
    SolverError,
    UnrealizablePatternsError,
)
from .generation import generate
from .networks.two_layer import Network
from .solvers.registry import SOLVERS, choose_solver
from .solvers.options import accepted_options
from .two_layer.program import BIASES, MODELS, TwoLayerProgram, free_term_basis, lift_bias

#: Pattern generation (``patterns="generate"``, the ReLU "auto" beyond enumeration):
#: rounds at most (its default time budget: :data:`convexnn.generation.PROVABLE_TIME`
#: and :data:`~convexnn.generation.SEED_RUNS_BUDGET`).
GENERATE_ROUNDS = 50
#: Certified relative gap of each master program (the certificate's default tolerance).
GENERATE_TOL = 1e-5
#: Relative tolerance of the numpy re-evaluation checks.
CHECK_RTOL = 1e-5


@dataclass
class FitResult(Transient):
    """What :func:`fit` returns.

    Attributes
    ----------
    objective : float
        The convex optimum over ``patterns``, recomputed in numpy.
    status : str
        "optimal", "inaccurate", "iteration_limit" (see :mod:`convexnn.core.solution`).
    network : Network
        The recovered network.
    recovered_objective : float
        The network's non-convex objective (equals ``objective`` at an optimum).
    problem : cvxpy.Problem or None
        The cvxpy problem, where a cvxpy solver was used.
    patterns : ndarray of bool, shape (n, P)
        The activation patterns actually used.
    exhaustive : bool
        Whether ``patterns`` is every cell of the arrangement (then ``objective`` is the
        global optimum of the non-convex problem for every width >= the network's).
    certificate : Certificate or None
        The dual certificate of ``network`` (attached when ``certify=True``).
    generation : GenerationReport or None
        The rounds of pattern generation (``patterns="generate"``).
    """

    objective: float
    status: str
    network: Network
    recovered_objective: float
    problem: Any
    patterns: np.ndarray
    exhaustive: bool
    program: TwoLayerProgram
    solution: ConvexSolution
    solver: str
    constraint_violation: float
    timings: dict[str, float]
    seed: Any = None
    gates: np.ndarray | None = None
    certificate: Any = None
    messages: list[str] = field(default_factory=list)
    generation: Any = None

    #: pickled as None (:class:`convexnn.core.transient.Transient`)
    _transient = ("problem",)

    @property
    def n_active(self) -> int:
        """Number of active neurons of the recovered network."""
        return self.network.width

    @property
    def beta(self) -> float:
        return self.program.beta

    def __repr__(self) -> str:  # a few lines (the generated one prints every array)
        from .core.reprs import fit_result

        return fit_result(self)

    def summary(self) -> str:
        """A short human-readable report."""
        p = self.program
        lines = [
            f"model            : {p.model} ({p.loss.name} loss, bias={p.bias}, skip={p.skip})",
            f"data             : n={p.n_samples}, d={p.X.shape[1]}, beta={p.beta:g}",
            f"patterns         : {p.n_patterns} ({'exact' if self.exhaustive else p.patterns.method})"
            + (f"; generation: {self.generation.summary_line()}" if self.generation else ""),
            f"solver / status  : {self.solver}"
            f"{' -> ' + self.solution.solver if self.solution.solver != self.solver else ''}"
            f" / {self.status} ({self.solution.solver_status})",
            f"convex objective : {self.objective:.10g}",
            f"network objective: {self.recovered_objective:.10g} "
            f"(rel. diff {_rel(self.recovered_objective, self.objective):.1e})",
            f"active neurons   : {self.n_active} (n = {p.n_samples})",
        ]
        if self.certificate is not None:
            lines.append(f"certificate      : {self.certificate.summary_line()}")
        t = self.timings
        lines.append("time [s]         : " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()))
        lines += [f"note             : {m}" for m in self.messages]
        return "\n".join(lines)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def resolve_patterns(Xt: np.ndarray, patterns: Any, *, bias: str, seed: Any,
                     max_patterns: int, model: str = "relu") -> PatternSet | str:
    """Build the pattern set for ``patterns`` ("auto", "exact", int, array or PatternSet);
    "generate" (also what "auto" means for ReLU beyond enumeration) is returned as is."""
    one_d_bias = Xt.shape[1] == 2 and bias != "none"
    if isinstance(patterns, str) and patterns == "auto":
        patterns = resolve(Xt, model)
    if isinstance(patterns, str) and patterns == "generate":
        return "generate"
    pset = make_patterns(Xt, patterns, seed=seed, max_patterns=max_patterns,
                         one_d_bias=one_d_bias)
    if model == "gated" and pset.gates is None:
        # refuse before the solve: the gated program needs a gate per pattern to be a
        # network at all (it failed in recovery, after the whole solve)
        raise UnrealizablePatternsError(
            "model='gated' needs a gate for every pattern, and some given columns are not "
            "activation patterns of X (the warning above counts them); keep only realizable "
            "columns, or use model='relu'")
    return pset


def init_directions(init: Any, X: np.ndarray, Xt: np.ndarray) -> np.ndarray | None:
    r"""The lifted neuron directions :math:`u_k` of the seed network(s) ``init``, shape
    (m, k); their patterns :math:`1[\tilde Xu_k \ge 0]` enter the program."""
    if init is None:
        return None
    nets = list(init) if isinstance(init, list | tuple) else [init]
    cols = []
    for net in nets:
        if not isinstance(net, Network):
            try:
                import torch
            except ImportError:  # pragma: no cover - torch is a dependency
                torch = None
            if torch is not None and isinstance(net, torch.nn.Module):
                net = Network.from_torch(net)
            else:
                raise TypeError("init must be a convexnn Network, a torch module or a list of "
                                f"them; got {type(net).__name__}")
        if net.n_outputs != 1 or net.input_dim != X.shape[1]:
            raise ValueError(f"init network has {net.input_dim} inputs and {net.n_outputs} "
                             f"outputs; X has {X.shape[1]} features (scalar output)")
        cols.append(net.lifted_directions(Xt.shape[1] > X.shape[1]))
    return np.vstack(cols)


def fit(X: Any, y: Any, *, beta: float, model: str = "relu", loss: str = "squared",
        patterns: Any = "auto", bias: str = "none", skip: bool = False,
        output_bias: bool = False, solver: str = "auto", seed: Any = None, prune: bool = True,
        tol: float | None = None, max_patterns: int = MAX_PATTERNS, verbose: bool = False,
        certify: bool = True, init: Any = None, time_limit: float | None = None,
        **solver_options) -> FitResult:
    r"""Train a two-layer (gated) ReLU network to global optimality over its patterns.

    Solves the convex program (C-ReLU or C-GReLU) of

    .. math:: \min_\theta\ \ell(f_\theta(X); y) + \tfrac{\beta}{2}\big(\|W_1\|_F^2
              + \|W_2\|_2^2 [+\|b_1\|^2]\big),\quad
              f_\theta(X) = (XW_1^\top + b_1)_+ W_2 + X w_0 + c_0,

    recovers the weights and checks them (THEORY A.2-A.4, B).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
        Real targets (squared loss) or labels in {-1, +1} (logistic, hinge).
    beta : float
        Weight decay, > 0.  For a mean loss with penalty lambda use ``beta = n * lambda``.
    model : {"relu", "gated"}, default="relu"
    loss : {"squared", "logistic", "hinge"}, default="squared"
    patterns : "auto", "exact", "generate", int or bool array of shape (n, P), default="auto"
        "exact" enumerates every pattern (global optimum); "generate" grows the pattern
        set by pricing and local descent (:mod:`convexnn.generation`; the certificate then
        proves the optimum by branch and bound, or bounds the gap); an int samples that
        many Gaussian gates (the optimum over them, an upper bound); "auto" is exact when
        the arrangement has at most 1000 cells, else "generate" (ReLU) or 200 sampled
        gates (gated: optimal among networks with those gates).
    bias : {"none", "regularized", "free"}, default="none"
        Hidden biases: absent, with weight decay, or free (which also frees the output
        constant).
    skip : bool, default=False
        Free linear skip term :math:`X w_0`.
    output_bias : bool, default=False
        Free output constant :math:`c_0`.
    solver : {"auto", "working_set", "clarabel", "mosek", "scs"}, default="auto"
        "auto": convexnn's certified working-set solver, falling back to Clarabel (MOSEK
        when licensed) when it cannot certify its answer.
    seed : int, numpy Generator or None
        Seed of the gate sampling (recorded in the result).
    prune : bool, default=True
        Prune the solution to linearly independent neurons (at most n; THEORY A.3).
    tol : float, optional
        Solver tolerance (solver default when None).
    max_patterns : int, default=20000
        Refuse an exact enumeration that could exceed this many patterns.
    certify : bool, default=True
        Attach the dual certificate of the recovered network (:func:`convexnn.certify`).
    init : Network, torch module or list of them, optional
        Seed networks: their activation patterns join the program (any pattern set but
        "exact"), so the answer is never worse than any of them (THEORY A.10).
    time_limit : float, optional
        Seconds for the pattern generation.  Default: 20 where branch and bound can prove
        the optimum (every coordinate penalized, rank of the lifted data <= 6; its exact
        pricing may take up to 60 s more); elsewhere four times the seed's L-BFGS run,
        about the time of two gradient-training runs -- pass a larger value to search
        longer.  A round that would end past the budget is not started.  The
        certificate's branch and bound has its own budget
        (:func:`convexnn.duality.certificates.certify_fit`).

    Returns
    -------
    FitResult
    """
    if loss == "cross_entropy" or np.ndim(y) == 2 and np.shape(y)[1] > 1:  # vector output
        from .vector.fit import fit_vector

        return fit_vector(X, y, beta=beta, model=model, loss=loss, patterns=patterns, bias=bias,
                          skip=skip, output_bias=output_bias, solver=solver, seed=seed,
                          prune=prune, tol=tol, max_patterns=max_patterns, verbose=verbose,
                          certify=certify, time_limit=time_limit, **solver_options)
    if solver_options.get("depth", 2) != 2:  # deeper networks (THEORY E.1): convexnn.three_layer.fit
        from .three_layer.fit import fit_depth

        return fit_depth(X, y, beta=beta, loss=loss, patterns=patterns, seed=seed,
                         certify=certify, verbose=verbose, time_limit=time_limit,
                         **solver_options)
    solver_options.pop("depth", None)
    t0 = time.perf_counter()
    check_options("fit", solver_options, accepted_options(choose_solver(solver, None)))
    if "num_threads" in solver_options:
        solver_options["num_threads"] = check_num_threads(solver_options["num_threads"])
    tol = check_tol("tol", tol)
    X, y = check_X_y(X, y)
    check_positive("beta", beta)
    check_choice("model", model, MODELS)
    check_choice("bias", bias, BIASES)
    loss_obj = get_loss(loss)
    y = loss_obj.check_targets(y)
    name = choose_solver(solver, None)
    if time_limit is not None:
        time_limit = check_positive("time_limit", time_limit)
    # one BLAS thread throughout for small data: a multithreaded numpy product leaves its
    # pool's workers spinning for ~0.1 s, against the solver's widened products
    # (convexnn.core.threads.wide_products; measured: the first four Schur complements of a
    # diabetes solve took 10-24 ms instead of 6)
    with limit_blas(solve_threads(solver_options.get("num_threads", "auto")),
                    n_samples=X.shape[0]):
        Xt, free = lift_bias(X, bias)
        seeds = init_directions(init, X, Xt)
        pset = resolve_patterns(Xt, patterns, bias=bias, seed=seed, max_patterns=max_patterns,
                                model=model)

        def make(ps: PatternSet) -> TwoLayerProgram:
            return TwoLayerProgram(X, y, beta=beta, loss=loss_obj, model=model, bias=bias,
                                   skip=skip, output_bias=output_bias, patterns=ps)

        if isinstance(pset, str):  # "generate"
            if model != "relu":
                raise ValueError("patterns='generate' grows ReLU pattern sets; for model='gated' "
                                 "pass an int (sampled gates) or 'exact'")
            constant = bool(output_bias) or bias == "free"

            def solve(prog):
                # the masters to the certificate's tolerance (1e-5) unless told otherwise
                return SOLVERS[name](prog, verbose=False, tol=GENERATE_TOL if tol is None else tol,
                                     **solver_options)

            program, sol, report = generate(
                make, X, y, Xt, beta=beta, loss=loss_obj, free=free,
                F=free_term_basis(X, bool(skip), constant), solve=solve, init_directions=seeds,
                seed=seed, time_limit=time_limit,
                max_rounds=GENERATE_ROUNDS, verbose=verbose)
            return solve_program(program, name, verbose=verbose, tol=tol, prune=prune,
                                 certify=certify, seed=seed, t_start=t0, solution=sol,
                                 t_patterns=report.time, generation=report, **solver_options)
        if seeds is not None and not pset.exhaustive:
            pset = _with_seeds(pset, seeds, Xt, model)
        program = make(pset)
        t_patterns = time.perf_counter() - t0

        return solve_program(program, name, verbose=verbose, tol=tol, prune=prune, certify=certify,
                             seed=seed, t_start=t0, t_patterns=t_patterns, **solver_options)


def _with_seeds(pset: PatternSet, seeds: np.ndarray, Xt: np.ndarray, model: str) -> PatternSet:
    """``pset`` plus the patterns of the seed networks' directions ``seeds`` (m, k), which
    are their gates: no search is needed for them."""
    Ds = (Xt @ seeds.T) >= 0
    if pset.gates is not None:
        D, gates = unique_patterns(np.concatenate([pset.D, Ds], axis=1),
                                   np.vstack([pset.gates, seeds]))
    else:
        D, _ = unique_patterns(np.concatenate([pset.D, Ds], axis=1))
        gates = gates_for_patterns(D, Xt) if model == "gated" else None
    keep = D.any(axis=0)
    return PatternSet(D[:, keep], None if gates is None else gates[keep], exhaustive=False,
                      method=pset.method + "+init", seed=pset.seed)


def solve_program(program: TwoLayerProgram, solver: str, *, verbose: bool = False,
                  tol: float | None = None, prune: bool = True, certify: bool = True,
                  seed: Any = None, t_start: float | None = None, t_patterns: float = 0.0,
                  solution: ConvexSolution | None = None, generation: Any = None,
                  **solver_options) -> FitResult:
    """Solve a built program with the named solver, re-check in numpy, recover, certify.

    The steps of :func:`fit` after the patterns; :func:`convexnn.path.regularization_path`
    calls it for every beta with ``program.with_beta(beta)``.  A ``solution`` already
    computed (pattern generation) is checked instead of solving again.
    """
    # as in fit: no spinning numpy pool
    with limit_blas(solve_threads(solver_options.get("num_threads", "auto")),
                    n_samples=program.n_samples):
        return _solve_program(program, solver, verbose=verbose, tol=tol, prune=prune,
                              certify=certify, seed=seed, t_start=t_start, t_patterns=t_patterns,
                              solution=solution, generation=generation, **solver_options)


def _solve_program(program: TwoLayerProgram, solver: str, *, verbose: bool, tol: float | None,
                   prune: bool, certify: bool, seed: Any, t_start: float | None,
                   t_patterns: float, solution: ConvexSolution | None, generation: Any,
                   **solver_options) -> FitResult:
    """:func:`solve_program` inside its BLAS cap."""
    t0 = time.perf_counter() if t_start is None else t_start
    name = solver
    if solution is None:
        sol = SOLVERS[name](program, verbose=verbose, tol=tol, **solver_options)
    else:
        sol = solution
    messages: list[str] = []
    status = sol.status
    at = f" at beta={program.beta:g}"
    if status in (FAILED, INFEASIBLE, UNBOUNDED):
        raise SolverError(
            f"{name} returned status {sol.solver_status!r}{at}; try another solver "
            "(solver='scs' or 'clarabel'), fewer patterns, or verbose=True")
    if status == ITERATION_LIMIT:
        msg = f"{name} stopped at its iteration limit{at}; raise max_iter or loosen tol"
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        messages.append(msg)

    # re-evaluate in numpy: objective and cone constraints
    objective = program.objective(sol)
    violation = program.constraint_violation(sol)
    if np.isfinite(sol.objective_reported) and _rel(objective, sol.objective_reported) > CHECK_RTOL:
        messages.append(f"solver objective {sol.objective_reported:.10g} != numpy {objective:.10g}")
    if violation > CHECK_RTOL:
        messages.append(f"cone constraints violated by {violation:.2e} (relative)")
    if "near_tol" in sol.info:
        messages.append(f"working_set: {sol.info['near_tol']}")

    t1 = time.perf_counter()
    with small_problem_threads(program.n_samples):  # SVDs of order n: one thread when small
        network = program.recover(sol, prune=prune)
    network = replace(network, training=training_settings(program))
    recovered = program.network_objective(network)
    t_recover = time.perf_counter() - t1
    if _rel(recovered, objective) > CHECK_RTOL:
        messages.append(f"recovered network objective {recovered:.10g} != convex {objective:.10g}")
    if status == OPTIMAL and messages:
        status = INACCURATE
    if status == INACCURATE:
        warnings.warn(f"{name}: inaccurate solution{at}: " + ("; ".join(messages) or sol.solver_status),
                      InaccurateSolutionWarning, stacklevel=3)

    timings = {"patterns": t_patterns, "setup": sol.setup_time, "solve": sol.solve_time,
               "recover": t_recover}
    if solution is not None:  # pattern generation: its rounds include every solve
        timings = {"generation": t_patterns, "recover": t_recover}
    result = FitResult(
        objective=objective, status=status, network=network, recovered_objective=recovered,
        problem=getattr(program, "_problem", None), patterns=program.D,
        exhaustive=program.patterns.exhaustive, program=program, solution=sol, solver=name,
        constraint_violation=violation, timings=timings,
        seed=seed if isinstance(seed, int | None) else None, gates=program.patterns.gates,
        messages=messages, generation=generation)
    if certify:
        with small_problem_threads(program.n_samples):
            result.certificate = _certify(result)
        timings["certify"] = result.certificate.time if result.certificate is not None else 0.0
    timings["total"] = time.perf_counter() - t0
    return result


def training_settings(program: TwoLayerProgram) -> dict:
    """The settings a network was trained with (saved with it by :meth:`Network.save`)."""
    return {"model": program.model, "loss": program.loss.name, "beta": float(program.beta),
            "bias": program.bias, "skip": bool(program.skip),
            "output_bias": bool(program.output_bias)}


def _certify(result: FitResult):
    """The dual certificate of a fit (:func:`convexnn.duality.certificates.certify_fit`)."""
    from .duality.certificates import certify_fit

    return certify_fit(result)


def cone_decomposition(result: FitResult):
    """Map a gated fit to a ReLU network with the same training predictions (THEORY B)."""
    from .two_layer.cone_decomposition import decompose

    return decompose(result.program, result.solution)
