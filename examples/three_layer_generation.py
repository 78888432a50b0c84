"""Three-layer programs beyond tiny n: group generation against L-BFGS (THEORY E.1, A.10).

On n = 40 points in 3-D (beta = 0.1), solves the parallel three-layer program over generated
groups (convexnn.fit(depth=3, patterns="generate"): master over the groups, two-level pricing of the
dual constraint, L-BFGS descent) for the l1 and l2 path norms, and trains the same
architecture (K = 10 sub-networks of first-layer width 2) by L-BFGS from independent seeds.
The figure shows the master objective per round, the L-BFGS objectives and the valid
global lower bound of the relaxed dual norm.  The convex answer is optimal over the
generated groups only; the script says whether it is at or below every L-BFGS run.

Run:  python examples/three_layer_generation.py [--out out/] [--seed 0] [--n 40] [--runs 5]
      [--time-limit 60] [--lbfgs-iter 2000] [--seed-runs 3]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.training.parallel import train_parallel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=40, help="samples (d = 3)")
    parser.add_argument("--runs", type=int, default=5, help="L-BFGS runs per path norm")
    parser.add_argument("--time-limit", type=float, default=60.0, help="generation seconds")
    parser.add_argument("--lbfgs-iter", type=int, default=2000)
    parser.add_argument("--seed-runs", type=int, default=3,
                        help="L-BFGS runs seeding the generation")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n, 3))
    y = np.sin(X @ rng.standard_normal(3)) + 0.1 * rng.standard_normal(args.n)
    beta = 0.1
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, path in zip(axes, ("l1", "l2")):
        res = cn.fit(X, y, beta=beta, depth=3, path=path, m1=2, bias="none",
                     patterns="generate", seed=args.seed, time_limit=args.time_limit,
                     seed_runs=args.seed_runs)
        print(res.summary())
        runs = sorted(train_parallel(X, y, beta=beta, path=path, K=10, m1=2, seed=1000 + s,
                                     max_iter=args.lbfgs_iter).objective for s in range(args.runs))
        best = runs[0]
        verdict = "at or below" if res.objective <= best * (1 + 1e-9) else "ABOVE"
        print(f"{path}: generated {res.objective:.8f} is {verdict} the best of {len(runs)} "
              f"L-BFGS runs ({best:.8f}); relaxed lower bound {res.certificate.lower_bound:.6f}")
        hist = res.generation.history
        ax.plot([h["round"] for h in hist], [h["objective"] for h in hist], "o-",
                label="master over generated groups")
        for i, r in enumerate(runs):
            ax.axhline(r, color="C3", lw=0.8, alpha=0.7, label="L-BFGS runs" if i == 0 else None)
        ax.axhline(res.certificate.lower_bound, color="k", ls=":", label="relaxed lower bound")
        ax.set_title(f"path = {path}, n = {args.n}, d = 3, beta = {beta:g}")
        ax.set_xlabel("generation round")
        ax.set_ylabel("objective")
        ax.legend(fontsize=8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "three_layer_generation.png", dpi=110)
    print(f"wrote {out / 'three_layer_generation.png'}")


if __name__ == "__main__":
    main()
