"""Deep ReLU networks on whitened data: the sign-separated closed form against L-BFGS runs
(Ergen & Pilanci 2021 claim; THEORY E.2, E.3; convexnn.theory.deep_relu).

For X X^T = I (orthonormal rows), scalar output, no biases and weight decay
(beta/2) sum_l ||W_l||_F^2, the optimum of a depth-L ReLU network is the deep-linear
shrinkage sigma_L applied to each sign part of y separately:

    p*_L = sum_{+-} min_{s>=0} 1/2 (s - ||y_+-||)^2 + (beta L / 2) s^(2/L),

a soft threshold for L = 2 and a hard threshold with a jump for L >= 3.  The deep-linear
formula applied to y itself (the "joint" shrinkage of ||y||) is a lower bound that is *not*
attained for mixed-sign y.  The figure plots, for L = 2, 3, 4 over a beta grid, the closed
form, the joint bound, and the best of several L-BFGS runs of the same network (markers);
the bottom row shows the two shrunk norms sigma_+ and sigma_- with their jumps.  The table
prints, per (L, beta), the closed form, the best run and their relative difference: no run
may be below the closed form (it would refute the formula), and the best run should reach it.

Run:  python examples/theory_deep_relu_whitened.py [--out out/] [--seed 0] [--restarts 8]
      [--quick]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.theory.deep_linear import train_deep
from convexnn.theory.deep_relu import whitened_deep_relu


def whitened_instance(seed: int, n: int = 4, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """X = Q^T with orthonormal Q (so X X^T = I_n) and a mixed-sign y."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    y = 2 * rng.standard_normal(n)
    y[0], y[1] = abs(y[0]), -abs(y[1])  # both sign parts present
    return Q.T, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restarts", type=int, default=8, help="L-BFGS runs per (L, beta)")
    parser.add_argument("--quick", action="store_true",
                        help="two betas, two runs, 2000 iterations (smoke test)")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = whitened_instance(args.seed)
    ny = float(np.linalg.norm(y))
    grid = np.linspace(0.02, 1.2, 120) * ny
    check_betas = (0.15 * ny, 0.5 * ny) if args.quick else tuple(np.array([0.1, 0.3, 0.5, 0.8]) * ny)
    restarts = 2 if args.quick else args.restarts
    maxiter = 2000 if args.quick else 20_000
    depths = (2, 3, 4)
    fig, axes = plt.subplots(2, len(depths), figsize=(13, 7), sharex=True)
    print(f"n={X.shape[0]}, d={X.shape[1]}, ||y+||={np.linalg.norm(np.maximum(y, 0)):.4f}, "
          f"||y-||={np.linalg.norm(np.maximum(-y, 0)):.4f}; {restarts} L-BFGS runs per point")
    print(" L   beta      closed form     best L-BFGS     (best - p*)/p*   joint bound")
    worst_below = 0.0
    for col, L in enumerate(depths):
        cfs = [whitened_deep_relu(X, y, beta=b, depth=L) for b in grid]
        ax = axes[0, col]
        ax.plot(grid, [c.objective for c in cfs], "C0-", label="sign-separated closed form")
        ax.plot(grid, [c.joint_lower_bound for c in cfs], "C3--", label="joint shrinkage (bound)")
        for b in check_betas:
            cf = whitened_deep_relu(X, y, beta=b, depth=L)
            fit = train_deep(X, y, beta=b, widths=[6] * (L - 1), activation="relu",
                             restarts=restarts, seed=args.seed, maxiter=maxiter)
            best = float(fit.objectives.min())
            rel = (best - cf.objective) / cf.objective
            worst_below = min(worst_below, rel)
            print(f" {L}  {b:7.4f}   {cf.objective:.10f}   {best:.10f}   {rel:+.2e}        "
                  f"{cf.joint_lower_bound:.10f}")
            ax.plot(np.full(len(fit.objectives), b), fit.objectives, "k.", ms=3, alpha=0.4)
            ax.plot([b], [best], "ko", mfc="none", ms=8)
        ax.set_title(f"depth L = {L}")
        ax.set_ylabel("objective")
        ax2 = axes[1, col]
        ax2.plot(grid, [c.sigma_pos for c in cfs], "C2-", label="sigma_+ (positive part)")
        ax2.plot(grid, [c.sigma_neg for c in cfs], "C1-", label="sigma_- (negative part)")
        ax2.set_xlabel("beta")
        ax2.set_ylabel("shrunk norm")
    axes[0, 0].plot([], [], "ko", mfc="none", label="best L-BFGS run (dots: all runs)")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=8)
    verdict = "holds" if worst_below >= -1e-7 else "FAILS"
    print(f"no L-BFGS run below the closed form (1e-7 relative): {verdict} "
          f"(most negative (best - p*)/p* = {worst_below:+.2e})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.suptitle("Whitened data, deep ReLU: sign-separated shrinkage vs L-BFGS")
    fig.tight_layout()
    fig.savefig(out / "theory_deep_relu_whitened.png", dpi=110)
    print(f"wrote {out / 'theory_deep_relu_whitened.png'}")


if __name__ == "__main__":
    main()
