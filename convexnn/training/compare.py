r"""The convex optimum against gradient training of the same network, over many seeds.

:func:`compare` solves the convex program once (:func:`convexnn.fit`), giving
:math:`p^*`, then trains the non-convex network

.. math::  \min_\theta\ F(\theta) = \sum_j \ell(f_\theta(x_j); y_j)
           + \tfrac{\beta}{2}\|\theta_\pi\|_2^2

from random initialisations with each optimizer and width, and reports for every run
:math:`F(\theta_T)`, the gap :math:`F(\theta_T) - p^*` and, when
:mod:`convexnn.duality.certificates` is available, its dual certificate.  With every pattern
enumerated, :math:`p^* \le F(\theta)` for every network of every width (THEORY A.3), so a
negative gap beyond solver tolerance is a bug; with sampled patterns :math:`p^*` is only
an upper bound on the optimum and gaps may be negative.  Widths default to the support
size :math:`m^*` of the recovered optimum (the smallest width at which the optimum is
attainable); SGD at smaller widths can stall above :math:`p^*` (THEORY I11).

Runs are independent jobs of ``joblib.Parallel``; choose a Ray or Dask backend with
``joblib.parallel_config(backend=...)``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_int, check_n_jobs, check_positive, check_X_y
from ..losses import get_loss

#: Relative gap below which a run counts as having reached the optimum in tables.
REACHED_RTOL = 1e-3
#: With sampled patterns, a run whose relative gap is below -BELOW_RTOL went below the
#: sampled upper bound p_S (beyond the solver's certified accuracy): warned about.
BELOW_RTOL = 1e-6


class BelowSampledBoundWarning(UserWarning):
    """A gradient run ended below :math:`p_S`, the optimum over *sampled* patterns: p_S is
    only an upper bound on the global optimum, which the run shows is lower."""


@dataclass
class CompareResult:
    """What :func:`compare` returns.

    Attributes
    ----------
    optimum : FitResult
        The convex solve; ``optimum.objective`` is :math:`p^*`.
    certificate : Certificate or None
        Dual certificate of the optimum's network (None without :mod:`convexnn.duality.certificates`).
    runs : list of dict
        One per (optimizer, width, seed): "seed", "optimizer", "width", "objective",
        "gap" (:math:`F - p^*`), "rel_gap" (:math:`(F - p^*)/|p^*|`), "time" (training
        seconds), "epochs", "status", "grad_norm", "n_patterns", "lr", "batch_size",
        "history" (per logged epoch), "network", and "certificate", "certificate_gap",
        "lower_bound", "certified" (None without certificates).
    settings : dict
        The arguments of the comparison.
    """

    optimum: Any
    certificate: Any
    runs: list[dict]
    settings: dict
    time: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def optimum_value(self) -> float:
        """:math:`p^*` (with sampled patterns :math:`p_S`, an upper bound on it)."""
        return float(self.optimum.objective)

    @property
    def below_bound(self) -> list[dict]:
        """With sampled patterns, the runs that ended below :math:`p_S` (relative gap
        < -:data:`BELOW_RTOL`); always empty with exact patterns."""
        if self.optimum.exhaustive:
            return []
        return [r for r in self.runs if r["rel_gap"] < -BELOW_RTOL]

    def table(self, *, per_run: bool = False, rtol: float = REACHED_RTOL) -> str:
        """A text table: per (optimizer, width) by default, or one row per run.

        "reached" counts the runs with relative gap <= ``rtol``.
        """
        p = self.optimum_value
        exact = self.optimum.exhaustive
        name = "convex optimum p*" if exact else \
            "sampled upper bound p_S (the optimum over sampled patterns, not the global optimum)"
        head = [f"{name} = {p:.8g} ({'exact' if exact else 'sampled'} patterns: "
                f"{self.optimum.program.n_patterns}, support m* = {self.optimum.network.width}, "
                f"solve {self.optimum.timings.get('total', float('nan')):.2f} s)"]
        reached = "reached" if exact else "<= p_S"
        if per_run:
            cols = ["optimizer", "width", "seed", "objective", "gap", "rel.gap", "n_pat", "time[s]",
                    "status", "cert.gap"]
            rows = [[r["optimizer"], r["width"], r["seed"], _num(r["objective"]), _sci(r["gap"]),
                     _sci(r["rel_gap"]), r["n_patterns"], f"{r['time']:.2f}", r["status"],
                     _sci(r["certificate_gap"])] for r in self.runs]
        else:
            cols = ["optimizer", "width", "runs", "objective min", "median", "max", "rel.gap med",
                    reached, "time[s] med", "cert.gap med"]
            rows = []
            for (opt, width), group in self.groups().items():
                obj = np.array([r["objective"] for r in group], float)
                rel = np.array([r["rel_gap"] for r in group], float)
                cert = [r["certificate_gap"] for r in group if r["certificate_gap"] is not None]
                rows.append([opt, width, len(group), _num(np.nanmin(obj)), _num(np.nanmedian(obj)),
                             _num(np.nanmax(obj)), _sci(np.nanmedian(rel)),
                             f"{int(np.sum(rel <= rtol))}/{len(group)}",
                             f"{np.median([r['time'] for r in group]):.2f}",
                             _sci(np.median(cert)) if cert else "-"])
        tail = []
        if not exact:
            below = self.below_bound
            tail.append(f"rel.gap is relative to p_S; {len(below)}/{len(self.runs)} runs ended "
                        f"below the sampled upper bound p_S" + (
                            " (they show the global optimum is lower than p_S; patterns='exact' "
                            "gives the true p* where the arrangement is small enough)"
                            if below else ""))
        return "\n".join(head + [_render(cols, rows)] + tail)

    def groups(self) -> dict[tuple[str, int], list[dict]]:
        """The runs grouped by (optimizer, width), in run order."""
        groups: dict = {}
        for r in self.runs:
            groups.setdefault((r["optimizer"], r["width"]), []).append(r)
        return groups

    def plot(self, **kwargs):
        """Training curves against the optimum (:func:`convexnn.plotting.training.plot_training`)."""
        from ..plotting.training import plot_training

        return plot_training(self, **kwargs)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:  # a few lines (the generated one prints every run's history)
        from .._reprs import compare_result

        return compare_result(self)


def _num(x: Any) -> str:
    return "-" if x is None or np.isnan(x) else f"{x:.8g}"


def _sci(x: Any) -> str:
    return "-" if x is None or np.isnan(x) else f"{x:.2e}"


def _render(cols: list[str], rows: list[list]) -> str:
    cells = [cols] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- validation -----------------------------------------------------------------------------
def _run_seeds(seeds: Any, seed: Any) -> list[int]:
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        if not seeds:
            raise ValueError("seeds is an empty sequence")
        return [check_int("seeds", s, minimum=0) for s in seeds]
    count = check_int("seeds", seeds)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]


def _width_specs(widths: Any) -> list[tuple[str, int]]:
    """Parse widths: an int n -> ("abs", n); "m*" / "<k>m*" -> ("mult", k)."""
    if isinstance(widths, int | str) or not isinstance(widths, Sequence):
        widths = [widths]
    if not widths:
        raise ValueError("widths is empty")
    specs = []
    for w in widths:
        text = w.strip() if isinstance(w, str) else None
        if text is not None and text.isdigit():
            w, text = int(text), None
        if text is None:
            specs.append(("abs", check_int("widths", w)))
        elif text.endswith("m*") and (text[:-2] == "" or text[:-2].isdigit()) and text[:-2] != "0":
            specs.append(("mult", int(text[:-2] or 1)))
        else:
            raise ValueError(f"widths entries must be positive ints or 'm*', '2m*', ...; got {w!r}")
    return specs


def _per_optimizer(name: str, value: Any, optimizers: tuple[str, ...], check) -> dict:
    if isinstance(value, Mapping):
        unknown = set(value) - set(optimizers)
        if unknown:
            raise ValueError(f"{name} has keys {sorted(unknown)} that are not in optimizers={optimizers}")
        return {o: None if value.get(o) is None else check(value[o]) for o in optimizers}
    return {o: None if value is None else check(value) for o in optimizers}


# ---- one run (a joblib job) -----------------------------------------------------------------
def _gate_pool(fit_result, X: np.ndarray, bias: str) -> tuple[np.ndarray, np.ndarray]:
    """Gates for gated training: the optimum's support first, then the program's other
    gates, deduplicated by pattern (so width m* uses exactly the optimal gates)."""
    d = X.shape[1]
    net = fit_result.network
    Gs, g0s = [net.gates], [net.gate_bias]
    if fit_result.gates is not None:
        G = np.asarray(fit_result.gates)
        Gs.append(G[:, :d])
        g0s.append(G[:, d] if bias != "none" else np.zeros(G.shape[0]))
    G, g0 = np.vstack(Gs), np.concatenate(g0s)
    D = X @ G.T + g0 >= 0
    _, first = np.unique(np.packbits(D, axis=0), axis=1, return_index=True)
    keep = np.sort(first)
    keep = keep[D[:, keep].any(axis=0)]  # an all-off gate gives a dead neuron
    return G[keep], g0[keep]


def _certify_run(network, X, y, settings: dict) -> tuple[Any, str | None]:
    """The run's certificate (:func:`convexnn.duality.certificates.certify`).  A gated network is
    certified over the optimum's patterns, so that its lower bound is one on :math:`p^*`."""
    if not settings["certify"] or network is None:
        return None, None
    from ..duality.certificates import certify

    try:
        cert = certify(network, X, y, beta=settings["beta"], loss=settings["loss"],
                       bias=settings["bias"], skip=settings["skip"],
                       output_bias=settings["output_bias"], patterns=settings["certify_patterns"])
    except (NotImplementedError, ValueError) as e:
        return None, f"certify failed: {e}"
    return cert, None


