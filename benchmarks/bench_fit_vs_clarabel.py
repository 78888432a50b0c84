"""``fit`` end to end against CVXPY + Clarabel on the same fixed-sample program.

Usage::

    python benchmarks/bench_fit_vs_clarabel.py [--repeats 5] [--skip-clarabel]

The program of issue 5: diabetes (n = 442, standardized features, raw target), a
regularized hidden bias, 200 Gaussian gates (seed 0), beta = 0.01, squared loss.  Rows:

* ``fit`` with the default solver, end to end: validation, patterns, the working-set
  solve, recovery and the certificate (median of ``--repeats`` warm calls, half of them
  before the Clarabel solve and half after it, since a shared machine's speed drifts; the
  first call of the process is shown apart);
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-clarabel", action="store_true")
    args = p.parse_args(argv)
    X, y = problem()
    kw = dict(beta=0.01, bias="regularized", patterns=200, seed=0)
    t0 = time.perf_counter()
    import convexnn as cn

    first = cn.fit(X, y, **kw)
    t_first = time.perf_counter() - t0
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
    print(f"diabetes, 200 gates, beta = 0.01 (raw y); first call of the process {t_first:.2f} s "
          f"(objective {first.recovered_objective:.8g}); load average {load:.2f}\n")
    print("| method | median [s] | min | max | objective | Clarabel / this | phases (median) [s] |")
    print("|---|---|---|---|---|---|---|")
    tc = rows[-1][1] if not args.skip_clarabel else float("nan")
    for name, med, lo, hi, obj, note in rows:
        print(f"| {name} | {med:.3f} | {lo:.3f} | {hi:.3f} | {obj:.10g} | {tc / med:.1f} | {note} |")


if __name__ == "__main__":
    main()
