"""The default ``fit`` on random data: how long it takes and what it proves.

Usage::

    python benchmarks/bench_defaults.py [--n 30 50 100 300 1000] [--d 3 5 10] [--beta 1]

Each problem runs in a fresh interpreter (torch imported before the clock starts, the
first ``fit`` of the process timed): X ~ N(0, I) of size n x d, y = a planted two-layer
ReLU network of three neurons plus noise 0.1, both bias settings, every other argument at
its default.  Prints one markdown row per problem: seconds, how the search stopped, the
rounds, the certificate's verdict, the relative gap it proves, and the objective.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ONE = """
import json, time
import numpy as np
import torch  # imported before the clock: what the first fit of any process pays apart
import convexnn as cn
rng = np.random.default_rng({seed})
n, d = {n}, {d}
X = rng.standard_normal((n, d))
U = rng.standard_normal((d, 3)); a = rng.standard_normal(3)
y = np.maximum(X @ U + 0.2, 0) @ a + 0.1 * rng.standard_normal(n)
t = time.perf_counter()
r = cn.fit(X, y, beta={beta}, bias={bias!r}, progress=False)
seconds = time.perf_counter() - t
c = r.certificate
g = getattr(r, "generation", None)
print(json.dumps(dict(seconds=seconds, status=r.status, objective=r.recovered_objective,
                      verdict=c.verdict, gap=c.relative_gap,
                      stop=getattr(g, "stopped", "-"), rounds=getattr(g, "rounds", "-"))))
"""


def run_one(n: int, d: int, bias: str, beta: float, seed: int, cap: float = 600.0) -> dict:
    """One default fit in a fresh interpreter; its measurements as a dict."""
    code = ONE.format(n=n, d=d, bias=bias, beta=beta, seed=seed)
    try:
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"),
                             timeout=cap).stdout
    except subprocess.TimeoutExpired:
        return dict(seconds=float(cap), status="-", objective=float("nan"),
                    verdict=f"stopped by the benchmark at {cap:.0f} s", gap=float("nan"),
                    stop="-", rounds="-")
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[30, 50, 100, 300, 1000])
    p.add_argument("--d", type=int, nargs="+", default=[3, 5, 10])
    p.add_argument("--bias", nargs="+", default=["none", "regularized"])
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cap", type=float, default=600.0,
                   help="seconds after which the benchmark stops one fit (default 600)")
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"default fit, beta = {args.beta}, seed {args.seed}; load average {load:.2f}\n")
    print("| n x d | bias | fit [s] | stop | rounds | verdict | proven rel. gap | objective |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        for d in args.d:
            for bias in args.bias:
                r = run_one(n, d, bias, args.beta, args.seed, args.cap)
                print(f"| {n} x {d} | {bias} | {r['seconds']:.2f} | {r['stop']} | "
                      f"{r['rounds']} | {r['verdict']} | {r['gap']:.2e} | "
                      f"{r['objective']:.6g} |", flush=True)


if __name__ == "__main__":
    main()
