"""The ``convexnn`` command.

``convexnn solve``  solves a real dataset's convex program to the optimum over its
patterns, recovers the network and prints the certificate;
``convexnn compare`` trains the same network by SGD/Adam from many seeds against it;
``convexnn info``   lists the solvers available here (MOSEK license status included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence


def _patterns_arg(text: str):
    if text in ("auto", "exact", "generate"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--patterns must be 'auto', 'exact', 'generate' or an integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--patterns must be >= 1; got {value}")
    return value


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """--dataset / --csv / --target / --features / --no-standardize."""
    from .datasets import DATASETS

    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=DATASETS, default="diabetes",
                     help="a dataset bundled with scikit-learn (default: diabetes)")
    src.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    p.add_argument("--target", metavar="COLUMN", help="label column of --csv")
    p.add_argument("--features", metavar="A,B,...", help="use only these feature columns")
    p.add_argument("--no-standardize", action="store_true",
                   help="keep raw features (default: zero mean, unit variance; regression "
                        "targets likewise)")


def load_data(args: argparse.Namespace):
    """The Dataset named by the data arguments."""
    from .datasets import load_csv, load_dataset

    if args.csv:
        if not args.target:
            raise ValueError("--csv needs --target COLUMN")
        data = load_csv(args.csv, args.target)
    else:
        data = load_dataset(args.dataset)
    features = [f.strip() for f in args.features.split(",")] if args.features else None
    data = data.select(features)
    return data if args.no_standardize else data.standardized()


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of convexnn.fit."""
    p.add_argument("--beta", type=float, default=1.0, help="weight decay beta (sum-loss convention)")
    p.add_argument("--model", choices=("relu", "gated"), default="relu")
    p.add_argument("--loss", choices=("auto", "squared", "logistic", "hinge"), default="auto",
                   help="auto: squared for regression, logistic for +-1 labels")
    p.add_argument("--patterns", type=_patterns_arg, default="auto",
                   help="'exact' (every pattern: global optimum), an integer number of sampled "
                        "gates, or 'auto'")
    p.add_argument("--bias", choices=("none", "regularized", "free"), default="free")
    p.add_argument("--skip", action="store_true", help="free linear skip term")
    p.add_argument("--output-bias", action="store_true", help="free output constant")
    p.add_argument("--solver", default="auto", help="auto, clarabel, mosek, scs, or a fast solver")
    p.add_argument("--seed", type=int, default=0, help="seed of the gate sampling")


def fit_kwargs(args: argparse.Namespace, task: str) -> dict:
    loss = args.loss
    if loss == "auto":
        loss = "squared" if task == "regression" else "logistic"
    kw = dict(beta=args.beta, model=args.model, loss=loss, patterns=args.patterns,
              bias=args.bias, skip=args.skip, output_bias=args.output_bias,
              solver=args.solver, seed=args.seed)
    if getattr(args, "time_limit", None) is not None:
        kw["time_limit"] = args.time_limit
    return kw


def run_gradient_reference(data, kwargs: dict, result, width: int, seeds: int,
                           epochs: int) -> None:
    """Train the same network by torch L-BFGS (``seeds`` runs of ``width`` neurons) and
    print each objective next to the convex answer and its certified lower bound."""
    from .torch_backend import random_module, train

    cert = result.certificate
    lower = cert.lower_bound if cert is not None else float("-inf")
    best, total = float("inf"), 0.0
    for s in range(seeds):
        module = random_module(data.X.shape[1], width, model="relu", bias=kwargs["bias"],
                               skip=kwargs["skip"], output_bias=kwargs["output_bias"], seed=s)
        t0 = time.perf_counter()
        res = train(module, data.X, data.y, beta=kwargs["beta"], loss=kwargs["loss"],
                    optimizer="lbfgs", epochs=epochs, quiet=True, log_every=epochs)
        t = time.perf_counter() - t0
        best, total = min(best, res.objective), total + t
        print(f"L-BFGS (torch)   : width {width}, seed {s}, {epochs} iterations: objective "
              f"{res.objective:.10g} in {t:.2f}s "
              f"({'above' if res.objective >= lower else 'BELOW'} the certified lower bound)")
    ratio = result.recovered_objective / best
    print(f"convex vs L-BFGS : objective {result.recovered_objective:.10g} / best L-BFGS "
          f"{best:.10g} = {ratio:.6f}; fit {result.timings['total']:.2f}s against "
          f"{total:.2f}s for the {seeds} L-BFGS runs ({result.timings['total'] / total:.2f}x)")


