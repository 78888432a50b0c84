"""Deep narrow ReLU networks on 1-D data: the library-of-mirrors Lasso (Zeger et al. 2024).

For depth L = 2, 3, 4, solves the Lasso over ramp features with breakpoints at the data
points and (L = 4) their reflections 2 x_j - x_i, recovers the network of parallel
width-one chains, prints its knots, and compares with gradient training of the same
networks.  Data: the paper's "opt" set {0,4,5,7,10,11} -> {0,0,0,2,3,3} and "zshape"
{0,2,6,7} -> {0,0,3,3}.  The figure shows the recovered functions at beta = 1e-6
(min-norm optimal point: linear-spline interpolation, knots marked).

Run:  python examples/deep_1d_mirrors.py [--out out/] [--seeds 3]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.deep_1d.program import lasso_deep_1d
from convexnn.training.chains import train_chains

DATA = {"opt": ([0, 4, 5, 7, 10, 11], [0, 0, 0, 2, 3, 3]), "zshape": ([0, 2, 6, 7], [0, 0, 3, 3])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seeds", type=int, default=3, help="gradient runs per depth")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 6), sharey="row")
    for row, (name, (x, y)) in enumerate(DATA.items()):
        x, y = np.asarray(x, float), np.asarray(y, float)
        grid = np.linspace(x.min() - 1.5, x.max() + 1.5, 600)
        for col, L in enumerate((2, 3, 4)):
            beta = 1e-6
            r = lasso_deep_1d(x, y, beta=beta, depth=L, min_norm=True)
            net = r.network(rtol=1e-5)
            knots, jumps = net.knots(tol=1e-3)
            print(f"{name} L={L}: p/beta = {r.objective / beta:.6f}, knots {np.round(knots, 4)}, "
                  f"slope jumps {np.round(jumps, 4)}")
            b2 = 0.1
            lasso = lasso_deep_1d(x, y, beta=b2, depth=L).objective
            runs = [train_chains(x, y, beta=b2, depth=L, seed=s).objective(x, y, beta=b2)
                    for s in range(args.seeds)]
            print(f"    beta={b2}: Lasso {lasso:.8f} <= best gradient run {min(runs):.8f} "
                  f"(all runs {np.round(sorted(runs), 6)})")
            ax = axes[row, col]
            ax.plot(grid, net.predict(grid), "b-", label=f"Lasso net, L={L}")
            ax.plot(x, y, "ro")
            for k in knots:
                ax.axvline(k, color="gray", lw=0.6, ls=":")
            ax.set_title(f"{name}, L={L}: cost {r.objective / beta:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "deep_1d_mirrors.png", dpi=120)
    print(f"wrote {out / 'deep_1d_mirrors.png'}")


if __name__ == "__main__":
    main()
