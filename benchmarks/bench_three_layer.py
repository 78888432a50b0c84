"""Three-layer benchmark: the default parallel fit against gradient runs of the same
architecture on real data (issue 24).

For each data set (standardized X; diabetes: standardized y, squared loss; breast cancer:
labels +-1, logistic loss), beta = 1, the default ``bias="regularized"``, and each path norm
("l1", "l2"), in one process:

1. the default ``convexnn.fit(X, y, beta=1, depth=3, path=path, loss=loss)`` (group
   generation, m1 = 2): objective, certified lower bound (the relaxed dual norm, a valid
   global bound), relative gap, seconds, sub-networks, status;
2. gradient runs of the same parallel architecture (K sub-networks of first-layer width
   m1 = 2, regularized first-layer biases, the same objective) from seeds 0, 1, ...:
   ``--runs`` full-batch L-BFGS runs (``--lbfgs-iter`` iterations) and ``--adam-runs`` Adam
   runs (``--adam-steps`` steps);

and the ratios: best gradient objective / fit objective (>= 1: the fit is not worse) and fit
seconds / all gradient seconds.  Every gradient objective is checked to be above the
certified lower bound (weak duality).

Usage: ``python benchmarks/bench_three_layer.py [--data diabetes breast_cancer]
[--paths l1 l2] [--runs 5] [--adam-runs 1] [--out benchmarks/results/three_layer.md]``.
Torch uses one thread throughout (fits and runs alike).  The machine may be shared: only
the ratios of one run are meaningful.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DATA = ("diabetes", "breast_cancer")


def load(name: str):
    """Standardized X, the targets and the loss of data set ``name``."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        y, loss = (y - y.mean()) / y.std(), "squared"
    else:
        X, y = load_breast_cancer(return_X_y=True)
        y, loss = 2.0 * y - 1.0, "logistic"
    sd = X.std(0)
    return (X - X.mean(0)) / np.where(sd > 0, sd, 1.0), y, loss


def gradient_runs(X, y, *, loss, path, beta, K, runs, adam_runs, lbfgs_iter, adam_steps):
    """Objectives and seconds of the L-BFGS and Adam runs (seeds 0, 1, ...)."""
    from convexnn.training.parallel import train_parallel

    out = []
    jobs = [("lbfgs", s, lbfgs_iter) for s in range(runs)]
    jobs += [("adam", s, adam_steps) for s in range(adam_runs)]
    for opt, seed, its in jobs:
        t = time.perf_counter()
        run = train_parallel(X, y, beta=beta, path=path, K=K, m1=2, loss=loss, seed=seed,
                             max_iter=its, bias="regularized", optimizer=opt)
        out.append((opt, run.objective, time.perf_counter() - t))
    return out


def row(name: str, path: str, args) -> dict:
    """The default fit, then the gradient runs, for one data set and path norm."""
    import convexnn as cn

    X, y, loss = load(name)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = cn.fit(X, y, beta=args.beta, depth=3, path=path, loss=loss)
    t_fit = time.perf_counter() - t
    runs = gradient_runs(X, y, loss=loss, path=path, beta=args.beta, K=args.K, runs=args.runs,
                         adam_runs=args.adam_runs, lbfgs_iter=args.lbfgs_iter,
                         adam_steps=args.adam_steps)
    cert = r.certificate
    for _, obj, _ in runs:
        assert cert.lower_bound <= obj + 1e-9  # weak duality
    return {"data": name, "path": path, "n": X.shape[0], "d": X.shape[1], "loss": loss,
            "obj": r.recovered_objective, "lb": cert.lower_bound, "gap": cert.relative_gap,
            "t": t_fit, "K": r.network.n_subnetworks, "status": r.status,
            "rounds": r.generation.rounds, "stop": r.generation.stopped,
            "seed": r.generation.seed_objective, "warned": len(caught), "runs": runs}


def line(r: dict) -> str:
    lb = [o for opt, o, _ in r["runs"] if opt == "lbfgs"]
    ad = [o for opt, o, _ in r["runs"] if opt == "adam"]
    best = min(o for _, o, _ in r["runs"])
    t_all = sum(s for _, _, s in r["runs"])

    def fmt(v):
        return f"{min(v):.6g}" if v else "-"

    return (f"| {r['data']} | {r['path']} | {r['loss']} | {r['obj']:.8g} | {r['lb']:.4g} | "
            f"{r['gap']:.3f} | {r['t']:.1f} | {r['K']} | {r['status']} ({r['rounds']}, "
            f"{r['stop']}) | {fmt(lb)} | {fmt(ad)} | {t_all:.1f} | {best / r['obj']:.6f} | "
            f"{r['t'] / t_all:.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=list(DATA), choices=DATA)
    ap.add_argument("--paths", nargs="+", default=["l1", "l2"], choices=("l1", "l2"))
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--K", type=int, default=10, help="sub-networks of the gradient runs")
    ap.add_argument("--runs", type=int, default=5, help="L-BFGS runs")
    ap.add_argument("--adam-runs", type=int, default=1)
    ap.add_argument("--lbfgs-iter", type=int, default=2000)
    ap.add_argument("--adam-steps", type=int, default=5000)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    lines = [f"## Three-layer parallel ReLU (m1 = 2), beta={args.beta:g}, bias='regularized': "
             f"default fit vs {args.runs} L-BFGS ({args.lbfgs_iter} it.) + {args.adam_runs} "
             f"Adam ({args.adam_steps} steps) runs of K = {args.K} sub-networks",
             "| data | path | loss | fit obj | certified LB | rel. gap | fit s | K | status "
             "(rounds, stop) | best L-BFGS | best Adam | gradient s (all) | best gradient/fit obj "
             "| fit/gradient time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.data:
        for path in args.paths:
            lines.append(line(row(name, path, args)))
            print(lines[-1], flush=True)
    if args.out:
        cmd = "python " + " ".join(["benchmarks/bench_three_layer.py", *(argv or sys.argv[1:])])
        Path(args.out).write_text(f"# Three-layer benchmark\n\nCommand: `{cmd}`\n\n"
                                  + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