def _train_run(X: np.ndarray, y: np.ndarray, job: dict, settings: dict) -> dict:
    """Train one randomly initialised network; returns the run's dict."""
    from .. import torch_backend as tb

    if os.getpid() != job["parent"]:  # a worker process: one torch and one BLAS thread
        from .._threads import worker_threads

        worker_threads(1)
    gates = gate_bias = None
    if settings["model"] == "gated":
        pool, pool_b = settings["gate_pool"]
        idx = np.arange(job["width"]) % pool.shape[0]
        gates, gate_bias = pool[idx], pool_b[idx]
    module = tb.random_module(X.shape[1], job["width"], model=settings["model"],
                              bias=settings["bias"], skip=settings["skip"],
                              output_bias=settings["output_bias"], gates=gates,
                              gate_bias=gate_bias, seed=job["seed"],
                              n_outputs=None if y.ndim == 1 else y.shape[1])
    res = tb.train(module, X, y, beta=settings["beta"], loss=settings["loss"],
                   optimizer=job["optimizer"], epochs=settings["epochs"], lr=job["lr"],
                   batch_size=job["batch_size"], seed=job["seed"], optimum=settings["optimum"],
                   log_every=settings["log_every"], quiet=True,
                   # one torch thread per worker *process*; never change the caller's setting
                   num_threads=1 if os.getpid() != job["parent"] else None)
    p = settings["optimum"]
    cert, note = _certify_run(res.network, X, y, settings)
    return {
        "seed": job["seed"], "optimizer": job["optimizer"], "width": job["width"],
        "objective": res.objective, "gap": res.gap, "rel_gap": res.gap / max(abs(p), 1e-300),
        "time": res.time, "epochs": res.epochs, "status": res.status,
        "grad_norm": res.grad_norm, "n_patterns": res.history["n_patterns"][-1],
        "lr": res.lr, "batch_size": res.batch_size, "history": res.history,
        "network": res.network, "certificate": cert,
        "certificate_gap": None if cert is None else float(cert.gap),
        "lower_bound": None if cert is None else float(cert.lower_bound),
        "certified": None if cert is None else bool(cert.certified),
        "messages": res.messages + ([note] if note else []),
    }


