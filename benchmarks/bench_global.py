"""Global optimum on real data: the default ``fit`` against fixed samples and gradient training.

Usage::

    python benchmarks/bench_global.py                       # every problem
    python benchmarks/bench_global.py --problems diabetes iris
    python benchmarks/bench_global.py --widths 150 300 --seeds 2 --epochs 500

Per problem (data standardized, ``bias="regularized"``), in one run:

* ``fit`` (default): pattern generation, then the certificate (branch and bound where
  the rank allows); the first call of the process (imports of torch, scipy.optimize and
  cvxpy) is measured apart, before any timed row;
* ``fit(patterns=200)``: the program over 200 sampled gates (the old default);
* torch L-BFGS and Adam (:func:`convexnn.train`) at several widths and seeds, on the same
  objective (sum loss + (beta/2)||theta||^2);
* for the synthetic rank-4 problem, the exact optimum over every cell (enumeration).

Columns: objective, the certified lower bound and relative gap where there is one, time,
and ratios taken in the same run: the objective over the best gradient run and over the
better of the two widest L-BFGS runs, and the time over those two runs together (issue
11's yardstick).  Prints a markdown table; ``--out FILE`` saves it.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

PROBLEMS = ("diabetes", "breast_cancer", "breast_cancer_logistic", "iris", "synthetic_rank4")


def load(name: str, n_synthetic: int):
    """(X, y, loss, beta, note) of a benchmark problem (standardized features)."""
    from sklearn import datasets as skd

    if name == "synthetic_rank4":
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n_synthetic, 3))
        y = np.sin(X @ rng.standard_normal(3)) + 0.1 * rng.standard_normal(n_synthetic)
        return X, y, "squared", 0.1, f"n={n_synthetic}, 3 features + bias (rank 4)"
    if name == "iris":
        raw = skd.load_iris()
        X, y = raw.data[:, 1:], raw.data[:, 0]  # sepal length from the other three
        note = "sepal length ~ 3 features + bias (rank 4)"
        loss = "squared"
    elif name == "diabetes":
        raw = skd.load_diabetes()
        X, y, loss, note = raw.data, raw.target, "squared", "442 x 10"
    else:
        raw = skd.load_breast_cancer()
        X = raw.data
        y = np.where(raw.target == 1, 1.0, -1.0)
        loss = "logistic" if name.endswith("logistic") else "squared"
        note = "569 x 30, labels +-1"
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    if loss == "squared" and name != "breast_cancer":
        y = (y - y.mean()) / y.std()
    return X, y, loss, 1.0, note


def gradient_runs(X, y, loss, beta, widths, seeds, epochs, optimizers):
    import convexnn as cn
    from convexnn.training import random_module

    rows = []
    for opt in optimizers:
        for w in widths:
            for s in range(seeds):
                module = random_module(X.shape[1], w, bias="regularized", seed=s)
                t0 = time.perf_counter()
                res = cn.train(module, X, y, beta=beta, loss=loss, optimizer=opt,
                               epochs=epochs if opt == "lbfgs" else 4 * epochs, quiet=True,
                               log_every=max(1, epochs // 10))
                t = time.perf_counter() - t0
                rows.append(dict(method=f"{opt} width {w} seed {s}", objective=res.objective,
                                 time=t, lower=None, gap=None, kind="gradient", width=w))
    return rows


def first_call() -> float:
    """Seconds of the first call: imports plus a tiny fit and a tiny torch training."""
    t0 = time.perf_counter()
    import convexnn as cn
    from convexnn.training import random_module

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = X[:, 0] - np.abs(X[:, 1])
    cn.fit(X, y, beta=0.1, bias="regularized", seed=0)
    cn.train(random_module(3, 8, bias="regularized", seed=0), X, y, beta=0.1,
             optimizer="lbfgs", epochs=5, quiet=True)
    return time.perf_counter() - t0


def run(name, args):
    import convexnn as cn

    X, y, loss, beta, note = load(name, args.n_synthetic)
    rows = []
    t0 = time.perf_counter()
    res = cn.fit(X, y, beta=beta, loss=loss, bias="regularized", seed=0,
                 time_limit=args.time_limit)
    t = time.perf_counter() - t0
    cert = res.certificate
    rows.append(dict(method="fit (default: generation + certificate)",
                     objective=res.recovered_objective, time=t, lower=cert.lower_bound,
                     gap=cert.relative_gap, kind="convex",
                     extra=f"{'CERTIFIED' if cert.certified else 'not certified'} "
                           f"({cert.method}); {res.generation.summary_line() if res.generation else res.program.patterns.method}; "
                           f"generation {res.timings.get('generation', res.timings.get('solve', 0)):.1f}s, "
                           f"certificate {res.timings.get('certify', 0):.1f}s"))
    t0 = time.perf_counter()
    fixed = cn.fit(X, y, beta=beta, loss=loss, bias="regularized", patterns=200, seed=0)
    rows.append(dict(method="fit(patterns=200)", objective=fixed.recovered_objective,
                     time=time.perf_counter() - t0, lower=fixed.certificate.lower_bound,
                     gap=fixed.certificate.relative_gap, kind="convex",
                     extra="certificate: " + ("refuted" if fixed.certificate.refuted else "open")))
    if name == "synthetic_rank4":
        t0 = time.perf_counter()
        ex = cn.fit(X, y, beta=beta, loss=loss, bias="regularized", patterns="exact",
                    max_patterns=10**6, certify=False)
        rows.append(dict(method=f"exact enumeration ({ex.program.n_patterns} cells)",
                         objective=ex.objective, time=time.perf_counter() - t0, lower=None,
                         gap=None, kind="exact", extra=""))
    rows += gradient_runs(X, y, loss, beta, args.widths, args.seeds, args.epochs,
                          args.optimizers)
    return note, loss, beta, rows


def table(name, note, loss, beta, rows):
    grads = [r for r in rows if r["kind"] == "gradient"]
    best = min((r["objective"] for r in grads), default=np.nan)
    lbfgs = [r for r in grads if r["method"].startswith("lbfgs")]
    # the yardstick: the two widest L-BFGS runs (width 300, seeds 0 and 1)
    wmax = max((r["width"] for r in lbfgs), default=0)
    ref = [r for r in lbfgs if r["width"] == wmax][:2]
    best_ref = min((r["objective"] for r in ref), default=np.nan)
    t_ref = sum(r["time"] for r in ref) if len(ref) == 2 else np.nan
    out = [f"### {name} ({note}; {loss} loss, beta = {beta:g})", "",
           f"| method | objective | certified lower bound | rel. gap | time [s] | obj / best gradient | obj / best of two L-BFGS width {wmax} | time / those two runs | notes |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lb = "" if r["lower"] is None else f"{r['lower']:.6g}"
        gap = "" if r["gap"] is None else f"{r['gap']:.2e}"
        out.append(f"| {r['method']} | {r['objective']:.8g} | {lb} | {gap} | {r['time']:.2f} | "
                   f"{r['objective'] / best:.4f} | {r['objective'] / best_ref:.4f} | "
                   f"{r['time'] / t_ref:.2f} | {r.get('extra', '')} |")
    out += ["", f"best gradient run {best:.8g}; best of the two L-BFGS width-{wmax} runs "
            f"{best_ref:.8g}, {t_ref:.2f} s together", ""]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    p.add_argument("--widths", nargs="+", type=int, default=[150, 300])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=500, help="L-BFGS iterations (Adam: 4x)")
    p.add_argument("--optimizers", nargs="+", default=["lbfgs", "adam"])
    p.add_argument("--time-limit", type=float, default=None,
                   help="fit's pattern-generation budget (default: fit's own)")
    p.add_argument("--n-synthetic", type=int, default=24)
    p.add_argument("--out", default=None, help="also write the tables to this file")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    first = first_call()
    header = [f"# bench_global ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()})", "",
              f"First call in the process (import convexnn, torch, scipy.optimize and cvxpy; "
              f"one fit and one torch L-BFGS run on 30 x 3 data): {first:.2f} s, paid once by "
              f"either method and measured apart; every time below is warm.", ""]
    print("\n".join(header), flush=True)
    chunks = []
    for name in args.problems:
        note, loss, beta, rows = run(name, args)
        chunks.append(table(name, note, loss, beta, rows))
        print(chunks[-1], flush=True)
    text = "\n".join(header + chunks + [f"total {time.perf_counter() - t0:.1f} s", ""])
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
