"""Does pattern generation converge?  The default ``fit`` against long L-BFGS training and
an independent referee of its dual point (issue 26).

Usage::

    python benchmarks/bench_convergence.py                       # every problem
    python benchmarks/bench_convergence.py --problems diabetes wine --seeds 20 --iters 2000

Per problem (features standardized, ``bias="regularized"``, beta = 1), in one process:

* ``fit`` with its defaults (pattern generation, then the certificate): its objective,
  rounds, the reason it stopped, the search starts spent, the certificate's verdict;
* the referee (``check_dual_point.referee``: random starts of the fixed-point ascent, exact
  cell maxima by NNLS, climbs over tied neighbours; no code shared with the pricing) on the
  final master's dual point: s/beta (the constraint is s/beta <= 1; the goal is a
  violation below 0.5%);
* ``--seeds`` torch L-BFGS runs of ``--iters`` iterations on the same objective, width
  ``max(--min-width, the fit's active neurons)``: the fit should beat all of them.

Timings are wall-clock on whatever machine runs this: report the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PROBLEMS = ("iris", "diabetes", "wine", "breast_cancer", "breast_cancer_logistic", "digits")


def _standardize(X: np.ndarray) -> np.ndarray:
    sd = X.std(0)
    return (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)


def load(name: str):
    """(X, y, loss, beta, note) of a problem: scikit-learn's bundled data sets."""
    from sklearn import datasets as skd

    if name in ("iris", "diabetes") or name.startswith("breast_cancer"):
        from bench_global import load as load_global

        return load_global(name, 0)
    if name == "wine":  # alcohol from the other 12 measurements
        raw = skd.load_wine().data
        X, y = _standardize(raw[:, 1:]), raw[:, 0]
        return X, (y - y.mean()) / y.std(), "squared", 1.0, "178 x 12, alcohol (rank 13)"
    # digits: 3 against 8, labels +-1, the 16 pixels of largest variance
    raw = skd.load_digits()
    keep = np.isin(raw.target, (3, 8))
    X = raw.data[keep]
    X = _standardize(X[:, np.argsort(-X.var(0), kind="stable")[:16]])
    y = np.where(raw.target[keep] == 3, 1.0, -1.0)
    return X, y, "squared", 1.0, f"{X.shape[0]} x 16, digits 3 vs 8 (rank 17)"


def fit_row(X, y, loss, beta) -> tuple[dict, object]:
    """The default fit: objective, time, rounds, stop, search starts, verdict."""
    import convexnn as cn

    t0 = time.perf_counter()
    res = cn.fit(X, y, beta=beta, loss=loss, progress=False)
    t = time.perf_counter() - t0
    rep = res.generation
    hist = [] if rep is None else rep.history
    row = dict(objective=float(res.objective), time=t,
               rounds=0 if rep is None else rep.rounds,
               stopped="exact" if rep is None else rep.stopped,
               starts=sum(h.get("search_starts", 0) for h in hist),
               last=hist[-1]["max_violation"] if hist else float("nan"),
               neurons=int(res.network.n_neurons) if hasattr(res.network, "n_neurons")
               else int(np.count_nonzero(res.network.W2)),
               verdict=res.certificate.verdict if res.certificate is not None else "")
    return row, res


def referee_ratio(X, res, beta, starts: int, seed: int) -> float:
    """s/beta of the referee at the final master's dual point."""
    from check_dual_point import _dual_point, referee

    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    return referee(Xt, _dual_point(res), starts=starts, seed=seed).value / beta


def lbfgs_rows(X, y, loss, beta, width: int, seeds: int, iters: int) -> list[dict]:
    """Torch L-BFGS runs of the same objective (``bias="regularized"``)."""
    import convexnn as cn
    from convexnn.training import random_module

    rows = []
    for seed in range(seeds):
        module = random_module(X.shape[1], width, bias="regularized", seed=seed)
        t0 = time.perf_counter()
        r = cn.train(module, X, y, beta=beta, loss=loss, optimizer="lbfgs", epochs=iters,
                     quiet=True, num_threads=1)
        obj = float(r.network.objective(X, y, beta=beta, loss=loss))
        rows.append(dict(objective=obj, time=time.perf_counter() - t0))
    return rows


def run(name: str, args) -> list[str]:
    """The table rows of one problem."""
    X, y, loss, beta, note = load(name)
    fit, res = fit_row(X, y, loss, beta)
    t0 = time.perf_counter()
    fit["s"] = referee_ratio(X, res, beta, args.referee_starts, args.referee_seed)
    t_ref = time.perf_counter() - t0
    print(f"# {name}: fit {fit}, referee s/beta {fit['s']:.5f}", flush=True)
    width = max(args.min_width, fit["neurons"])
    runs = lbfgs_rows(X, y, loss, beta, width, args.seeds, args.iters)
    best = min(r["objective"] for r in runs)
    t_gd = sum(r["time"] for r in runs)
    return [f"| {name} ({note}) | {fit['objective']:.6f} | {fit['time']:.1f} | "
            f"{fit['rounds']} | {fit['stopped']} | {fit['starts']:,} | {fit['last']:.5f} | "
            f"{fit['s']:.5f} ({t_ref:.0f}s) | {fit['verdict']} | {best:.6f} "
            f"({len(runs)} x {args.iters}, w{width}, {t_gd:.0f}s) | "
            f"{fit['objective'] / best:.6f} |"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--min-width", type=int, default=50)
    p.add_argument("--referee-starts", type=int, default=20_000)
    p.add_argument("--referee-seed", type=int, default=12345)
    args = p.parse_args(argv)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# bench_convergence ({time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load_avg:.1f} at the start)\n")
    print("| problem | fit objective | fit time [s] | rounds | stopped | search starts "
          "| last round's s/beta | referee s/beta | certificate | best L-BFGS | fit / best |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.problems:
        for line in run(name, args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
