"""Convex two-layer CNN benchmark: digits, the convex fit against ten torch L-BFGS runs.

Two classes of scikit-learn's 8 x 8 digits (3 vs 8, 300 images, labels +-1, squared loss),
a two-layer ReLU CNN with 3 x 3 patches, stride 1, mean pooling and regularized filter
biases.  For each beta, in the same run:

1. ``convexnn.fit(images, y, conv=Conv(patch=3))`` (the default: pattern generation, the
   working-set solver with pooling, the certificate): objective, recovered objective, the
   certificate's lower bound, time;
2. ten L-BFGS runs (torch, float64, strong Wolfe, seeds 0..9) of the same CNN and penalty
   at width 2 m* (at least 16): objective and time of each;

and the table prints the ratios convex / best run and total L-BFGS time / fit time.

``--classes 0 1 2`` runs the vector-output CNN instead: those digit classes, the labels
with ``loss="cross_entropy"`` (one output per class; neuron generation on the stacked
patches), against L-BFGS of the same 3-output CNN.

Usage: ``python benchmarks/bench_cnn.py [--betas 1.0 0.1] [--runs 10] [--n 300]
[--lbfgs-iter 2000] [--classes 0 1 2]``.  About 6 minutes per beta on 2 shared cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def digits(n: int, a: int = 3, b: int = 8):
    from sklearn.datasets import load_digits

    d = load_digits()
    mask = (d.target == a) | (d.target == b)
    return d.images[mask][:n] / 16.0, np.where(d.target[mask][:n] == a, 1.0, -1.0)


def digit_classes(n: int, classes: list[int]):
    """The first n images of the given classes, with their labels (cross-entropy)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    mask = np.isin(d.target, classes)
    return d.images[mask][:n] / 16.0, d.target[mask][:n]


def row(X, y, beta: float, runs: int, max_iter: int, loss: str = "squared") -> dict:
    import convexnn as cn
    from convexnn.training.conv_train import train_conv

    conv = cn.Conv(patch=3, pooling="mean")
    t = time.perf_counter()
    fit = cn.fit(X, y, beta=beta, conv=conv, loss=loss, seed=0)
    t_fit = time.perf_counter() - t
    width = max(2 * fit.network.width, 16)
    lbfgs = [train_conv(X, y, conv=conv, width=width, beta=beta, loss=loss, seed=s,
                        max_iter=max_iter) for s in range(runs)]
    return {"beta": beta, "fit": fit, "t_fit": t_fit, "width": width, "runs": lbfgs}


def print_row(r: dict) -> None:
    fit, runs = r["fit"], r["runs"]
    objs = np.array([x.objective for x in runs])
    times = np.array([x.time for x in runs])
    best = objs.min()
    gen = fit.generation
    cols = (f"{fit.program.n_patterns} generated patterns" if fit.program.n_patterns
            else "generated filters")
    print(f"\nbeta = {r['beta']:g}: convex fit over {cols} ({gen.rounds} rounds, stopped: "
          f"{gen.stopped}), {fit.network.width} filters")
    print(f"  {'method':<24} {'objective':>14} {'time [s]':>9}")
    print(f"  {'convex fit':<24} {fit.objective:>14.8f} {r['t_fit']:>9.1f}")
    print(f"  {'  recovered CNN':<24} {fit.recovered_objective:>14.8f}")
    print(f"  {'  certificate LB':<24} {fit.certificate.lower_bound:>14.8f}   "
          f"(method {fit.certificate.method}, valid; certified: {fit.certificate.certified})")
    for x in sorted(runs, key=lambda x: x.objective):
        label = f"L-BFGS seed {x.seed} (m={r['width']})"
        print(f"  {label:<24} {x.objective:>14.8f} {x.time:>9.1f}")
    print(f"  ratios: convex / best L-BFGS = {fit.objective / best:.6f}; "
          f"convex / median L-BFGS = {fit.objective / np.median(objs):.6f}; "
          f"L-BFGS runs at or above the fit: {int(np.sum(objs >= fit.objective))}/{len(objs)}; "
          f"time of the ten runs / fit = {times.sum() / r['t_fit']:.2f}; "
          f"time of one run (median) / fit = {np.median(times) / r['t_fit']:.2f}")
    rel = abs(fit.recovered_objective - fit.objective) / abs(fit.objective)
    print(f"  recovered vs convex: {rel:.1e} relative; LB <= fit and every run: "
          f"{fit.certificate.lower_bound <= min(fit.objective, best)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 0.1])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--lbfgs-iter", type=int, default=2000)
    parser.add_argument("--classes", type=int, nargs="+", default=None)
    args = parser.parse_args()
    if args.classes:
        X, y = digit_classes(args.n, args.classes)
        loss, what = "cross_entropy", f"digits {args.classes}, cross-entropy"
    else:
        X, y = digits(args.n)
        loss, what = "squared", "digits 3 vs 8, squared loss"
    print(f"{what}: n = {X.shape[0]}, 8 x 8, 3 x 3 patches, mean pooling (K = 36), "
          f"regularized bias; {args.runs} L-BFGS runs per beta")
    rows = [row(X, y, beta, args.runs, args.lbfgs_iter, loss) for beta in args.betas]
    for r in rows:
        print_row(r)
    print("\n beta   convex         best L-BFGS    ratio      fit [s]   10 runs [s]   LB")
    for r in rows:
        objs = [x.objective for x in r["runs"]]
        print(f" {r['beta']:<6g} {r['fit'].objective:<14.8f} {min(objs):<14.8f} "
              f"{r['fit'].objective / min(objs):<10.6f} {r['t_fit']:<9.1f} "
              f"{sum(x.time for x in r['runs']):<13.1f} {r['fit'].certificate.lower_bound:.6g}")


if __name__ == "__main__":
    main()