def _run_jobs(tasks: list, n_jobs: int | None, *, progress: bool) -> list:
    """Run joblib tasks in order, with a progress bar over finished runs when asked and
    the backend streams results (some backends, e.g. multiprocessing, do not)."""
    from joblib import Parallel

    if progress:
        try:
            stream = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        except ValueError:  # backend without generator output: no bar
            pass
        else:
            from tqdm.auto import tqdm

            return list(tqdm(stream, total=len(tasks), desc="compare", leave=False,
                             disable=None))
    return Parallel(n_jobs=n_jobs)(tasks)


# ---- public entry point ---------------------------------------------------------------------
def compare(X: Any, y: Any, *, beta: float, seeds: int | Sequence[int] = 20,
            optimizers: Sequence[str] = ("sgd", "adam"),
            widths: Sequence[int | str] | None = None,
            epochs: int = 1000, lr: float | Mapping[str, float] | None = None,
            batch_size: int | Mapping[str, int] | None = None, model: str = "relu",
            loss: str = "squared", bias: str = "none", skip: bool = False,
            output_bias: bool = False, patterns: Any = "auto", seed: int | None = 0,
            n_jobs: int | None = None, solver: str = "auto", log_every: int | None = None,
            certify: bool = True, quiet: bool = False) -> CompareResult:
    r"""Compare the convex optimum with gradient training of the same two-layer network.

    Solves :math:`p^* = \min_\theta \sum_j\ell(f_\theta(x_j); y_j) + \tfrac\beta2
    \|\theta_\pi\|^2` through its convex program (:func:`convexnn.fit`), then minimizes
    the same objective by each optimizer from ``seeds`` random initialisations at each
    width (:func:`convexnn.torch_backend.train`) and records :math:`F(\theta_T) - p^*`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
    beta : float
        Weight decay (> 0), THEORY section 0 scaling (mean loss with lambda: n * lambda).
    seeds : int or sequence of int, default=20
        Number of random initialisations (seeds drawn from ``seed``), or the seeds.  The
        same seeds are used for every optimizer and width.
    optimizers : sequence of {"gd", "sgd", "adam", "lbfgs"}, default=("sgd", "adam")
    widths : sequence of int or str, optional
        Hidden widths: ints, or multiples of the support size :math:`m^*` of the
        recovered optimum written ``"m*"``, ``"2m*"``, ``"10m*"``; default ``["m*"]``.
    epochs : int, default=1000
    lr : float or dict optimizer -> float, optional
        Step sizes (per optimizer when a dict); default
        :func:`convexnn.torch_backend.default_lr`.
    batch_size : int or dict optimizer -> int, optional
        Mini-batch sizes of "sgd" / "adam" (default min(32, n // 4) and n); a single int
        applies to those two, "gd" and "lbfgs" being full batch.
    model, loss, bias, skip, output_bias, patterns, solver
        As in :func:`convexnn.fit`.  A gated model trains networks whose fixed gates are
        the optimum's (width m*) followed by the program's other gates.
    seed : int or None, default=0
        Seed of the pattern sampling and of the run seeds.
    n_jobs : int, optional
        ``joblib.Parallel`` workers (None: joblib's default or the active
        ``parallel_config``); worker processes train with one torch thread each.
    log_every : int, optional
        Logging period in epochs (default: about 200 points per run).
    certify : bool, default=True
        Certify each run's network with :func:`convexnn.duality.certificates.certify` when that module
        exists (gated networks over the optimum's patterns).
    quiet : bool, default=False
        No progress bar (one is shown over the runs on a terminal).

    Returns
    -------
    CompareResult

    Notes
    -----
    Every optimizer minimizes :math:`F` itself: the penalty is in the back-propagated
    objective (coupled weight decay) and mini-batches use the unbiased
    :math:`\frac{n}{|B|}\sum_{j\in B}\ell_j`; AdamW is refused.

    References
    ----------
    Pilanci & Ergen (2020), "Neural networks are convex regularizers", ICML (the toy
    comparison of SGD with the convex program; THEORY I11).
    """
    from joblib import delayed

    from .. import torch_backend as tb
    from ..api import fit

    t0 = time.perf_counter()
    if loss == "cross_entropy" or np.ndim(y) == 2 and np.shape(y)[1] > 1:  # vector output
        from ..vector_fit import check_vector_data

        X, y, _ = check_vector_data(X, y, get_loss(loss).name)  # y: (n, c), one-hot for CE
    else:
        X, y = check_X_y(X, y)
    beta = check_positive("beta", beta)
    n_jobs = check_n_jobs(n_jobs)
    loss = get_loss(loss).name
    if isinstance(optimizers, str):
        optimizers = (optimizers,)
    optimizers = tuple(optimizers)
    if not optimizers:
        raise ValueError("optimizers is empty")
    for o in optimizers:
        try:
            tb.check_optimizer(o)
        except ValueError as e:
            raise ValueError(f"optimizers: {e}") from None
    epochs = check_int("epochs", epochs)
    run_seeds = _run_seeds(seeds, seed)
    lrs = _per_optimizer("lr", lr, optimizers, lambda v: check_positive("lr", v))
    batches = _per_optimizer("batch_size", batch_size, optimizers, lambda v: check_int("batch_size", v))
    if not isinstance(batch_size, Mapping):  # one size: for the mini-batch methods only
        batches.update({o: None for o in optimizers if o in ("gd", "lbfgs")})
    too_big = {o: b for o, b in batches.items() if b is not None and b > X.shape[0]}
    if too_big:
        raise ValueError(f"batch_size must be <= n = {X.shape[0]}; got {too_big}")
    width_specs = _width_specs(["m*"] if widths is None else widths)
    log_every = max(1, epochs // 200) if log_every is None else check_int("log_every", log_every)

    optimum = fit(X, y, beta=beta, model=model, loss=loss, patterns=patterns, bias=bias, skip=skip,
                  output_bias=output_bias, solver=solver, seed=seed)
    m_star = max(optimum.network.width, 1)
    widths = list(dict.fromkeys(n if k == "abs" else n * m_star for k, n in width_specs))
    settings = {"beta": beta, "loss": loss, "model": model, "bias": bias, "skip": bool(skip),
                "output_bias": bool(output_bias), "epochs": epochs, "log_every": log_every,
                "optimum": float(optimum.objective), "certify": bool(certify)}
    settings["certify_patterns"] = None
    if model == "gated":
        settings["gate_pool"] = _gate_pool(optimum, X, bias)
        settings["certify_patterns"] = optimum.patterns
    jobs = [{"optimizer": o, "width": w, "seed": s, "lr": lrs[o], "batch_size": batches[o],
             "parent": os.getpid()}
            for o, w, s in itertools.product(optimizers, widths, run_seeds)]

    runs = _run_jobs([delayed(_train_run)(X, y, job, settings) for job in jobs], n_jobs,
                     progress=not quiet and len(jobs) > 1)

    messages = [f"{r['optimizer']} width {r['width']} seed {r['seed']}: {m}"
                for r in runs for m in r["messages"]]
    below = [] if optimum.exhaustive else [r for r in runs if r["rel_gap"] < -BELOW_RTOL]
    if below:
        low = min(r["objective"] for r in below)
        msg = (f"{len(below)}/{len(runs)} runs ended below the sampled upper bound p_S = "
               f"{optimum.objective:.8g} (lowest {low:.8g}): p_S is the optimum over "
               f"{optimum.program.n_patterns} sampled patterns, not the global optimum; use "
               "patterns='exact' where feasible, or more sampled patterns")
        warnings.warn(msg, BelowSampledBoundWarning, stacklevel=2)
        messages.append(msg)
    settings.pop("gate_pool", None)
    settings.pop("certify_patterns")
    settings.update(seeds=run_seeds, optimizers=optimizers, widths=list(widths), lr=lrs,
                    batch_size=batches, patterns=patterns if isinstance(patterns, str | int) else "given",
                    seed=seed)
    return CompareResult(optimum=optimum, certificate=optimum.certificate, runs=runs,
                         settings=settings, time=time.perf_counter() - t0, messages=messages)


# ---- command line ---------------------------------------------------------------------------
# The data and model flags are those of ``convexnn solve`` (convexnn._cli_args).
def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to an argparse ``subparsers`` (sets ``func``)."""
    from .._cli_args import HelpFormatter, add_data_arguments, add_model_arguments

    p = subparsers.add_parser(
        "compare", help="convex optimum vs SGD/Adam training of the same network",
        formatter_class=HelpFormatter,
        description="Solve the convex program of a two-layer ReLU network, train the same "
                    "network by gradient methods from many seeds, print a table of the gaps "
                    "to the optimum and save the training curves.")
    add_data_arguments(p)
    add_model_arguments(p)
    p.add_argument("--n-samples", type=int, default=None, metavar="N",
                   help="random subsample of N points (seeded by --seed)")
    p.add_argument("--seeds", type=int, default=5, help="random initialisations per setting")
    p.add_argument("--optimizers", nargs="+", default=["sgd", "adam"],
                   help="any of gd, sgd, adam, lbfgs (default: sgd adam)")
    p.add_argument("--widths", nargs="+", default=None, metavar="W",
                   help="hidden widths: integers or multiples of the optimum's support size "
                        "written m*, 2m*, ... (default: m*)")
    p.add_argument("--epochs", type=int, default=1000, help="training epochs per run")
    p.add_argument("--lr", type=float, default=None, help="step size (default: per optimizer)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch size of sgd and adam (default: min(32, n // 4) and n)")
    p.add_argument("--n-jobs", type=int, default=1, help="joblib workers")
    p.add_argument("--out", default=".", help="folder for the figure and the tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_compare)
    return p


def run_compare(args: argparse.Namespace) -> int:
    """Run ``convexnn compare``: print the table and save ``compare_<data>.png`` and
    ``compare_<data>.txt`` (with the per-run table) into ``--out``.  Returns 0."""
    from .._cli_args import fit_kwargs, load_data

    data = load_data(args)
    X, y = data.X, data.y
    if args.n_samples is not None:
        n = check_int("--n-samples", args.n_samples)
        if n < X.shape[0]:
            keep = np.sort(np.random.default_rng(args.seed).choice(X.shape[0], n, replace=False))
            X, y = X[keep], y[keep]
    kwargs = fit_kwargs(args, data.task)
    result = compare(X, y, seeds=args.seeds, optimizers=args.optimizers, widths=args.widths,
                     epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                     n_jobs=args.n_jobs, quiet=args.quiet, **kwargs)
    if data.note:
        print(f"note: {data.note}")
    text = (f"convexnn compare: {data.name} (n={X.shape[0]}, d={X.shape[1]}), {data.task}, "
            f"{kwargs['model']}, loss={kwargs['loss']}, bias={kwargs['bias']}, "
            f"beta={kwargs['beta']:g}, {args.epochs} epochs\n{result.table()}")
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"compare_{data.name}"
    (out / f"{stem}.txt").write_text(f"{text}\n\n{result.table(per_run=True)}\n")
    names = data.feature_names
    columns = ", ".join(names) if len(names) <= 4 else f"{len(names)} features"
    fig = result.plot(title=f"{data.name} ({columns}): convex optimum vs gradient training")
    fig.savefig(out / f"{stem}.png", dpi=120)
    print(f"saved {out / stem}.png and {stem}.txt")
    return 0


__all__ = ["compare", "CompareResult", "BelowSampledBoundWarning", "add_compare_parser",
           "run_compare"]
