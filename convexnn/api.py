r"""``convexnn.fit``: validate once into a spec, dispatch to the program kind, run the
pipeline.

.. math::
    \min_{\theta}\ \ell(f_\theta(X); y) + \tfrac{\beta}{2}\|\theta_\pi\|_2^2
    \;=\; \min_{v, w}\ \ell\Big(\sum_i D_i\tilde X(v_i - w_i)\Big) + \beta\sum_i(\|v_i\| + \|w_i\|)

(Pilanci & Ergen 2020; THEORY A.2-A.4, B, C, E.1).  The answer is re-evaluated in numpy:
the convex objective, the constraints, and the recovered network's non-convex objective,
which must equal the convex optimum (:mod:`convexnn.pipeline`).
"""

from __future__ import annotations

from typing import Any

from . import pipeline
from .core.patterns import MAX_PATTERNS
from .core.results import FitResult
from .core.spec import make_spec
from .core.variant import DEFAULT_BIAS
from .kinds import kind_for


def fit(X: Any, y: Any, *, beta: float, model: str = "relu", loss: str = "squared",
        depth: int = 2, path: str = "l2", m1: int = 2, patterns: Any = "auto",
        bias: str = DEFAULT_BIAS, skip: bool = False, output_bias: bool = False,
        solver: str = "auto", seed: Any = None, prune: bool = True, tol: float | None = None,
        max_patterns: int = MAX_PATTERNS, certify: bool = True, init: Any = None,
        time_limit: float | None = None, max_rounds: int | None = None, verbose: bool = False,
        progress: bool | None = None, conv: Any = None,
        **solver_options) -> FitResult:
    r"""Train a ReLU network to global optimality through its convex program, and certify it.

    Solves the convex program of

    .. math:: \min_\theta\ \sum_j\ell(f_\theta(x_j); y_j) + \tfrac{\beta}{2}\|\theta_\pi\|_2^2,

    recovers the weights, checks them in numpy, and attaches a dual certificate, for

    * ``depth=2``, scalar y: :math:`f = (XW_1^\top + b_1)_+W_2 + Xw_0 + c_0` (ReLU, or gated
      ReLU with ``model="gated"``; THEORY A, B);
    * ``depth=2``, y of shape (n, c) or ``loss="cross_entropy"``: the same with c outputs
      (THEORY C);
    * ``depth=3``: parallel three-layer networks
      :math:`f = \sum_k\alpha_k(\sum_j(Xw_{kj})_+c_{kj})_+` with path regularization
      (``path="l1"`` or ``"l2"``, first-layer width ``m1``; THEORY E.1);
    * ``conv=Conv(patch, stride, pooling)``: two-layer ReLU CNNs with sum or mean pooling,
      :math:`f = \sum_j\alpha_j\rho\sum_k(x_k^\top u_j + b_j)_+ + c_0` over the K patches
      :math:`x_k` of each image (THEORY D; scalar output).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Or, with ``conv``, signals (n, L) or images (n, H, W) / (n, C, H, W).
    y : array-like of shape (n,) or (n, c)
        Real targets (squared loss), labels in {-1, +1} (logistic, hinge), a target
        matrix (vector output), or class labels (cross-entropy).
    beta : float
        Weight decay, > 0.  For a mean loss with penalty lambda use ``beta = n * lambda``.
    model : {"relu", "gated"}, default="relu"
    loss : {"squared", "logistic", "hinge", "cross_entropy"}, default="squared"
    depth : {2, 3}, default=2
        Two-layer networks, or parallel three-layer networks with path regularization.
    path : {"l1", "l2"}, default="l2"
        The path regularizer of ``depth=3`` (THEORY E.1).
    m1 : int, default=2
        First-layer width of each three-layer sub-network (``path="l2"``).
    patterns : "auto", "exact", "generate", int or bool array of shape (n, P), default="auto"
        "exact" enumerates every pattern (the global optimum); "generate" grows the
        columns by pricing and local descent (:mod:`convexnn.generation`); an int samples that
        many Gaussian gates (the optimum over them, an upper bound); "auto" is exact when
        the arrangement has at most 1000 cells, else "generate" (ReLU) or 200 sampled
        gates (gated: optimal among networks with those gates).  For ``depth=3`` also a
        :class:`~convexnn.three_layer.groups.Groups`.
    bias : {"none", "regularized", "free"}, default="regularized"
        Hidden biases: absent, with weight decay (the default everywhere: the biases of a
        PyTorch ``nn.Linear`` trained with weight decay), or free (which also frees the
        output constant; branch and bound then cannot prove optima).
    skip : bool, default=False
        Free linear skip term :math:`X w_0`.
    output_bias : bool, default=False
        Free output constant :math:`c_0`.
    solver : str, default="auto"
        Two layers: "auto" (convexnn's certified working-set solver, falling back to
        Clarabel, MOSEK when licensed), "working_set", "clarabel", "mosek", "scs"; vector
        output: "auto" (FISTA), "fista", "clarabel", "scs", "mosek"; three layers:
        "auto" (Clarabel), "clarabel", "scs", "mosek".
    seed : int, numpy Generator or None
        Seed of every random step (recorded in the result); None means 0, so the same
        input gives the same answer.
    prune : bool, default=True
        Prune the solution to linearly independent neurons (at most n; THEORY A.3).
    tol : float, optional
        Solver tolerance (the solver's default when None).
    max_patterns : int, default=20000
        Refuse an exact enumeration that could exceed this many patterns.
    certify : bool, default=True
        Attach the dual certificate of the recovered network (:func:`convexnn.certify`).
    init : Network, torch module or list of them, optional
        Seed networks: their activation patterns join the program (any pattern set but
        "exact"), so the answer is never worse than any of them (THEORY A.10).
    time_limit : float, optional
        A cap in seconds on the column generation, checked between rounds.  By default the
        generation's budget counts rounds only, so the same input gives the same answer on
        any machine.
    max_rounds : int, optional
        The column generation's round budget (default: the program kind's, 50 for two
        layers).  The loop stops earlier when pricing finds no violated constraint (two
        layers: a round's search and a confirming search of 20,480 starts find none, or
        branch and bound proves it), or, for the kinds with a stall rule, when the
        objective stalls.
    verbose : bool, default=False
        Print the solver's and the generation's progress.
    progress : bool or None, default=None
        A progress bar on standard error: None shows one when it is a terminal.
    conv : Conv, optional
        The convolutional first layer of a two-layer CNN
        (:class:`~convexnn.core.conv.Conv`: patch size, stride, "mean" or "sum" pooling):
        the program's patterns are those of the stacked patch matrix (THEORY D); ``bias``
        "none" or "regularized", ``output_bias`` allowed, no ``skip``.
    **solver_options
        Options of the solver (refused with the list of accepted ones if unknown); for
        ``depth=3`` also ``exact_pricing`` ("auto", True, False: price over every group
        once the search finds nothing, tiny n only) and ``seed_runs`` (L-BFGS runs that
        seed the groups, default 3).

    Returns
    -------
    FitResult
    """
    spec, data = make_spec(X, y, beta=beta, model=model, loss=loss, depth=depth, path=path,
                           m1=m1, patterns=patterns, bias=bias, skip=skip,
                           output_bias=output_bias, solver=solver, seed=seed, prune=prune,
                           tol=tol, max_patterns=max_patterns, certify=certify, init=init,
                           time_limit=time_limit, max_rounds=max_rounds, verbose=verbose,
                           progress=progress, conv=conv,
                           **solver_options)
    kind = kind_for(spec)
    kind.check(spec, data)
    return pipeline.run(kind, spec, data)


