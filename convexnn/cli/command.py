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

from .args import (
    HelpFormatter,
    add_data_arguments,
    add_model_arguments,
    fit_kwargs,
    load_data,
)
from .compare import add_compare_parser


def run_gradient_reference(data, kwargs: dict, result, width: int, seeds: int,
                           epochs: int) -> None:
    """Train the same network by torch L-BFGS (``seeds`` runs of ``width`` neurons) and
    print each objective next to the convex answer and its certified lower bound."""
    from ..training import random_module, train

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
    from ..api import fit

    t0 = time.perf_counter()
    data = load_data(args)
    kwargs = fit_kwargs(args, data.task)
    print(f"convexnn solve: {data.name} (n={data.X.shape[0]}, d={data.X.shape[1]}: "
          f"{', '.join(data.feature_names[:6])}{', ...' if len(data.feature_names) > 6 else ''}), "
          f"{data.task}")
    if data.note:
        print(f"note: {data.note}")
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

    from ..solvers.cvxpy_backend import module_available, mosek_license
    from ..solvers.registry import SOLVERS

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
    from .. import __version__

    fmt = HelpFormatter  # every flag's help shows its default
    parser = argparse.ArgumentParser(
        prog="convexnn", description="Train ReLU networks to certified global optimality.",
        formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"convexnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="solve a dataset's convex program and certify it",
                       formatter_class=fmt)
    add_data_arguments(p)
    add_model_arguments(p)
    p.add_argument("--save", metavar="FILE.npz", help="save the recovered network")
    p.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    p.add_argument("--time-limit", type=float, default=None,
                   help="a cap in seconds on the pattern generation (default: none; it "
                        "stops for a reason, never on a clock)")
    p.add_argument("--lbfgs", type=int, default=0, metavar="WIDTH",
                   help="also train width-WIDTH networks by torch L-BFGS on the same objective")
    p.add_argument("--lbfgs-seeds", type=int, default=2, help="L-BFGS runs (seeds)")
    p.add_argument("--lbfgs-epochs", type=int, default=500, help="L-BFGS iterations per run")
    p.set_defaults(func=run_solve)
    add_compare_parser(sub)
    p = sub.add_parser("info", help="versions and available solvers", formatter_class=fmt)
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
        from ..exceptions import ConvexNNError

        if isinstance(e, ConvexNNError):
            print(f"convexnn: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
