"""Vector output benchmark: the default ReLU fit against torch L-BFGS of width 300 (issue 24).

For each data set (standardized X, class labels, cross-entropy, beta = 1, the default
``bias="regularized"``), in one process and interleaved:

1. the default ``convexnn.fit(X, labels, beta=1, loss="cross_entropy")`` (neuron generation):
   objective, certified lower bound, gap, seconds;
2. torch L-BFGS runs (``convexnn.training.train``, ``optimizer="lbfgs"``, 1,500 iterations)
   of width 300 from ``random_module`` seeds 0, 1, ... with the same objective: objectives and
   seconds;

and the ratios: best L-BFGS objective / fit objective (>= 1: the fit is not worse) and fit
seconds / all L-BFGS seconds (<= 1: the fit is faster than the runs together).  With
``--gated`` it also compares the gated nuclear-norm program solved by FISTA and by Clarabel.

Usage: ``python benchmarks/bench_vector.py [--data wine digits] [--runs 2] [--epochs 1500]
[--out benchmarks/results/vector.md]``.  The machine may be shared: times are noisy, and
only the ratios of one run (same process, same load) are meaningful.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DATA = ("iris", "wine", "digits")


def load(name: str, digits_n: int = 600):
    """Standardized X and integer labels; digits: the first ``digits_n`` images."""
    from sklearn.datasets import load_digits, load_iris, load_wine

    X, y = {"iris": load_iris, "wine": load_wine, "digits": load_digits}[name](return_X_y=True)
    if name == "digits":
        X, y = X[:digits_n], y[:digits_n]
    sd = X.std(0)
    return (X - X.mean(0)) / np.where(sd > 0, sd, 1.0), y


def relu_row(name: str, X, y, *, beta: float, runs: int, epochs: int, width: int) -> dict:
    """The default fit, then the L-BFGS runs, in this process (interleaved per data set)."""
    import convexnn as cn
    from convexnn import training as tb

    t = time.perf_counter()
    r = cn.fit(X, y, beta=beta, loss="cross_entropy")
    t_fit = time.perf_counter() - t
    c = int(np.max(y)) + 1
    objs, secs = [], []
    for seed in range(runs):
        module = tb.random_module(X.shape[1], width, bias="regularized", n_outputs=c, seed=seed)
        t = time.perf_counter()
        res = tb.train(module, X, y, beta=beta, loss="cross_entropy", optimizer="lbfgs",
                       epochs=epochs, seed=seed, quiet=True)
        secs.append(time.perf_counter() - t)
        objs.append(res.objective)
        assert r.certificate.lower_bound <= res.objective + 1e-9  # weak duality
    cert = r.certificate
    return {"data": name, "n": X.shape[0], "d": X.shape[1], "c": c, "obj": r.recovered_objective,
            "lb": cert.lower_bound, "gap": cert.relative_gap, "t": t_fit, "width": r.network.width,
            "status": r.status, "rounds": r.generation.rounds, "stop": r.generation.stopped,
            "acc": float(np.mean(r.predict_labels(X) == y)), "lbfgs": objs, "lbfgs_t": secs}


def gated_row(name: str, X, y, *, beta: float, patterns: int, limit: float) -> dict:
    """The gated program over the same sampled gates by FISTA and by Clarabel."""
    import convexnn as cn

    row = {"data": name}
    for solver in ("fista", "clarabel"):
        t = time.perf_counter()
        try:
            r = cn.fit(X, y, beta=beta, model="gated", loss="cross_entropy", patterns=patterns,
                       seed=0, solver=solver, tol=1e-6, certify=False, time_limit=limit)
            row[solver] = (r.objective, time.perf_counter() - t, r.status)
        except Exception as e:  # noqa: BLE001 -- a failing reference solver is reported
            row[solver] = (float("nan"), time.perf_counter() - t, f"failed: {type(e).__name__}")
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["wine", "digits"], choices=DATA)
    ap.add_argument("--digits-n", type=int, default=600)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1500)
    ap.add_argument("--width", type=int, default=300)
    ap.add_argument("--gated", action="store_true", help="also the gated FISTA/Clarabel table")
    ap.add_argument("--out", default=None, help="also write the tables to this markdown file")
    args = ap.parse_args(argv)
    lines = [f"## ReLU, cross-entropy, beta={args.beta:g}, bias='regularized': default fit vs "
             f"{args.runs} torch L-BFGS runs (width {args.width}, {args.epochs} iterations)",
             "| data | n | d | c | fit obj | certified LB | rel. gap | fit s | width | status (rounds, stop) "
             "| train acc | best L-BFGS obj | L-BFGS s (all) | L-BFGS/fit obj | fit/L-BFGS time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.data:
        X, y = load(name, args.digits_n)
        r = relu_row(name, X, y, beta=args.beta, runs=args.runs, epochs=args.epochs,
                     width=args.width)
        best, t_all = min(r["lbfgs"]), sum(r["lbfgs_t"])
        line = (f"| {name} | {r['n']} | {r['d']} | {r['c']} | {r['obj']:.8g} | {r['lb']:.4g} | "
                f"{r['gap']:.3f} | {r['t']:.1f} | {r['width']} | {r['status']} ({r['rounds']}, "
                f"{r['stop']}) | {r['acc']:.3f} | {best:.8g} | {t_all:.1f} | "
                f"{best / r['obj']:.6f} | {r['t'] / t_all:.2f} |")
        lines.append(line)
        print(line, flush=True)
    if args.gated:
        lines += ["", "## gated nuclear-norm program, 10 sampled gates: FISTA vs Clarabel",
                  "| data | FISTA obj | s | Clarabel obj | s | Clarabel/FISTA time |", "|---|---|---|---|---|---|"]
        for name in args.data:
            X, y = load(name, args.digits_n)
            g = gated_row(name, X, y, beta=args.beta, patterns=10, limit=60.0)
            line = (f"| {name} | {g['fista'][0]:.8g} | {g['fista'][1]:.2f} | {g['clarabel'][0]:.8g}"
                    f" ({g['clarabel'][2]}) | {g['clarabel'][1]:.2f} | "
                    f"{g['clarabel'][1] / g['fista'][1]:.1f}x |")
            lines.append(line)
            print(line, flush=True)
    if args.out:
        cmd = "python " + " ".join(["benchmarks/bench_vector.py", *(argv or sys.argv[1:])])
        Path(args.out).write_text(f"# Vector-output benchmark\n\nCommand: `{cmd}`\n\n"
                                  + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