def certify(network: Any, X: Any, y: Any, *, beta: float, loss: Any = "squared",
            **options) -> Any:
    r"""Certify (or refute) global optimality of any network by weak duality.

    .. math::
        -\ell^*(-\lambda_s) \;\le\; p^\star \;\le\; P(\theta),\qquad
        \lambda_s = \lambda\min(1, \beta/s),\quad \lambda = -\nabla\ell(f_\theta(X)),

    where :math:`s` bounds the dual norm of :math:`\lambda` (THEORY A.6-A.8, C, E.1): no
    network of any width has a training objective below the lower bound.  Dispatches on
    the network to its program kind: a scalar :class:`~convexnn.Network`
    (:func:`convexnn.two_layer.certificate.certify`: ``bias``, ``skip``, ``output_bias``,
    ``patterns``, ``seed``, ``tol``, ``n_samples``, ``refine``, ``time_limit``), a vector-output
    one (:func:`convexnn.vector.certificate.certify_vector_public`), or a
    :class:`~convexnn.ParallelNetwork` (``groups``).

    Returns
    -------
    Certificate
    """
    from .core.losses import get_loss
    from .kinds import kind_for_network

    kind = kind_for_network(network, get_loss(loss))
    return kind.certify_network(network, X, y, beta=beta, loss=loss, **options)


__all__ = ["FitResult", "certify", "fit"]
