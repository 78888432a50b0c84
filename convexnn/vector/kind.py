r"""The vector-output program kind: Y of shape (n, c) (squared loss) or class labels
(softmax cross-entropy), THEORY C.

.. math::
    \min_\theta\ \ell\big((XW_1^\top + b_1)_+W_2 + XW_0 + 1c_0^\top;\ Y\big)
    + \tfrac\beta2\big(\|W_1\|_F^2 + \|W_2\|_F^2\ [+\|b_1\|^2]\big),\qquad W_2\in\mathbb R^{m\times c}.

* ``model="gated"``: the nuclear-norm group program over the gates' patterns (exact for
  gated networks), solved by FISTA with a certified gap, or by CVXPY;
* ``model="relu"``: neuron generation by the engine (:class:`~convexnn.neurons.pricer.NeuronPricer`),
  exact pricing by face enumeration where the arrangement is small.
"""

from __future__ import annotations

import time

import numpy as np

from ..core.patterns import make_patterns, resolve
from ..core.protocol import Plan
from ..core.solution import VectorSolution
from ..core.validation import check_options
from ..neurons.pricer import NEURON_SOLVERS, exact_pricing, neuron_plan, neuron_solver
from ..solvers.cvxpy_backend import solve_cvxpy
from ..solvers.options import accepted_options
from .program import VectorProgram

#: Solvers of the vector programs ("auto" = "fista").
VECTOR_SOLVERS = NEURON_SOLVERS
#: Options of FISTA (the gated program's default solver).
FISTA_OPTIONS = ("max_iter", "seed")


class VectorKind:
    """Two-layer networks with c outputs (see the module docstring)."""

    name = "vector"

    def accepts(self, spec) -> bool:
        return spec.depth == 2 and spec.vector

    def check(self, spec, data) -> None:
        if not spec.loss.multi_output:
            raise ValueError(f"vector output supports loss 'squared' or 'cross_entropy'; "
                             f"got {spec.loss.name!r}")
        if data.n_outputs > data.n_samples:
            raise ValueError(f"y has c = {data.n_outputs} outputs (columns/classes), more than "
                             f"n = {data.n_samples} samples")
        solver = neuron_solver(spec)
        if not spec.variant.gated:
            check_options("fit", spec.options, ())
        else:
            check_options("fit", spec.options,
                          FISTA_OPTIONS if solver == "fista" else accepted_options(solver))
        if spec.init and spec.variant.gated:
            raise ValueError("init is not supported for gated vector output")
        init_neurons(spec.init, data.X.shape[1], data.n_outputs, spec.variant.has_bias)

    def plan(self, spec, data):
        t0 = time.perf_counter()
        v = spec.variant
        pset = None
        if v.gated:
            Xt, _ = v.lift(data.X)
            patterns = spec.patterns
            if isinstance(patterns, str) and patterns == "auto":
                patterns = resolve(Xt, gated=True)
            pset = make_patterns(Xt, patterns, seed=spec.seed, max_patterns=spec.max_patterns,
                                 one_d_bias=Xt.shape[1] == 2 and v.has_bias)
        program = VectorProgram(data.X, data.y, beta=spec.beta, loss=spec.loss, patterns=pset,
                                classes=data.classes, **v.settings())
        program.exact = exact_pricing(spec.patterns)
        if v.gated:
            return Plan(program=program, solver=self.solver(spec), time=time.perf_counter() - t0)
        init = init_neurons(spec.init, data.X.shape[1], data.n_outputs, v.has_bias)
        return neuron_plan(program, spec, init, t0)

    def solver(self, spec):
        """The gated program's solver: ``solve(program) -> VectorSolution``."""
        name, tol = neuron_solver(spec), 1e-8 if spec.tol is None else spec.tol

        def solve(program):
            return _solve_gated(program, name, tol=tol, verbose=spec.verbose,
                                time_limit=spec.time_limit, **spec.options)

        return solve

    def certify(self, result):
        from .certificate import certify_vector_fit

        return certify_vector_fit(result)

    def takes_network(self, network, loss) -> bool:
        from ..networks.two_layer import Network

        return isinstance(network, Network) and (network.n_outputs > 1
                                                 or loss.targets == "onehot")

    def certify_network(self, network, X, y, **kwargs):
        from .certificate import certify_vector_public

        kwargs.setdefault("seed", 0)
        if kwargs["seed"] is None:
            kwargs["seed"] = 0
        return certify_vector_public(network, X, y, **kwargs)


KIND = VectorKind()


def init_neurons(init: tuple, d: int, c: int, has_bias: bool) -> tuple:
    r"""The neurons of the seed networks ``init`` on the lifted data, as pairs
    :math:`(W, G)`: rows :math:`(w_k, b_k)` (or :math:`w_k` without a bias column) and
    output weights :math:`W_2` of shape (m, c); torch modules are converted."""
    from ..networks.two_layer import Network

    out = []
    for net in init:
        net = Network.coerce(net)
        if net.input_dim != d or net.n_outputs != c or np.ndim(net.W2) != 2 or net.gates is not None:
            raise ValueError(f"init network has {net.input_dim} inputs and {net.n_outputs} "
                             f"outputs; X has {d} features and the targets {c} columns "
                             "(ReLU networks only)")
        if not has_bias and np.any(net.b1 != 0):
            raise ValueError("init network has hidden biases b1 but bias='none'")
        W = np.hstack([net.W1, net.b1[:, None]]) if has_bias else net.W1
        out.append((np.asarray(W, dtype=np.float64), np.asarray(net.W2, dtype=np.float64)))
    return tuple(out)


def _solve_gated(program: VectorProgram, solver: str, *, tol: float, verbose: bool = False,
                 time_limit: float | None = None, **options) -> VectorSolution:
    """The gated nuclear-norm program by FISTA (certified gap) or CVXPY."""
    if solver != "fista":
        if time_limit is not None and solver != "mosek":  # each solver's own name for it
            options.setdefault({"scs": "time_limit_secs"}.get(solver, "time_limit"), time_limit)
        return solve_cvxpy(program, solver=solver, verbose=verbose, **options)
    from ..solvers.group_fista import fista, nuclear_group_operator

    t0 = time.perf_counter()
    op = nuclear_group_operator(program.Xt, program.D, program.n_outputs)
    r = fista(op, program.free_basis, program.y, program.loss, program.beta, tol=tol,
              time_limit=time_limit, **options)
    return VectorSolution(A=r.A, V=r.B, status=r.status, solver="fista",
                          solver_status=f"gap {r.relative_gap:.2e} after {r.iterations} it",
                          objective_reported=r.objective, dual_bound=r.lower_bound,
                          iterations=r.iterations, solve_time=time.perf_counter() - t0)


__all__ = ["KIND", "VectorKind", "VECTOR_SOLVERS", "init_neurons"]
