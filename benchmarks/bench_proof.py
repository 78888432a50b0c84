"""Proofs of the dual norm by branch and bound: the new search against the old one.

Usage::

    python benchmarks/bench_proof.py                      # the rank ladder + calibration
    python benchmarks/bench_proof.py --problems rand5 diabetes6 --no-calibration
    python benchmarks/bench_proof.py --ranks 3 4 5 --old-time 30 --nodes 300000
    python benchmarks/bench_proof.py --problems noise50_none noise50_regularized synthetic_rank5
    python benchmarks/bench_proof.py --calibration-only --old-time 20

For a fit's dual point :math:`\\lambda = y - \\hat y` (squared loss), the certificate needs a
proven upper bound of :math:`s = \\max_{\\|u\\|\\le1}|\\lambda^\\top(\\tilde Xu)_+|`; the fit is
certified when :math:`s \\le \\beta(1 + 10^{-6})`.  Per problem, in one run:

* **old**: ``convexnn/duality/branch_bound.py`` of commit e29a4f1 (main before issue 26:
  secant node bounds, exact leaves, one search per sign), run from a temporary copy with
  main's budgets then (600,000 nodes per sign) and a time cap (``--old-time``, shared by
  the two signs as main's ``dual_norm_bb`` did);
* **new**: :func:`convexnn.duality.branch_bound.search` with a node budget (``--nodes``,
  default :data:`convexnn.duality.dual_norm.BB_NODES`) and no time cap.

Both prune at :math:`\\max(\\beta(1 + 10^{-6}), \\text{best}(1 + 10^{-9}))`.  Columns: time
(wall and CPU seconds: the machine may be shared), nodes, the proven bound s_ub/beta, the
largest value found s_lb/beta, the stop reason, whether s is proven within 1e-6 relative
(s_ub <= max(beta, s_lb)(1 + 1e-6)), and the certified relative gap of the fit,
(P - LB)/max(1, P) with LB the dual objective at lambda min(1, beta/s_ub).  The dual points
come from ``convexnn.fit`` with the generation's proof step switched off (so they do not
depend on the searches compared; ``--fit-rounds``) and are cached in benchmarks/data/.

Problems (rank = rank of the lifted data): ``rand<r>``: X (100, r) and y standard normal,
no bias; ``diabetes<k>`` and ``cancer<k>``: the first k features of sklearn's diabetes and
breast cancer sets, standardized, regularized bias (rank k + 1), squared loss on the
standardized target; beta = 1; plus the issue's ``synthetic_rank5`` and ``noise50_*``.

**Calibration** (issue 26, item 4): on small noise problems of rank 3-6 whose s is known by
exhaustive enumeration (every cell's cone maximum), the bound each method proves within
100, 1,000, 10,000 and 100,000 nodes, as s_ub/s - 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LADDER = {r: (f"rand{r}", f"diabetes{r - 1}", f"cancer{r - 1}") for r in range(3, 8)}
#: Main's budgets before issue 26 (per sign) and the commit of its branch and bound.
OLD_NODES = 600_000
OLD_COMMIT = "e29a4f1"
DATA = Path(__file__).resolve().parent / "data"
#: The fit is certified when s <= beta (1 + SLACK).
SLACK = 1e-6


def load(name: str):
    """(X, y, beta, bias, note) of a benchmark problem."""
    if name == "synthetic_rank5":
        rng = np.random.default_rng(0)
        n, d = 1000, 4
        X = rng.standard_normal((n, d))
        W = rng.standard_normal((5, d)) / np.sqrt(d)
        b = 0.5 * rng.standard_normal(5)
        y = np.maximum(X @ W.T + b, 0.0) @ rng.standard_normal(5) + 0.1 * rng.standard_normal(n)
        return X, y, n / 442, "regularized", "5-neuron ReLU teacher + noise 0.1, beta n/442"
    if name.startswith("noise50"):
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((50, 5)), rng.standard_normal(50)
        bias = "none" if name.endswith("none") else "regularized"
        return X, y, 1.0, bias, "X, y standard normal"
    if name.startswith("rand"):
        r = int(name[4:])
        rng = np.random.default_rng(r)
        return (rng.standard_normal((100, r)), rng.standard_normal(100), 1.0, "none",
                "X (100, r), y standard normal")
    for prefix, loader in (("diabetes", "load_diabetes"), ("cancer", "load_breast_cancer")):
        if name.startswith(prefix):
            import sklearn.datasets

            raw = getattr(sklearn.datasets, loader)()
            k = int(name[len(prefix):])
            X, y = raw.data[:, :k], raw.target.astype(float)
            X = (X - X.mean(0)) / X.std(0)
            return (X, (y - y.mean()) / y.std(), 1.0, "regularized",
                    f"first {k} features, standardized")
    raise ValueError(f"unknown problem {name!r}")


def lifted(X, bias):
    return np.hstack([X, np.ones((X.shape[0], 1))]) if bias == "regularized" else X


def dual_point(name: str, fit_rounds: int) -> dict:
    """The fit's dual point and objective, from benchmarks/data/<name>.npz or a new fit
    (the generation's branch-and-bound proof step off: pricing by search only)."""
    path = DATA / f"{name}.npz"
    if path.exists():
        return dict(np.load(path))
    import convexnn as cn
    import convexnn.two_layer.pricer as pricer

    X, y, beta, bias, _ = load(name)
    saved, pricer.BB_MAX_RANK = pricer.BB_MAX_RANK, 0
    try:
        t0 = time.perf_counter()
        res = cn.fit(X, y, beta=beta, bias=bias, seed=0, max_rounds=fit_rounds, certify=False)
        fit_s = time.perf_counter() - t0
    finally:
        pricer.BB_MAX_RANK = saved
    lam = y - res.program.predict(res.solution)
    out = dict(lam=lam, objective=float(res.program.objective(res.solution)), fit_time=fit_s)
    DATA.mkdir(exist_ok=True)
    np.savez(path, **out)
    return out


def old_module():
    """branch_bound.py of :data:`OLD_COMMIT`, imported from a temporary copy."""
    src = subprocess.run(["git", "show", f"{OLD_COMMIT}:convexnn/duality/branch_bound.py"],
                         capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    src = src.replace("from ..core.patterns import", "from convexnn.core.patterns import")
    src = src.replace("from .cones import", "from convexnn.duality.cones import")
    path = Path(tempfile.mkdtemp()) / "old_branch_bound.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_branch_bound", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_branch_bound"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def run_old(old, Xt, lam, floor, time_cap, max_nodes=OLD_NODES):
    """The old search on both signs (main's dual_norm_bb: at most 3/4 of the time to the
    first); the nodes of both are summed."""
    t0, c0 = time.perf_counter(), time.process_time()
    nodes, up, lo, done, hit_nodes = 0, 0.0, 0.0, True, False
    for sign in (1.0, -1.0):
        left = time_cap - (time.perf_counter() - t0)
        cap = 0.75 * time_cap if sign > 0 else max(left, 0.25 * time_cap)
        r = old.maximize_relu(Xt, sign * lam, floor=floor, rtol=1e-9, max_nodes=max_nodes,
                              time_limit=cap)
        nodes += r.nodes
        up, lo, done = max(up, r.upper), max(lo, r.lower), done and r.complete
        hit_nodes |= not r.complete and r.nodes >= max_nodes
    stopped = "complete" if done else "node budget" if hit_nodes else "time cap"
    return dict(time=time.perf_counter() - t0, cpu=time.process_time() - c0, nodes=nodes,
                upper=up, lower=lo, stopped=stopped)


def run_new(Xt, lam, floor, max_nodes):
    from convexnn.duality.branch_bound import search

    t0, c0 = time.perf_counter(), time.process_time()
    r = search(Xt, lam, floor=floor, max_nodes=max_nodes)
    return dict(time=time.perf_counter() - t0, cpu=time.process_time() - c0, nodes=r.nodes,
                upper=r.upper, lower=r.lower, stopped=r.stopped)


def certified_gap(y, lam, beta, s_ub, objective):
    """(P - LB)/max(1, |P|), LB = -1/2 ||lam_s - y||^2 + 1/2 ||y||^2, lam_s = lam min(1, beta/s)."""
    lam_s = lam * min(1.0, beta / s_ub)
    lb = -0.5 * float(np.sum((lam_s - y) ** 2)) + 0.5 * float(np.sum(y ** 2))
    return (objective - lb) / max(1.0, abs(objective))


def proof_rows(name, args, old):
    """Old and new search on one problem's dual point (see the module docstring)."""
    X, y, beta, bias, note = load(name)
    dp = dual_point(name, args.fit_rounds)
    Xt, lam = lifted(X, bias), dp["lam"]
    rank = int(np.linalg.matrix_rank(Xt))
    floor = beta * (1 + SLACK)
    rows = []
    runs = [("new", lambda: run_new(Xt, lam, floor, args.nodes))]
    if old is not None:
        runs.insert(0, ("old", lambda: run_old(old, Xt, lam, floor, args.old_time)))
    for method, run in runs:
        row = run()
        row.update(problem=name, n=X.shape[0], rank=rank, method=method, beta=beta,
                   gap=certified_gap(y, lam, beta, row["upper"], float(dp["objective"])),
                   certified=row["upper"] <= floor * (1 + 1e-12), note=note,
                   within=row["upper"] <= max(beta, row["lower"]) * (1 + SLACK) * (1 + 1e-12))
        rows.append(row)
    return rows


def proof_table(rows) -> str:
    out = ["| problem | n | rank | method | time (s) | CPU (s) | nodes | s_ub/beta | s_lb/beta "
           "| stopped | s within 1e-6 | certified gap |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['problem']} | {r['n']} | {r['rank']} | {r['method']} | {r['time']:.1f} "
                   f"| {r['cpu']:.1f} | {r['nodes']:,} | {r['upper'] / r['beta']:.7f} "
                   f"| {r['lower'] / r['beta']:.7f} | {r['stopped']} "
                   f"| {'yes' if r['within'] else 'no'} | {r['gap']:.2e} |")
    out += ["", "| problem | rank | time old/new | nodes old/new | s_ub old/new |",
            "|---|---|---|---|---|"]
    by = {}
    for r in rows:
        by.setdefault(r["problem"], {})[r["method"]] = r
    for name, m in by.items():
        if len(m) < 2:
            continue
        o, n = m["old"], m["new"]
        note = "" if o["stopped"] == "complete" else " (old stopped early)"
        out.append(f"| {name} | {n['rank']} | {o['time'] / n['time']:.1f}x{note} "
                   f"| {o['nodes'] / max(n['nodes'], 1):.1f}x | {o['upper'] / n['upper']:.4g} |")
    return "\n".join(out)


#: Calibration problems: (rank, n), noise targets, no bias, beta = 1.
CALIBRATION = ((3, 60), (4, 40), (5, 25), (6, 18))
BUDGETS = (100, 1_000, 10_000, 100_000)


def exact_s(X, lam) -> float:
    """max over every cell and sign of the cone maxima (exhaustive enumeration)."""
    from convexnn.core.patterns import enumerate_patterns
    from convexnn.duality.cones import pattern_supports

    D = enumerate_patterns(X, max_patterns=10**6).D
    return pattern_supports(X, lam, D).max_upper


def calibration_rows(old, old_time):
    import convexnn as cn
    from convexnn.duality.branch_bound import search

    rows = []
    for rank, n in CALIBRATION:
        rng = np.random.default_rng(rank)
        X, y = rng.standard_normal((n, rank)), rng.standard_normal(n)
        res = cn.fit(X, y, beta=1.0, bias="none", seed=0, certify=False)
        lam = y - res.program.predict(res.solution)
        s = exact_s(X, lam)
        for budget in BUDGETS:
            new = search(X, lam, max_nodes=budget)
            up_old = max(old.maximize_relu(X, sg * lam, max_nodes=budget // 2,
                                           time_limit=old_time / 2).upper for sg in (1.0, -1.0))
            rows.append(dict(rank=rank, n=n, s=s, budget=budget, new=new.upper / s - 1,
                             new_nodes=new.nodes, new_stop=new.stopped, old=up_old / s - 1))
    return rows


def calibration_table(rows) -> str:
    out = ["| rank | n | exact s | node budget | new: s_ub/s - 1 | new nodes (stop) "
           "| old: s_ub/s - 1 |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['rank']} | {r['n']} | {r['s']:.6f} | {r['budget']:,} | {r['new']:.2e} "
                   f"| {r['new_nodes']:,} ({r['new_stop']}) | {r['old']:.2e} |")
    return "\n".join(out)


def main(argv=None):
    from convexnn.duality.dual_norm import BB_NODES

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", default=None)
    ap.add_argument("--ranks", nargs="+", type=int, default=sorted(LADDER))
    ap.add_argument("--fit-rounds", type=int, default=30)
    ap.add_argument("--old-time", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=BB_NODES)
    ap.add_argument("--no-old", action="store_true")
    ap.add_argument("--no-calibration", action="store_true")
    ap.add_argument("--calibration-only", action="store_true")
    ap.add_argument("--out", type=str, default=None)
    args = ap.parse_args(argv)
    problems = args.problems or [p for r in args.ranks for p in LADDER[r]]
    if args.calibration_only:
        problems = []
    old = old_module()
    lines = [f"# bench_proof ({platform.node()}, Python {sys.version.split()[0]}, "
             f"{time.strftime('%Y-%m-%d %H:%M')}); certified: s_ub <= beta (1 + {SLACK:g}); "
             f"new: {args.nodes:,} nodes, old: {OLD_NODES:,} nodes per sign, "
             f"{args.old_time:g} s cap", ""]
    rows = []
    for name in problems:
        new_rows = proof_rows(name, args, None if args.no_old else old)
        rows += new_rows
        print("\n".join(proof_table(new_rows).split("\n")[2:2 + len(new_rows)]), flush=True)
    if rows:
        lines.append(proof_table(rows))
    if not args.no_calibration:
        lines += ["", "## Calibration: proven bound within a node budget against exact s", "",
                  calibration_table(calibration_rows(old, args.old_time))]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
