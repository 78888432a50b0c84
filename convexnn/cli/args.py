"""The data and model flags shared by ``convexnn solve`` and ``convexnn compare``.

Both :mod:`convexnn.cli` and :mod:`convexnn.training.compare` import these (so neither imports
the other's module for them).
"""

from __future__ import annotations

import argparse

from ..core.variant import DEFAULT_BIAS, Variant


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's help ends with its default, unless the help already states it or the
    default is None / False (absent flags)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


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
    from ..core.datasets import DATASETS

    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=DATASETS, default="diabetes",
                     help="a dataset bundled with scikit-learn (iris and wine: class 0 "
                          "against the rest)")
    src.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    p.add_argument("--target", metavar="COLUMN", help="label column of --csv")
    p.add_argument("--features", metavar="A,B,...", help="use only these feature columns "
                   "(default: all)")
    p.add_argument("--no-standardize", action="store_true",
                   help="keep raw features (without it: zero mean, unit variance; regression "
                        "targets likewise)")


def load_data(args: argparse.Namespace):
    """The Dataset named by the data arguments."""
    from ..core.datasets import load_csv, load_dataset

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
    p.add_argument("--model", choices=("relu", "gated"), default="relu",
                   help="ReLU network (C-ReLU) or gated ReLU network (C-GReLU)")
    p.add_argument("--loss", choices=("auto", "squared", "logistic", "hinge"), default="auto",
                   help="auto: squared for regression, logistic for +-1 labels")
    p.add_argument("--patterns", type=_patterns_arg, default="auto",
                   help="'exact' (every pattern: global optimum), 'generate' (pattern "
                        "generation, proven by branch and bound where the rank allows), an "
                        "integer number of sampled gates, or 'auto'")
    p.add_argument("--bias", choices=("none", "regularized", "free"), default=None,
                   help="hidden biases (default: regularized, as nn.Linear with weight decay)")
    p.add_argument("--skip", action="store_true", help="free linear skip term")
    p.add_argument("--output-bias", action="store_true", help="free output constant")
    p.add_argument("--solver", default="auto",
                   help="auto, working_set, clarabel, mosek or scs")
    p.add_argument("--seed", type=int, default=0, help="seed of the gate sampling")


def fit_kwargs(args: argparse.Namespace, task: str) -> dict:
    """The keyword arguments of :func:`convexnn.fit` from the parsed flags (loss "auto":
    squared for regression, logistic for labels; bias :data:`DEFAULT_BIAS`)."""
    loss = args.loss
    if loss == "auto":
        loss = "squared" if task == "regression" else "logistic"
    bias = DEFAULT_BIAS if args.bias is None else args.bias
    try:
        Variant(model=args.model, bias=bias)
    except ValueError as e:  # gated with a free bias is degenerate
        raise ValueError(str(e).replace("bias='", "--bias '").replace("model='", "--model '")) from None
    kw = dict(beta=args.beta, model=args.model, loss=loss, patterns=args.patterns,
              bias=bias, skip=args.skip, output_bias=args.output_bias,
              solver=args.solver, seed=args.seed)
    if getattr(args, "time_limit", None) is not None:
        kw["time_limit"] = args.time_limit
    return kw


__all__ = ["DEFAULT_BIAS", "HelpFormatter", "add_data_arguments", "add_model_arguments", "fit_kwargs",
           "load_data"]
