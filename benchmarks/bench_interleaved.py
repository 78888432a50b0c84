"""The default ``fit`` against two width-300 torch L-BFGS runs, interleaved.

Usage::

    python benchmarks/bench_interleaved.py [--problems diabetes breast_cancer_logistic] [--repeats 3]

Torch L-BFGS times vary by tens of percent between runs of the same machine, so one
side-by-side pair of timings is a weak comparison.  Here each repeat times ``fit`` and then
the two L-BFGS runs (seeds 0 and 1, 500 iterations, the same objective) in the same
process, after one measured first call (:func:`bench_global.first_call`); the table shows
every repeat's ratio and the ratio of the medians, with the objectives.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_global import first_call, load  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", nargs="+", default=["diabetes", "breast_cancer_logistic"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    first = first_call()
    import convexnn as cn
    from convexnn.training import random_module

    print(f"first call {first:.2f} s (apart); load average {os.getloadavg()[0]:.2f}\n")
    print("| problem | fit [s] per repeat | two L-BFGS [s] per repeat | ratios | median ratio "
          "| fit objective | best L-BFGS objective |")
    print("|---|---|---|---|---|---|---|")
    for name in args.problems:
        X, y, loss, beta, _ = load(name, 24)
        tf, tl, of, ol = [], [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            r = cn.fit(X, y, beta=beta, loss=loss, bias="regularized", seed=0)
            tf.append(time.perf_counter() - t)
            of.append(r.recovered_objective)
            total, objs = 0.0, []
            for s in range(2):
                m = random_module(X.shape[1], 300, bias="regularized", seed=s)
                t = time.perf_counter()
                res = cn.train(m, X, y, beta=beta, loss=loss, optimizer="lbfgs", epochs=500,
                               quiet=True, log_every=50)
                total += time.perf_counter() - t
                objs.append(res.objective)
            tl.append(total)
            ol.append(min(objs))
        ratios = ", ".join(f"{a / b:.2f}" for a, b in zip(tf, tl))
        print(f"| {name} | {', '.join(f'{t:.2f}' for t in tf)} | "
              f"{', '.join(f'{t:.2f}' for t in tl)} | {ratios} | "
              f"{statistics.median(tf) / statistics.median(tl):.2f} | {min(of):.8g} | {min(ol):.8g} |")


if __name__ == "__main__":
    main()
