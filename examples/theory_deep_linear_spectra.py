"""Singular values per layer of trained deep linear networks vs the closed form (THEORY E.2, I8).

For whitened data (X^T X = I) and weight decay beta, the optimal end-to-end map M shares
its singular vectors with X^T Y, and each singular value s_k is shrunk to
sigma_k = argmin 1/2 (sigma - s_k)^2 + (beta L / 2) sigma^(2/L): a soft threshold for L = 2,
a hard threshold with a jump for L >= 3.  Every layer of a balanced optimum has the
singular values sigma_k^(1/L) and rank <= K (#outputs).  Trains depth L = 2, 3, 4 networks
(width 6) by L-BFGS from several random starts and compares the best run's layer spectra,
objective, ranks and alignment with the closed form.

Run:  python examples/theory_deep_linear_spectra.py [--out out/] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.theory.deep_linear import (
    alignment_check,
    closed_form_check,
    layer_spectra,
    rank_check,
    shrink,
    spectrum_check,
    train_deep,
    whitened_deep_linear,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.theory import plot_layer_spectra

    rng = np.random.default_rng(args.seed)
    n, d, K, beta = 30, 5, 4, 1.0
    X, _ = np.linalg.qr(rng.normal(size=(n, d)))
    Y = X @ (rng.normal(size=(d, K)) @ np.diag([3.0, 2.0, 1.5, 0.8])) + 0.1 * rng.normal(size=(n, K))
    s = np.linalg.svd(X.T @ Y, compute_uv=False)
    print(f"whitened data n={n}, d={d}, K={K} outputs, beta={beta}; singular values of X^T Y: "
          f"{np.round(s, 4)}")
    depths = (2, 3, 4)
    fig, axes = plt.subplots(1, len(depths) + 1, figsize=(4.2 * (len(depths) + 1), 3.6))
    for ax, L in zip(axes, depths):
        sol = whitened_deep_linear(X, Y, beta=beta, depth=L)
        run = train_deep(X, Y, beta=beta, widths=[6] * (L - 1), restarts=6, seed=args.seed)
        net = run.network
        print(f"L={L}: closed form sigma_k = {np.round(sol.sigma, 5)}, per layer sigma^(1/L) = "
              f"{np.round(sol.layer_singular_values, 5)}, p* = {sol.objective:.8f}")
        print(f"  L-BFGS runs: objectives {np.round(run.objectives, 6)} (best {run.best})")
        for l, sv in enumerate(layer_spectra(net)):
            print(f"  layer {l + 1} singular values: {np.round(sv, 5)}")
        for check in (closed_form_check(net, X, Y, sol, rtol=1e-7), spectrum_check(net, sol),
                      rank_check(net, rtol=1e-5), alignment_check(net, rtol=1e-6)):
            print(f"  {check.summary_line()}")
        plot_layer_spectra(layer_spectra(net), sol.layer_singular_values, ax,
                           title=f"L={L}: best of {run.objectives.size} L-BFGS runs")
    grid = np.linspace(0.0, 1.2 * s.max(), 400)
    for L in depths:
        axes[-1].plot(grid, shrink(grid, beta, L), label=f"L={L}")
    axes[-1].plot(s, np.zeros_like(s), "k|", ms=12, label=r"$s_k$ of $X^\top Y$")
    axes[-1].set_xlabel("s")
    axes[-1].set_ylabel(r"$\sigma(s)$")
    axes[-1].set_title(rf"shrinkage of each singular value, $\beta$ = {beta:g}")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"whitened data, n={n}, d={d}, {K} outputs, beta={beta:g}")
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "theory_deep_linear_spectra.png", dpi=120)
    print(f"saved {out / 'theory_deep_linear_spectra.png'}")


if __name__ == "__main__":
    main()
