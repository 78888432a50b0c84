"""``fit`` end to end against CVXPY + Clarabel on the same fixed-sample program.

Usage::

    python benchmarks/bench_fit_vs_clarabel.py [--repeats 5] [--skip-clarabel]

The program of issue 5: diabetes (n = 442, standardized features, raw target), a
regularized hidden bias, 200 Gaussian gates (seed 0), beta = 0.01, squared loss.  Rows:

* ``fit`` with the default solver, end to end: validation, patterns, the working-set
  solve, recovery and the certificate (median of ``--repeats`` warm calls, half of them
  before the Clarabel solve and half after it, since a shared machine's speed drifts; the
  first call of each process is timed apart, in fresh interpreters: see ``first_call_table``);
* the same without the certificate;
* ``fit(solver="clarabel", certify=False)``: CVXPY compiles the program and Clarabel
  solves it (one run: it takes tens of seconds).

Prints a markdown table with the phases and the ratio Clarabel / fit measured in the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def problem():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, y


KW = dict(beta=0.01, bias="regularized", patterns=200, seed=0)

# one fresh interpreter: the imports and the first and later fits, timed apart
FRESH = """
import time, json, statistics
t0 = time.perf_counter()
import convexnn as cn
t1 = time.perf_counter()
import torch
t2 = time.perf_counter()
import sys; sys.path.insert(0, {bench!r})
from bench_fit_vs_clarabel import problem, KW
X, y = problem()
t3 = time.perf_counter(); cn.fit(X, y, **KW); t4 = time.perf_counter()
later = []
for _ in range(3):
    t = time.perf_counter(); cn.fit(X, y, **KW); later.append(time.perf_counter() - t)
print(json.dumps(dict(convexnn=t1 - t0, torch=t2 - t1, first=t4 - t3,
                      later=statistics.median(later))))
"""


def first_call_table(fresh: int) -> str:
    """The first ``fit`` of a fresh process against the median of its later calls.

    Each process imports convexnn, then torch (what the first ``fit`` would import), loads
    the data, and times one fit and three more.  Bytecode is compiled first into a
    temporary cache (``PYTHONPYCACHEPREFIX``), as ``pip install`` does for a user; this
    workplace sets ``PYTHONDONTWRITEBYTECODE``, which would make every process compile the
    package from source.
    """
    import json
    import subprocess
    import sys
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
        subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(root, "convexnn")],
                       env=env, check=True)
        for _ in range(fresh):
            out = subprocess.run([sys.executable, "-c", FRESH.format(bench=here)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    lines = ["| fresh process | import convexnn [s] | import torch [s] | first fit [s] | "
             "later fits (median) [s] | first / later | (torch + first) / later |",
             "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        lines.append(f"| {i + 1} | {r['convexnn']:.3f} | {r['torch']:.3f} | {r['first']:.3f} | "
                     f"{r['later']:.3f} | {r['first'] / r['later']:.2f} | "
                     f"{(r['torch'] + r['first']) / r['later']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-clarabel", action="store_true")
    p.add_argument("--fresh", type=int, default=3,
                   help="fresh processes timed for the first call (default 3)")
    args = p.parse_args(argv)
    first_call = first_call_table(args.fresh)
    X, y = problem()
    kw = KW
    import convexnn as cn

    # the machine's speed drifts over a minute (shared cores): half the repeats of each fit
    # row run before the Clarabel solve and half after it, so that the ratio compares
    # times taken around the same moment
    runs = {True: [], False: []}

    def repeat(count):
        for certify in (True, False):
            for _ in range(count):
                t = time.perf_counter()
                r = cn.fit(X, y, certify=certify, **kw)
                runs[certify].append((time.perf_counter() - t, r))

    repeat((args.repeats + 1) // 2)
    clarabel = None
    if not args.skip_clarabel:
        t = time.perf_counter()
        c = cn.fit(X, y, solver="clarabel", certify=False, **kw)
        clarabel = (time.perf_counter() - t, c)
    repeat(args.repeats // 2)
    rows = []
    for certify in (True, False):
        times = [t for t, _ in runs[certify]]
        phases = [r.timings for _, r in runs[certify]]
        r = runs[certify][-1][1]
        med = statistics.median(times)
        ph = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
        note = ", ".join(f"{k} {v:.3f}" for k, v in ph.items() if k != "total")
        if certify:
            note += f"; certificate: {r.certificate.summary_line()}"
        half = (args.repeats + 1) // 2
        note += (f"; median before / after Clarabel {statistics.median(times[:half]):.3f} / "
                 f"{statistics.median(times[half:]):.3f}" if len(times) > half else "")
        rows.append((f"fit (working set{', certificate' if certify else ''})", med,
                     min(times), max(times), r.recovered_objective, note))
    if clarabel is not None:
        tc, c = clarabel
        rows.append(("fit(solver='clarabel', certify=False)", tc, tc, tc, c.recovered_objective,
                     f"status {c.status}"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"diabetes, 200 gates, beta = 0.01 (raw y); load average {load:.2f}\n")
    print(first_call + "\n")
    print("| method | median [s] | min | max | objective | Clarabel / this | phases (median) [s] |")
    print("|---|---|---|---|---|---|---|")
    tc = rows[-1][1] if not args.skip_clarabel else float("nan")
    for name, med, lo, hi, obj, note in rows:
        print(f"| {name} | {med:.3f} | {lo:.3f} | {hi:.3f} | {obj:.10g} | {tc / med:.1f} | {note} |")


if __name__ == "__main__":
    main()
