"""Vector output benchmark: iris, wine, digits (cross-entropy, beta, regularized bias).

For each data set, in the same run:

1. the gated nuclear-norm program over the same sampled patterns, solved by convexnn's
   FISTA (certified gap 1e-6) and by cvxpy + Clarabel / SCS: objective and time, and the
   time ratio Clarabel / FISTA;
2. the ReLU program by neuron generation (generated directions, ascent pricing for these
   ranks) against L-BFGS and Adam at width 2 m* from random initializations: objectives,
   times and ratios.

Usage: ``python benchmarks/bench_vector.py [--digits-n 100] [--patterns 10] [--no-scs]``.
The default run is small (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def datasets(digits_n: int, seed: int = 0):
    from sklearn.datasets import load_digits, load_iris, load_wine

    out = {}
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        if name == "digits" and digits_n < X.shape[0]:
            idx = np.random.default_rng(seed).choice(X.shape[0], digits_n, replace=False)
            X, y = X[idx], y[idx]
        sd = X.std(0)
        X = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
        out[name] = (X, y)
    return out


#: Per-solver options capping the reference solvers' time (seconds).
def _limits(limit: float) -> dict:
    return {"time_limit": limit}


def gated_row(name, X, y, beta, P, solvers, limit):
    from convexnn import fit as fit_vector

    row = {"data": name, "n": X.shape[0], "d": X.shape[1], "c": int(y.max()) + 1, "P": P}
    for solver in solvers:
        t = time.perf_counter()
        try:
            r = fit_vector(X, y, beta=beta, model="gated", loss="cross_entropy", bias="regularized",
                           patterns=P, seed=0, solver=solver, tol=1e-6, certify=False,
                           **_limits(limit))
            row[solver] = (r.objective, time.perf_counter() - t, r.status)
        except Exception as e:  # noqa: BLE001 -- a failing reference solver is reported
            print(f"  {name} {solver}: {type(e).__name__}: {e}")
            row[solver] = (float("nan"), time.perf_counter() - t, f"failed: {type(e).__name__}")
    return row


def relu_row(name, X, y, beta, epochs, time_limit):
    from convexnn import fit as fit_vector
    from convexnn import training as tb

    t = time.perf_counter()
    r = fit_vector(X, y, beta=beta, loss="cross_entropy", bias="regularized", seed=0,
                   time_limit=time_limit)
    t_cvx = time.perf_counter() - t
    row = {"data": name, "convex": (r.recovered_objective, t_cvx, r.network.width),
           "lower": r.certificate.lower_bound, "acc": float(np.mean(r.predict_labels(X) == y))}
    c = int(y.max()) + 1
    width = max(2 * r.network.width, 10)
    for opt in ("lbfgs", "adam"):
        module = tb.random_module(X.shape[1], width, bias="regularized", n_outputs=c, seed=0)
        t = time.perf_counter()
        res = tb.train(module, X, y, beta=beta, loss="cross_entropy", optimizer=opt,
                       epochs=epochs[opt], seed=0, quiet=True)
        row[opt] = (res.objective, time.perf_counter() - t, width)
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits-n", type=int, default=100)
    ap.add_argument("--patterns", type=int, default=10)
    ap.add_argument("--ref-time-limit", type=float, default=30.0,
                    help="time limit of Clarabel/SCS, seconds (their status says if hit)")
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--no-scs", action="store_true")
    ap.add_argument("--time-limit", type=float, default=30.0, help="neuron generation, seconds")
    args = ap.parse_args(argv)
    solvers = ["fista", "clarabel"] + ([] if args.no_scs else ["scs"])
    data = datasets(args.digits_n)
    print(f"## gated nuclear-norm program, cross-entropy, beta={args.beta}, {args.patterns} sampled patterns")
    head = "| data | n | d | c | " + " | ".join(f"{s} obj | {s} s" for s in solvers) + " | clarabel/fista time |"
    print(head)
    print("|" + "---|" * (4 + 2 * len(solvers) + 1))
    for name, (X, y) in data.items():
        row = gated_row(name, X, y, args.beta, args.patterns, solvers, args.ref_time_limit)
        cells = [f"{row[s][0]:.8g} | {row[s][1]:.2f}" + ("" if row[s][2] == "optimal" else f" ({row[s][2]})")
                 for s in solvers]
        ratio = row["clarabel"][1] / row["fista"][1]
        print(f"| {name} | {row['n']} | {row['d']} | {row['c']} | " + " | ".join(cells) + f" | {ratio:.1f}x |")
    print()
    print(f"## ReLU program (neuron generation) vs L-BFGS / Adam at width max(2 m*, 10), beta={args.beta}")
    print("| data | convex obj (upper) | lower bound | s | width m* | train acc | L-BFGS obj | s | Adam obj | s | L-BFGS/convex obj |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    epochs = {"lbfgs": 200, "adam": 1000}
    for name, (X, y) in data.items():
        row = relu_row(name, X, y, args.beta, epochs, args.time_limit)
        o, t, m = row["convex"]
        print(f"| {name} | {o:.8g} | {row['lower']:.4g} | {t:.1f} | {m} | {row['acc']:.3f} | "
              f"{row['lbfgs'][0]:.8g} | {row['lbfgs'][1]:.1f} | {row['adam'][0]:.8g} | "
              f"{row['adam'][1]:.1f} | {row['lbfgs'][0] / o:.4f} |")


if __name__ == "__main__":
    main()
