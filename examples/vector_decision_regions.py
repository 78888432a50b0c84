"""Decision regions of a 2-D, 3-class problem: the globally optimal (certified) convex
network against SGD on the same objective (softmax cross-entropy + weight decay).

Usage: ``python examples/vector_decision_regions.py [--out out/] [--n 45] [--beta 0.5]``.
Writes ``vector_decision_regions.png`` into ``--out`` and prints both objectives and the
certificate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def three_blobs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 1.2], [-1.1, -0.7], [1.1, -0.7]])
    labels = np.arange(n) % 3
    X = centers[labels] + 0.55 * rng.standard_normal((n, 2))
    return X, labels


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--n", type=int, default=45)
    ap.add_argument("--beta", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=1000)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import convexnn as cn
    from convexnn import training as tb

    X, y = three_blobs(args.n)
    res = cn.fit(X, y, beta=args.beta, loss="cross_entropy", bias="regularized")
    module = tb.random_module(2, 50, bias="regularized", n_outputs=3, seed=0)
    sgd = tb.train(module, X, y, beta=args.beta, loss="cross_entropy", optimizer="sgd",
                   epochs=args.epochs, seed=0, quiet=True)
    print(res.summary())
    print(f"SGD (width 50, {args.epochs} epochs): objective {sgd.objective:.8g} "
          f"(convex optimum {res.objective:.8g}, lower bound {res.certificate.lower_bound:.8g})")

    g = np.linspace(X.min() - 0.8, X.max() + 0.8, 300)
    GX, GY = np.meshgrid(g, g)
    grid = np.stack([GX.ravel(), GY.ravel()], axis=1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    for ax, net, title in ((axes[0], res.network, f"convex (certified), obj {res.objective:.4f}, "
                            f"{res.network.width} neurons"),
                           (axes[1], sgd.network, f"SGD width 50, obj {sgd.objective:.4f}")):
        Z = np.argmax(net.predict(grid), axis=1).reshape(GX.shape)
        ax.contourf(GX, GY, Z, levels=[-0.5, 0.5, 1.5, 2.5], cmap="Set1", alpha=0.25)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="Set1", edgecolor="k", s=25)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(f"3-class decision regions, cross-entropy, beta = {args.beta}")
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "vector_decision_regions.png"
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
