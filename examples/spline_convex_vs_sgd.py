"""Spline partitions of the convex optimum and of an SGD-trained network, side by side.

A two-layer ReLU network with free hidden biases is fit to n=20 points of a 2-D
"inside/outside the unit circle" problem (labels +-1, squared loss, beta=0.05) twice:

* to global optimality by its convex program over every activation pattern
  (``convexnn.fit(..., bias="free", patterns="exact")``);
* by Adam on the same objective sum_j 1/2 (f(x_j) - y_j)^2 + beta/2 (||W1||^2 + ||W2||^2)
  from a random width-50 start (``convexnn.training`` when present, else a short loop).

Both input planes are cut exactly into activation regions (``convexnn.spline.slice_regions``),
coloured by region, with the decision boundary f = 0.  Prints the objectives, the numbers of
neurons, the neurons whose line passes within 1e-6 of >= 1 / >= 2 data points ("on data":
most of the optimum's lines do, an SGD network's do not), activation regions, slivers (area
< 1e-6 of the box, between lines that coincide up to solver accuracy because several
neurons pass through the same data points), linear regions, and a 200x200 grid check.

Run:  python examples/spline_convex_vs_sgd.py [--out out/] [--seed 0] [--epochs 10000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.spline import slice_regions

BOX = (-2.0, 2.0, -2.0, 2.0)


def circle_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.6, 1.6, (n, 2))
    return X, np.where(np.linalg.norm(X, axis=1) > 1.0, 1.0, -1.0)


def train_sgd(X: np.ndarray, y: np.ndarray, *, beta: float, width: int, epochs: int,
              seed: int) -> tuple[cn.Network, float]:
    """Adam on the explicit objective (THEORY section 0); returns the network and F."""
    try:
        from convexnn.training import random_module, train
    except ImportError:
        return _train_loop(X, y, beta=beta, width=width, epochs=epochs, seed=seed)
    start = random_module(X.shape[1], width, bias="free", seed=seed)
    res = train(start, X, y, beta=beta, optimizer="adam", lr=1e-2, epochs=epochs, seed=seed,
                log_every=epochs, quiet=True)
    return res.network, res.objective


def _train_loop(X, y, *, beta, width, epochs, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    W1 = (torch.rand(width, 2, generator=g, dtype=torch.float64) * 2 - 1) / 3**0.5
    b1 = (torch.rand(width, generator=g, dtype=torch.float64) * 2 - 1) / 3**0.5
    W2 = (torch.rand(width, generator=g, dtype=torch.float64) * 2 - 1) / width**0.5
    c0 = torch.zeros((), dtype=torch.float64)
    params = [p.requires_grad_() for p in (W1, b1, W2, c0)]
    Xt, yt = torch.tensor(X), torch.tensor(y)
    opt = torch.optim.Adam(params, lr=1e-2)

    def F():
        f = torch.relu(Xt @ W1.T + b1) @ W2 + c0
        return 0.5 * ((f - yt) ** 2).sum() + beta / 2 * ((W1**2).sum() + (W2**2).sum())
    for _ in range(epochs):
        opt.zero_grad()
        F().backward()
        opt.step()
    net = cn.Network(W1=W1.detach().numpy(), b1=b1.detach().numpy(), W2=W2.detach().numpy(),
                     c0=float(c0))
    return net, float(F())


def lines_through_data(net: cn.Network, X: np.ndarray, tol: float = 1e-6) -> tuple[int, int]:
    """Neurons whose line w.x + b = 0 passes within tol of >= 1 and of >= 2 data points."""
    live = np.linalg.norm(net.W1, axis=1) > 0
    dist = np.abs(X @ net.W1[live].T + net.b1[live]) / np.linalg.norm(net.W1[live], axis=1)
    hits = np.sum(dist < tol, axis=0)
    return int(np.sum(hits >= 1)), int(np.sum(hits >= 2))


def describe(name: str, net: cn.Network, objective: float, X: np.ndarray, y: np.ndarray):
    part = slice_regions(net, box=BOX)
    check = part.check(200)
    acc = float(np.mean(np.sign(net.predict(X)) == y))
    on_data = "{}/{}".format(*lines_through_data(net, X))
    slivers = sum(r.area < 1e-6 * part.box_area for r in part.regions)
    print(f"{name:14s} {objective:10.6f} {net.width:6d} {on_data:>7s} "
          f"{part.n_regions:8d} {slivers:8d} {part.n_linear_regions():7d} "
          f"{check.n_sampled_regions:8d} {check.n_mismatch:9d} {acc:5.2f}")
    return part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10000)
    args = parser.parse_args()
    beta, n = 0.05, 20
    X, y = circle_data(n, args.seed)

    convex = cn.fit(X, y, beta=beta, bias="free", patterns="exact", seed=args.seed)
    sgd_net, sgd_obj = train_sgd(X, y, beta=beta, width=50, epochs=args.epochs, seed=args.seed)

    print(f"n={n}, d=2, beta={beta}, bias='free', {convex.patterns.shape[1]} exact patterns")
    print(f"{'network':14s} {'objective':>10s} {'width':>6s} {'on data':>7s} {'regions':>8s} "
          f"{'slivers':>8s} {'linear':>7s} {'grid_reg':>8s} {'grid_bad':>9s} {'acc':>5s}")
    parts = [describe("convex optimum", convex.network, convex.objective, X, y),
             describe("Adam, m=50", sgd_net, sgd_obj, X, y)]
    print(f"Adam objective - convex optimum = {sgd_obj - convex.objective:.3e} (>= 0 up to "
          "solver tolerance)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.spline import plot_partition

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4), layout="constrained")
    titles = [f"convex optimum: {parts[0].n_regions} regions",
              f"Adam (m=50): {parts[1].n_regions} regions"]
    for ax, part, title in zip(axes, parts, titles, strict=True):
        plot_partition(part, ax, points=X, labels=y, seed=args.seed)
        ax.set_title(title)
    fig.suptitle(f"inside/outside the unit circle, n={n}: squared loss, free biases, "
                 f"beta={beta:g}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spline_convex_vs_sgd.png", dpi=120)
    print(f"saved {out / 'spline_convex_vs_sgd.png'}")


if __name__ == "__main__":
    main()
