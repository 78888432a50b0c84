"""Solve times under CPU load: the spread (min / median / max) of repeated small solves
while busy processes compete for the cores.

Usage::

    python benchmarks/bench_load.py                    # every problem, 2 busy processes
    python benchmarks/bench_load.py --repeats 10 --busy 0 --problems hinge10

Each problem is solved ``--repeats`` times by :func:`convexnn.fit` with its defaults
(solver "auto", certificate attached) in this process, after one untimed call, while
``--busy`` processes spin (``while True: pass``; they are ended by their process ids when
the run finishes).  The load average is printed before and after each problem.
Wall-clock and process CPU times are both reported: spinning BLAS threads
inflate the CPU time too, a fair share of a loaded machine only the wall time.
``--blas-threads N`` caps the BLAS pools at N threads around every call
(``threadpoolctl``), to compare with the library's own choice.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np

PROBLEMS = ("hinge10", "readme40", "diabetes-gated")


def data(name: str):
    """(X, y, fit keyword arguments) of a problem (deterministic)."""
    rng = np.random.default_rng(0)
    if name == "hinge10":  # n = 10 hinge-loss classification, d = 2, every pattern
        X = rng.standard_normal((10, 2))
        y = np.where(X @ np.array([1.0, -2.0]) + 0.3 * rng.standard_normal(10) > 0, 1.0, -1.0)
        return X, y, dict(beta=0.1, loss="hinge", bias="regularized")
    if name == "readme40":  # the README's example
        X, y = rng.standard_normal((40, 2)), rng.standard_normal(40)
        return X, y, dict(beta=0.5, bias="free", patterns="exact")
    if name == "diabetes-gated":  # diabetes, C-GReLU over 200 sampled gates
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        return X, y, dict(beta=1.0, model="gated", patterns=200, seed=0, certify=False)
    raise ValueError(f"unknown problem {name!r}")


def busy(k: int) -> list[subprocess.Popen]:
    """Start ``k`` spinning processes."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def main(argv=None) -> None:
    import convexnn as cn

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--busy", type=int, default=2, help="spinning processes (default 2)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="cap the BLAS pools at this many threads around each call")
    args = ap.parse_args(argv)
    # a SIGTERM (e.g. from ``timeout``) unwinds through ``finally``: the busy processes end
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = busy(args.busy)
    try:
        for name in args.problems:
            X, y, kw = data(name)
            cap = contextlib.nullcontext()
            if args.blas_threads:
                from threadpoolctl import threadpool_limits

                cap = threadpool_limits(args.blas_threads, user_api="blas")
            with cap:
                cn.fit(X, y, **kw)  # imports, first-call costs
                load0 = os.getloadavg()[0]
                times, cpu = [], []
                for _ in range(args.repeats):
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = cn.fit(X, y, **kw)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            t, c = np.array(times), np.array(cpu)
            print(f"{name:15s} n={X.shape[0]:4d} {res.solution.solver:11s} {res.status:8s} "
                  f"min {t.min():.3f}  median {np.median(t):.3f}  max {t.max():.3f} s  "
                  f"max/median {t.max() / np.median(t):.1f}  CPU median {np.median(c):.3f} max "
                  f"{c.max():.3f} s  load average {load0:.2f} -> "
                  f"{os.getloadavg()[0]:.2f}  (busy {args.busy}, blas cap "
                  f"{args.blas_threads or 'library'})", flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
