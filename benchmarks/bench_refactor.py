"""The one-engine restructuring (issue 23) against the code before it, in one run.

Usage::

    python benchmarks/bench_refactor.py --before /path/to/checkout/of/8523504 [--repeats 3]

Each case is timed in fresh subprocesses, alternating the two checkouts (``PYTHONPATH``
puts the checkout's ``convexnn`` first), so that both see the machine in the same state;
every subprocess runs the case once to warm up (imports, first kernels) and then times
``--repeats`` calls.  The cases are the workloads of the three benchmarks the issue names:

* ``bench_solvers``: the working-set solver on the 200-gate diabetes program
  (``fit(patterns=200, certify=False)``), and the same with the certificate;
* ``bench_global``: the default fit on iris (rank 4: generation, then branch and bound
  proves the optimum) -- the same search in both versions;
* ``bench_vector``: the gated cross-entropy program on wine over 10 sampled gates
  (FISTA), and the ReLU cross-entropy program on 12 points (neuron generation).

Prints a markdown table: median seconds before and after, the ratio after/before, and the
objectives (which must agree).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CASES = ("solvers_fit", "solvers_fit_certified", "global_iris", "vector_gated_wine",
         "vector_relu_small")

DRIVER = r'''
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
import convexnn as cn
from sklearn import datasets as skd

def std(X):
    return (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)

case, repeats = sys.argv[1], int(sys.argv[2])
if case.startswith("solvers"):
    X, y = skd.load_diabetes(return_X_y=True)
    X = std(X)
    kw = dict(beta=0.01, bias="regularized", patterns=200, seed=0,
              certify=case.endswith("certified"))
    run = lambda: cn.fit(X, y, **kw)
elif case == "global_iris":
    raw = skd.load_iris()
    X, y = std(raw.data[:, 1:]), raw.data[:, 0]
    y = (y - y.mean()) / y.std()
    run = lambda: cn.fit(X, y, beta=1.0, bias="regularized", seed=0)
elif case == "vector_gated_wine":
    X, y = skd.load_wine(return_X_y=True)
    X = std(X)
    run = lambda: cn.fit(X, y, beta=1.0, model="gated", loss="cross_entropy",
                         bias="regularized", patterns=10, seed=0, tol=1e-6, certify=False)
else:
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-2, 2, 12))
    labels = np.array(["a", "b", "c"])[np.digitize(x, [-0.7, 0.6])]
    run = lambda: cn.fit(x[:, None], labels, beta=0.5, loss="cross_entropy",
                         bias="regularized")
r = run()
times = []
for _ in range(repeats):
    t = time.perf_counter()
    r = run()
    times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "objective": float(r.objective)}))
'''


def timed(checkout: str, case: str, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=checkout)
    out = subprocess.run([sys.executable, "-c", DRIVER, case, str(repeats)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="a checkout of the code before issue 23")
    p.add_argument("--after", default=str(Path(__file__).resolve().parents[1]))
    p.add_argument("--repeats", type=int, default=3, help="timed calls per subprocess")
    p.add_argument("--rounds", type=int, default=2, help="before/after alternations per case")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    args = p.parse_args(argv)
    print("| case | before [s] | after [s] | after / before | objective before | objective after |")
    print("|---|---|---|---|---|---|")
    for case in args.cases:
        got = {"before": [], "after": []}
        obj = {}
        for _ in range(args.rounds):
            for label in ("before", "after"):
                r = timed(getattr(args, label), case, args.repeats)
                got[label] += r["times"]
                obj[label] = r["objective"]
        b, a = statistics.median(got["before"]), statistics.median(got["after"])
        print(f"| {case} | {b:.3f} | {a:.3f} | {a / b:.2f} | {obj['before']:.10g} | "
              f"{obj['after']:.10g} |", flush=True)


if __name__ == "__main__":
    main()
