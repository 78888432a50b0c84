"""Extreme points: optimal neurons attain the dual constraint (Ergen & Pilanci; THEORY A.6-A.7).

At a certified optimum every active neuron's unit direction u satisfies
sign(alpha) lambda^T (X u)_+ = beta with lambda = y - yhat, and no direction exceeds beta.
A stopped-early SGD network violates both.  The figure plots lambda^T (X u(phi))_+ / beta
over unit directions u(phi) = (cos phi, sin phi) for d = 2, with the neurons marked.

Run:  python examples/theory_extreme_points.py [--out out/] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.theory.extreme_points import extreme_point_check
from convexnn.training import random_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(args.seed)
    X, y = rng.standard_normal((20, 2)), rng.standard_normal(20)
    beta = 0.5
    opt = cn.fit(X, y, beta=beta, patterns="exact", solver="clarabel", tol=1e-12).network
    sgd = cn.train(random_module(2, 20, seed=args.seed), X, y, beta=beta, optimizer="sgd",
                   epochs=30, lr=1e-2, quiet=True).network
    phi = np.linspace(-np.pi, np.pi, 2000)
    U = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, net, color in (("certified optimum", opt, "b"), ("SGD, 30 epochs", sgd, "r")):
        chk = extreme_point_check(net, X, y, beta=beta)
        print(f"{name}: {chk.summary_line()}; s/beta = {chk.details['s_over_beta']:.6f}")
        lam = y - net.predict(X)
        ax.plot(phi, np.maximum(X @ U.T, 0).T @ lam / beta, color, label=name)
        ang = np.arctan2(net.W1[:, 1], net.W1[:, 0])
        u = net.W1 / np.linalg.norm(net.W1, axis=1, keepdims=True)
        ax.plot(ang, np.maximum(X @ u.T, 0).T @ lam / beta, color + "o", ms=5)
    for v in (1, -1):
        ax.axhline(v, color="k", ls="--", lw=0.8)
    ax.set_xlabel("direction angle phi")
    ax.set_ylabel("lambda^T (X u)_+ / beta")
    ax.legend()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "theory_extreme_points.png", dpi=120)
    print(f"wrote {out / 'theory_extreme_points.png'}")


if __name__ == "__main__":
    main()
