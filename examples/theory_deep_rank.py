"""Layer ranks of weight-decay-trained deep ReLU networks, with and without a linear skip
(Parhi & Nowak 2022; THEORY F.3).

Trains depth-4 ReLU networks (widths 10, 10, 10) on n = 20 points in 2-D with weight decay
beta in {0 (1e-6), 0.1, 1}, with and without a free linear skip term, and plots the
singular values of every layer.  Prediction: weight decay drives the hidden layers to low
numerical rank (far below the width 10; the unregularized fit stays near full rank), the
layer norms balance, and the skip takes over the linear part.  The first layer's rank is at
most d = 2 and the last at most 1 in every case (the trivial bounds).

Run:  python examples/theory_deep_rank.py [--out out/] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.theory.deep_rank import balance_of_layers, train_deep_relu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((20, 2))
    y = np.maximum(X @ np.array([1.0, -1.0]), 0) + 0.5 * X[:, 0] + 0.1 * rng.standard_normal(20)
    betas = (1e-6, 0.1, 1.0)
    fig, axes = plt.subplots(2, len(betas), figsize=(12, 6), sharey=True)
    for col, beta in enumerate(betas):
        for row, skip in enumerate((False, True)):
            run = train_deep_relu(X, y, beta=beta, widths=[10, 10, 10], skip=skip, seed=args.seed,
                                  adam_steps=600, lbfgs_steps=600)
            bal = balance_of_layers(run, rtol=1e-2)
            print(f"beta={beta:g} skip={skip}: objective {run.objective:.6f}, numerical ranks "
                  f"(1e-3) {run.numerical_ranks()}, layer norms {np.round(run.frobenius_norms(), 4)}, "
                  f"balanced(1e-2): {bal.holds}"
                  + (f", skip {np.round(run.skip, 4)}" if skip else ""))
            ax = axes[row, col]
            for layer, s in enumerate(run.singular_values()):
                ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s / s[0], 1e-12), "o-",
                            label=f"W{layer + 1}")
            ax.set_title(f"beta={beta:g}, {'skip' if skip else 'no skip'}")
            ax.axhline(1e-3, color="k", ls=":", lw=0.8)
    axes[0, 0].legend()
    axes[1, 0].set_xlabel("index")
    axes[0, 0].set_ylabel("sigma_i / sigma_1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "theory_deep_rank.png", dpi=120)
    print(f"wrote {out / 'theory_deep_rank.png'}")


if __name__ == "__main__":
    main()