def run_solve(args: argparse.Namespace) -> int:
    from .api import fit

    t0 = time.perf_counter()
    data = load_data(args)
    kwargs = fit_kwargs(args, data.task)
    print(f"convexnn solve: {data.name} (n={data.X.shape[0]}, d={data.X.shape[1]}: "
          f"{', '.join(data.feature_names[:6])}{', ...' if len(data.feature_names) > 6 else ''}), "
          f"{data.task}")
    result = fit(data.X, data.y, **kwargs)
    print(result.summary())
    print(f"wall time [s]    : {time.perf_counter() - t0:.3f} (including data loading and imports)")
    if args.lbfgs:
        run_gradient_reference(data, kwargs, result, args.lbfgs, args.lbfgs_seeds,
                               args.lbfgs_epochs)
    if args.save:
        path = result.network.save(args.save)
        print(f"network saved to : {path}")
    if args.json:
        record = {"dataset": data.name, "features": data.feature_names, **kwargs,
                  "status": result.status, "objective": result.objective,
                  "recovered_objective": result.recovered_objective,
                  "n_active": result.n_active, "n_patterns": int(result.patterns.shape[1]),
                  "exhaustive": result.exhaustive, "timings": result.timings}
        cert = result.certificate
        if cert is not None:
            record.update(lower_bound=cert.lower_bound, gap=cert.gap, certified=bool(cert.certified))
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2, default=str)
    return 0 if result.status == "optimal" else 2


def run_info(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    from .solvers import SOLVERS
    from .solvers.cvxpy_backend import module_available, mosek_license

    print("convexnn", md.version("convexnn") if module_available("convexnn") else "(source)")
    for pkg in ("numpy", "scipy", "cvxpy", "clarabel", "scs", "torch", "mosek"):
        try:
            print(f"  {pkg:9s} {md.version(pkg)}")
        except md.PackageNotFoundError:
            print(f"  {pkg:9s} not installed")
    ok, why = mosek_license()
    print(f"MOSEK usable: {ok} ({why})")
    print("solvers:", ", ".join(SOLVERS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convexnn", description="Train ReLU networks to certified global optimality.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="solve a dataset's convex program and certify it")
    add_data_arguments(p)
    add_model_arguments(p)
    p.add_argument("--save", metavar="FILE.npz", help="save the recovered network")
    p.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of pattern generation (default: fit's 60)")
    p.add_argument("--lbfgs", type=int, default=0, metavar="WIDTH",
                   help="also train width-WIDTH networks by torch L-BFGS on the same objective")
    p.add_argument("--lbfgs-seeds", type=int, default=2, help="L-BFGS runs (seeds)")
    p.add_argument("--lbfgs-epochs", type=int, default=500, help="L-BFGS iterations per run")
    p.set_defaults(func=run_solve)
    try:
        from .comparison import add_compare_parser
    except ImportError:  # the torch comparison is optional
        add_compare_parser = None
    if add_compare_parser is not None:
        add_compare_parser(sub)
    p = sub.add_parser("info", help="versions and available solvers")
    p.set_defaults(func=run_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as e:
        print(f"convexnn: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from .exceptions import ConvexNNError

        if isinstance(e, ConvexNNError):
            print(f"convexnn: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
