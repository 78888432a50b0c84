"""Linear two-layer CNNs: the convex programs against gradient training (THEORY D).

Random 6 x 6 images, 3 x 3 patches (K = 16), weight decay beta:

* global pooling, f = sum_j a_j mean_k X_k u_j: the optimum is min l(Sz) + beta ||z||
  with S = mean_k X_k, in closed form for the squared loss (a shrunk ridge solution);
* per-patch output weights (no pooling), f = sum_j sum_k (X_k u_j) a_jk: the optimum is
  min l(sum_k X_k Z e_k) + beta ||Z||_* (a nuclear-norm program, CVXPY).

For a sweep of beta the script prints both optima and the best and worst of five L-BFGS
runs of the factored networks: every run is at or above the convex value and the best
reaches it.  The figure shows p*(beta) with the runs on top.

Run:  python examples/cnn_linear_closed_forms.py [--out out/] [--n 30] [--restarts 5] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.theory.linear_cnn import linear_cnn_check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n, 6, 6))
    y = X[:, 1:4, 1:4].mean(axis=(1, 2)) + 0.3 * rng.standard_normal(args.n)
    conv = cn.Conv(patch=3, pooling="mean")
    betas = [0.01, 0.1, 0.3, 1.0, 3.0]
    rows = {True: [], False: []}
    print(" program                 beta     convex p*      best run       worst run     holds")
    for pooled in (True, False):
        for beta in betas:
            chk = linear_cnn_check(X, y, conv=conv, beta=beta, pooled=pooled,
                                   restarts=args.restarts, seed=args.seed)
            runs = chk.details["runs"]
            rows[pooled].append((beta, chk.predicted, runs))
            name = "global pooling, ||z||" if pooled else "per-patch, ||Z||_*"
            print(f" {name:22s} {beta:6.2f}   {chk.predicted:.8f}   {runs.min():.8f}   "
                  f"{runs.max():.8f}   {chk.holds}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, pooled in zip(axes, (True, False)):
        b = [r[0] for r in rows[pooled]]
        ax.loglog(b, [r[1] for r in rows[pooled]], "-", color="C0", label="convex optimum")
        for i, (beta, _, runs) in enumerate(rows[pooled]):
            ax.loglog([beta] * len(runs), runs, "x", color="C3",
                      label="L-BFGS runs" if i == 0 else None)
        ax.set_xlabel("beta")
        ax.set_ylabel("objective")
        ax.set_title("global pooling: min l(Sz) + beta||z||" if pooled
                     else "per-patch outputs: min l(sum_k X_k Z e_k) + beta||Z||_*")
        ax.legend(fontsize=8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "cnn_linear_closed_forms.png", dpi=110)
    print(f"saved {out / 'cnn_linear_closed_forms.png'}")


if __name__ == "__main__":
    main()
