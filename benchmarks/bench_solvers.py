"""Benchmark the convex-program solvers: certified working set vs CVXPY + Clarabel / SCS.

Usage::

    python benchmarks/bench_solvers.py                      # every problem
    python benchmarks/bench_solvers.py --problems diabetes  # a subset
    python benchmarks/bench_solvers.py --time-cap 300 --repeats 5

Each solver runs in its own subprocess (so that its peak resident memory, ``ru_maxrss``,
is its own) and reports the time to a certified relative duality gap of 1e-6 (the
working-set solver: ``working_set`` with its defaults, which polish the point to 1e-8,
and ``working_set_tol``, which stops at the first point certified within 1e-6; each time
is the median of ``--repeats`` runs after one untimed-in-the-median first call, whose time
is shown apart; the spread min / median / max is shown too, with the load average) or to its own default tolerance (Clarabel 1e-8,
SCS 1e-6).  The table shows, per
problem and solver: time, objective, relative difference to Clarabel's optimum (to the
best objective found when Clarabel is skipped), certified gap where the solver gives
one, peak memory, and the speed-up over Clarabel measured in the same run.  Solvers
that would exceed ``--time-cap`` seconds are skipped (estimated from the program size
before compiling, or killed at the cap), and the table says so; the working-set solver
has its own cap (:data:`WS_TIME_CAP`) and runs once on the problems of
:data:`SINGLE_RUN`.  scnn (``pyscnn``) runs
when installed (its objective is ``1/(2n)||.||^2 + lambda*sum||.||``, i.e. ours with
``beta = n*lambda``).

Results go to ``benchmarks/results/`` as JSON and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SOLVERS = ("working_set", "working_set_tol", "clarabel", "scs", "scnn")
#: Cone violation (relative, TwoLayerProgram.constraint_violation) below which a point
#: counts as feasible for the reference objective.
FEASIBLE = 1e-9


# ---- problems ------------------------------------------------------------------------------
def _standardize(X):
    X = np.asarray(X, dtype=np.float64)
    return (X - X.mean(0)) / X.std(0)


def problem(name: str):
    """(program, description) of a benchmark problem (deterministic)."""
    from convexnn.core.patterns import add_bias_column, enumerate_1d_bias, sample_patterns
    from convexnn.two_layer.program import TwoLayerProgram

    if name in ("diabetes", "diabetes-gated"):
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        X = _standardize(X)
        pset = sample_patterns(add_bias_column(X), 200, seed=0)
        model = "gated" if name.endswith("gated") else "relu"
        prog = TwoLayerProgram(X, y, beta=0.01, loss="squared", model=model, bias="regularized",
                               skip=False, output_bias=False, patterns=pset)
        return prog, (f"diabetes n=442, d=10+bias (regularized), 200 Gaussian gates, beta=0.01, "
                      f"squared loss, C-{'GReLU' if model == 'gated' else 'ReLU'}")
    if name.startswith("breast-cancer"):
        from sklearn.datasets import load_breast_cancer

        X, t = load_breast_cancer(return_X_y=True)
        X = _standardize(X)
        y = 2.0 * t - 1.0
        loss = "logistic" if name.endswith("logistic") else "squared"
        pset = sample_patterns(add_bias_column(X), 500, seed=0)
        beta = 1.0
        prog = TwoLayerProgram(X, y, beta=beta, loss=loss, model="relu", bias="regularized",
                               skip=False, output_bias=False, patterns=pset)
        return prog, (f"breast cancer n=569, d=30+bias (regularized), labels +-1, 500 Gaussian "
                      f"gates, beta={beta:g}, {loss} loss, C-ReLU")
    if name == "synthetic":
        rng = np.random.default_rng(0)
        n, d, teacher = 10_000, 50, 10
        X = rng.standard_normal((n, d))
        W = rng.standard_normal((teacher, d)) / np.sqrt(d)
        y = np.maximum(X @ W.T, 0) @ rng.standard_normal(teacher) + 0.1 * rng.standard_normal(n)
        Xt = add_bias_column(X)
        pset = sample_patterns(Xt, 1000, seed=0)
        # beta relative to the gated critical value max_i ||Xt^T D_i y||
        beta_max = float(np.linalg.norm((pset.D * y[:, None]).T @ Xt, axis=1).max())
        beta = SYNTHETIC_BETA * beta_max
        prog = TwoLayerProgram(X, y, beta=beta, loss="squared", model="relu", bias="regularized",
                               skip=False, output_bias=False, patterns=pset)
        return prog, (f"synthetic n=10000, d=50+bias (regularized), 1000 Gaussian gates, planted "
                      f"10-neuron ReLU teacher + noise 0.1, beta={SYNTHETIC_BETA:g}*beta_max "
                      f"(gated)={beta:.4g}, squared loss, C-ReLU")
    if name == "1d-exact":
        rng = np.random.default_rng(0)
        n = 1000
        x = np.sort(rng.uniform(-3, 3, n))
        y = np.sin(2 * x) + 0.3 * x + 0.1 * rng.standard_normal(n)
        pset = enumerate_1d_bias(x)
        prog = TwoLayerProgram(x[:, None], y, beta=0.1, loss="squared", model="relu", bias="free",
                               skip=False, output_bias=False, patterns=pset)
        return prog, ("1-D n=1000, exact patterns (2n threshold cells), free hidden biases, "
                      "beta=0.1, squared loss, C-ReLU")
    raise ValueError(f"unknown problem {name!r}; choose from {PROBLEMS}")


PROBLEMS = ("diabetes", "diabetes-gated", "breast-cancer-squared", "breast-cancer-logistic",
            "synthetic", "1d-exact")
#: Seconds the working-set solver may run whatever ``--time-cap`` (which caps the others).
WS_TIME_CAP = 300.0
#: Problems whose working-set time is one run (minutes, not seconds: no warm-up to hide).
SINGLE_RUN = ("synthetic",)
#: beta of the synthetic problem, as a fraction of the gated critical value.
SYNTHETIC_BETA = 0.1


def cone_rows(prog) -> int:
    """Rows of the compiled cvxpy program (the cone constraints dominate)."""
    blocks = prog.n_patterns * (1 if prog.model == "gated" else 2)
    return blocks * (prog.n_samples if prog.model == "relu" else 0) + prog.n_samples


# ---- the worker (one solver, one problem, its own process) ---------------------------------
def worker(name: str, solver: str, time_cap: float, repeats: int) -> dict:
    import resource

    prog, desc = problem(name)
    out = {"problem": name, "solver": solver, "description": desc}
    if solver.startswith("working_set"):
        from convexnn.solvers import SOLVERS

        # "working_set": the defaults (polished to tol/100); "working_set_tol": stop at the
        # first point certified within 1e-6 (polish=False), the time-to-gap
        opts = dict(tol=1e-6, time_limit=max(time_cap, WS_TIME_CAP), polish=solver == "working_set")
        if name in SINGLE_RUN:
            repeats = 1
        times, sol, cold = [], None, None
        if name not in SINGLE_RUN:
            # a first call pays one-off costs (torch's and BLAS's initialisation, imports):
            # timed, reported apart, and not part of the median
            t0 = time.perf_counter()
            SOLVERS["working_set"](prog, **opts)
            cold = time.perf_counter() - t0
        for _ in range(repeats):
            t0 = time.perf_counter()
            # our solver is the subject: capped at the (larger) working-set cap
            sol = SOLVERS["working_set"](prog, **opts)
            times.append(time.perf_counter() - t0)
        out.update(time=float(np.median(times)), time_min=float(np.min(times)),
                   time_max=float(np.max(times)), times=times, load_average=os.getloadavg()[0],
                   first_call=cold,
                   status=sol.status, objective=prog.objective(sol), dual_bound=sol.dual_bound,
                   rel_gap=sol.info["rel_gap"], iterations=sol.iterations,
                   rounds=sol.info["rounds"], blocks=f"{sol.info['blocks']}/{sol.info['all_blocks']}",
                   rows=sol.info["rows"], violation=prog.constraint_violation(sol))
    elif solver in ("clarabel", "scs"):
        from convexnn.solvers import SOLVERS

        opts = {"time_limit": time_cap} if solver == "clarabel" else {"time_limit_secs": time_cap}
        t0 = time.perf_counter()
        sol = SOLVERS[solver](prog, tol=1e-6 if solver == "scs" else None, **opts)
        wall = time.perf_counter() - t0
        out.update(time=wall, status=sol.status, objective=prog.objective(sol),
                   iterations=sol.iterations, compile=sol.setup_time, solve=sol.solve_time,
                   violation=prog.constraint_violation(sol))
    elif solver == "scnn":
        out.update(_run_scnn(prog))
        if "skipped" in out:
            return out
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_scnn(prog) -> dict:
    """scnn's augmented-Lagrangian C-ReLU solver on the same lifted data and gates.

    scnn minimizes :math:`\frac{1}{2n}\|\hat y - y\|^2 + \lambda\sum_i(\|v_i\| + \|w_i\|)`,
    i.e. our program divided by n with :math:`\lambda = \beta/n`; its convex weights
    (``return_convex=True``, data not unitized so that the program is the same) are
    evaluated with our objective.  Squared loss only.
    """
    import importlib

    if prog.loss.name != "squared" or prog.model != "relu" or prog.bias == "free":
        return {"skipped": "scnn comparison covers the squared-loss C-ReLU with a lifted bias"}
    optimize = importlib.import_module("scnn.optimize").optimize_model
    ConvexReLU = importlib.import_module("scnn.models").ConvexReLU
    NeuronGL1 = importlib.import_module("scnn.regularizers").NeuronGL1
    AL = importlib.import_module("scnn.solvers").AL
    Metrics = importlib.import_module("scnn.metrics").Metrics
    model = ConvexReLU(prog.patterns.gates.T, c=1)
    t0 = time.perf_counter()
    out = optimize(model, AL(model), Metrics(), prog.Xt, prog.y,
                   regularizer=NeuronGL1(prog.beta / prog.n_samples),
                   return_convex=True, unitize_data=False, dtype="float64")
    wall = time.perf_counter() - t0
    model = out[0]  # pyscnn 0.0.10 returns (model, metrics); no exit status
    # scnn's own predictions: its weights do not map one-to-one onto our blocks (their
    # predictions through our D_i differ), so the objective is the one scnn minimizes,
    # times n, and the cone constraints are scnn's to keep (not checked here)
    yhat = np.asarray(model(prog.Xt)).reshape(-1)
    U, W = (np.asarray(p).reshape(-1, prog.Xt.shape[1]) for p in model.parameters[:2])
    penalty = float(np.linalg.norm(U, axis=1).sum() + np.linalg.norm(W, axis=1).sum())
    objective = 0.5 * float(np.sum((yhat - prog.y) ** 2)) + prog.beta * penalty
    return {"time": wall, "status": "default tolerance (AL)", "objective": objective}


# ---- driver ---------------------------------------------------------------------------------
def run_one(name, solver, time_cap, repeats) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, solver,
           "--time-cap", str(time_cap), "--repeats", str(repeats)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=(max(time_cap, WS_TIME_CAP) * (repeats + 1)
                                      if solver.startswith("working_set")
                                      else time_cap) + 60)
    except subprocess.TimeoutExpired:
        return {"problem": name, "solver": solver, "skipped": f"killed at the time cap ({time_cap:g} s)"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        return {"problem": name, "solver": solver,
                "skipped": "failed: " + (res.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(lines[-1])


def skip_reason(name, solver, prog, time_cap) -> str | None:
    import importlib.util

    if solver == "scnn" and importlib.util.find_spec("scnn") is None:
        return "not installed (pip install pyscnn)"
    if solver in ("clarabel", "scs"):
        rows = cone_rows(prog)
        # the measurement: ~177k cone rows took 63 s (Clarabel) to compile and solve;
        # compile time and memory grow at least linearly in the rows times d'
        est = 63.0 * rows * prog.Xt.shape[1] / (176_800 * 11)
        if est > time_cap:
            return f"estimated {est:.0f} s > time cap {time_cap:g} s ({rows:,} cone rows x d'={prog.Xt.shape[1]})"
    return None


def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def table(name, desc, rows) -> str:
    ref = next((r for r in rows if r["solver"] == "clarabel" and "objective" in r
                and r.get("status") in ("optimal", "inaccurate")), None)
    # without Clarabel: the best point that is feasible (cone violation <= FEASIBLE); an
    # infeasible point can sit below the optimum (SCS's at its tolerance does)
    finite = [r["objective"] for r in rows if np.isfinite(r.get("objective", np.nan))
              and r.get("violation", 0.0) <= FEASIBLE]
    ref_obj = ref["objective"] if ref else (min(finite) if finite else np.nan)
    ref_name = "Clarabel" if ref else "best feasible"
    t_ref = ref["time"] if ref else None
    lines = [f"### {name}", "", desc, "",
             f"| solver | time [s] | objective | rel. diff vs {ref_name} | certified gap | "
             f"cone violation | status | iterations | peak RSS [MB] | speed-up vs Clarabel |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            why = r["skipped"] if len(r["skipped"]) <= 120 else r["skipped"][:117] + "..."
            lines.append(f"| {r['solver']} | skipped: {why} | | | | | | | | |")
            continue
        t = r["time"]
        tt = fmt(t, ".3f") + (f" (min {r['time_min']:.3f}" if "time_min" in r else "")
        if "time_min" in r:  # the spread over repeats (older results have no max)
            tt += f", max {r['time_max']:.3f})" if "time_max" in r else ")"
        rel = (r["objective"] - ref_obj) / max(1.0, abs(ref_obj)) if np.isfinite(ref_obj) else np.nan
        speed = (t_ref / t) if (t_ref and r["solver"] != "clarabel") else None
        lines.append(f"| {r['solver']} | {tt} | {fmt(r.get('objective'), '.10g')} | {fmt(rel, '+.1e')} | "
                     f"{fmt(r.get('rel_gap'), '.1e')} | {fmt(r.get('violation'), '.1e')} | "
                     f"{r.get('status', '-')} | "
                     f"{r.get('iterations', '-')} | {fmt(r.get('max_rss_mb'), '.0f')} | "
                     f"{fmt(speed, '.2g' if speed and speed < 10 else '.0f') + 'x' if speed else '-'} |")
    extra = [r for r in rows if r["solver"].startswith("working_set") and "rounds" in r]
    for r in extra:
        lines.append("")
        first = f", first call {r['first_call']:.3f} s" if r.get("first_call") is not None else ""
        lines.append(f"{r['solver']}: {r['rounds']} round(s), blocks {r['blocks']}, {r['rows']} cone rows "
                     f"in its working set, max cone violation {r['violation']:.1e}; times "
                     f"{[round(t, 3) for t in r['times']]}{first}"
                     + (f"; spread min/median/max {r['time_min']:.3f} / {r['time']:.3f} / "
                        f"{r['time_max']:.3f} s (max/median {r['time_max'] / r['time']:.2f}), "
                        f"load average {r['load_average']:.2f}" if "time_max" in r else ""))
    for r in rows:
        if r.get("solver") == "clarabel" and "compile" in r:
            lines.append(f"clarabel: compile {r['compile']:.2f} s, solve {r['solve']:.2f} s")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=SOLVERS)
    ap.add_argument("--time-cap", type=float, default=600.0, help="seconds per solver run")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the working-set solver")
    ap.add_argument("--worker", nargs=2, metavar=("PROBLEM", "SOLVER"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--render", metavar="JSON", help="rewrite (and print) the tables of a saved run")
    args = ap.parse_args(argv)
    if args.render:  # rewrite the markdown of a saved run (same measurements)
        path = Path(args.render)
        saved = json.loads(path.read_text())
        text = markdown(saved["meta"], saved["results"])
        path.with_suffix(".md").write_text(text)
        print(text)
        return
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.time_cap, args.repeats)))
        return
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "load_average_before": load, "python": platform.python_version(),
            "time_cap": args.time_cap, "repeats": args.repeats, "blas": blas_info()}
    print(f"# solver benchmark ({meta['date']}, {meta['cpus']} CPUs, load average {load[0]:.2f})\n")
    all_rows = []
    for name in args.problems:
        prog, desc = problem(name)
        rows = []
        for solver in args.solvers:
            why = skip_reason(name, solver, prog, args.time_cap)
            r = {"problem": name, "solver": solver, "skipped": why} if why else \
                run_one(name, solver, args.time_cap, args.repeats)
            r.setdefault("description", desc)
            rows.append(r)
            print(f"  {name:24s} {solver:12s} " + (f"skipped ({r['skipped']})" if "skipped" in r else
                                                    f"{r['time']:.3f} s  {r.get('status')}"), flush=True)
        print("\n" + table(name, desc, rows) + "\n", flush=True)
        all_rows.extend(rows)
    meta["load_average_after"] = os.getloadavg()
    tag = "_".join(args.problems) if len(args.problems) < len(PROBLEMS) else "all"
    (out_dir / f"bench_{tag}.json").write_text(json.dumps({"meta": meta, "results": all_rows}, indent=1))
    (out_dir / f"bench_{tag}.md").write_text(markdown(meta, all_rows))
    print(f"results: {out_dir}/bench_{tag}.json, .md")


def blas_info() -> list:
    """The BLAS libraries loaded (threadpoolctl): API, kernel architecture, threads."""
    try:
        import scipy.linalg  # noqa: F401  (load scipy's BLAS too)
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    return [{k: i.get(k) for k in ("internal_api", "prefix", "architecture", "num_threads")}
            for i in threadpool_info()]


def markdown(meta: dict, all_rows: list) -> str:
    """The results file: run conditions, then one table per problem."""
    load = meta["load_average_before"]
    blas = ", ".join(f"{b['prefix']} {b['architecture']} ({b['num_threads']} threads)"
                     for b in meta.get("blas", []))
    md = [f"# Solver benchmark\n\n{meta['date']}; {meta['cpus']} CPUs; load average before the run "
          f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}." + (f" BLAS: {blas}." if blas else "") + "\n"]
    for name in dict.fromkeys(r["problem"] for r in all_rows):
        rows = [r for r in all_rows if r["problem"] == name]
        desc = next((r["description"] for r in rows if "description" in r), name)
        md.append(table(name, desc, rows) + "\n")
    if "load_average_after" in meta:
        md.append(f"Load average after the run: {meta['load_average_after'][0]:.2f}.\n")
    return "\n".join(md)


if __name__ == "__main__":
    main()
