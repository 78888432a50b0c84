"""Convex CNNs solved exactly: every joint pattern of the stacked patches, a certificate,
and L-BFGS runs above the optimum (THEORY D).

1-D signals of length L with patches of size 2 and a bias (stride 1, K = L - 1 patches):
the stacked patch matrix [X_1; ...; X_K] has nK rows of rank 3, so its arrangement has at
most 2 sum_{k<3} C(nK - 1, k) cells -- polynomial in n and K, exponential only in the
patch size.  The script counts the cells against that bound, fits the CNN over all of them
(patterns="exact") and by pattern generation (proven optimal by branch and bound), prints
both certificates, and trains the same CNN and penalty by L-BFGS at several widths: no
run ends below the certified optimum.

Run:  python examples/cnn_exact_1d.py [--out out/] [--n 10] [--length 5] [--beta 0.05]
      [--seeds 5] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.training.conv_train import train_conv


def cell_counts(length: int, ns: list[int], seed: int) -> list[tuple[int, int, int]]:
    """(n, cells of the stacked arrangement, Cover's bound) for random signals."""
    rng = np.random.default_rng(seed)
    conv = cn.Conv(patch=2)
    out = []
    for n in ns:
        Z = conv.stacked(rng.standard_normal((n, length)), bias=True)
        cells = cn.enumerate_patterns(Z).n_patterns
        out.append((n, cells, cn.pattern_count(Z.shape[0], 3)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--n", type=int, default=10, help="signals")
    parser.add_argument("--length", type=int, default=5, help="signal length L")
    parser.add_argument("--beta", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, default=5, help="L-BFGS runs per width")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n, args.length))
    y = np.sin(X.sum(axis=1)) + 0.1 * rng.standard_normal(args.n)
    conv = cn.Conv(patch=2, pooling="mean")

    counts = cell_counts(args.length, [2, 4, 6, 8, 10, 12], args.seed)
    print(f"cells of the stacked arrangement (L = {args.length}, K = {args.length - 1}):")
    for n, c, bound in counts:
        print(f"  n = {n:3d}: {c:6d} cells (Cover's bound {bound})")

    exact = cn.fit(X, y, beta=args.beta, conv=conv, patterns="exact")
    gen = cn.fit(X, y, beta=args.beta, conv=conv, patterns="generate", seed=args.seed)
    print("\n" + exact.summary() + "\n\n" + gen.summary())
    print(f"\nexact {exact.objective:.10f}, generated {gen.objective:.10f} "
          f"(relative difference {abs(gen.objective - exact.objective) / exact.objective:.1e})")

    widths = sorted({1, 2, max(1, exact.network.width // 2), exact.network.width,
                     2 * exact.network.width})
    runs = {w: [train_conv(X, y, conv=conv, width=w, beta=args.beta, seed=s, max_iter=1000).objective
                for s in range(args.seeds)] for w in widths}
    print(f"\nL-BFGS runs of the same CNN (p* = {exact.objective:.8f}, "
          f"certified lower bound {exact.certificate.lower_bound:.8f}):")
    for w, objs in runs.items():
        print(f"  width {w:2d}: best {min(objs):.8f}, worst {max(objs):.8f}, "
              f"all >= p*: {min(objs) >= exact.objective * (1 - 1e-7)}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    ns = [c[0] for c in counts]
    a1.loglog(ns, [c[1] for c in counts], "o-", label="cells (enumerated)")
    a1.loglog(ns, [c[2] for c in counts], "--", label="2 sum_{k<3} C(nK-1, k)")
    a1.set_xlabel("signals n")
    a1.set_ylabel("joint patterns of [X_1; ...; X_K]")
    a1.set_title(f"patch 2 + bias, K = {args.length - 1}: polynomial in n")
    a1.legend(fontsize=8)
    for w, objs in runs.items():
        a2.plot([w] * len(objs), objs, "o", color="C3", alpha=0.6)
    a2.axhline(exact.objective, color="C0", label="certified optimum p*")
    a2.axhline(exact.certificate.lower_bound, color="k", ls=":", label="certificate lower bound")
    a2.set_xlabel("filters of the L-BFGS runs")
    a2.set_ylabel("objective")
    a2.set_title(f"n = {args.n}, L = {args.length}, beta = {args.beta:g}")
    a2.legend(fontsize=8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "cnn_exact_1d.png", dpi=110)
    print(f"saved {out / 'cnn_exact_1d.png'}")


if __name__ == "__main__":
    main()
