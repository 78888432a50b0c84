"""``convexnn compare``: the convex optimum against SGD/Adam training of the same network
from many seeds (:func:`convexnn.training.compare.compare`); the data and model flags are
those of ``convexnn solve`` (:mod:`convexnn.cli.args`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..core.validation import check_int
from .args import HelpFormatter, add_data_arguments, add_model_arguments, fit_kwargs, load_data


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to an argparse ``subparsers`` (sets ``func``)."""
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
    from ..training.compare import compare

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



__all__ = ["add_compare_parser", "run_compare"]
