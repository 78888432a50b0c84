"""Warm start: gradient training initialised at the recovered convex optimum stays there.

The convex program gives p* and a network theta* with F(theta*) = p*, where

    F(theta) = sum_j 1/2 (f(x_j) - y_j)^2 + beta/2 (||W1||^2 + ||W2||^2 [+ ||b1||^2]).

Weak duality says no network of any width goes below p* (THEORY A.3); this script starts
GD, SGD, Adam and L-BFGS at theta* and records F(theta_t) - p*, on two problems:

* "planted": y = 2 (X u1)_+ - (X u2)_+ with every data point at distance >= 0.5 from both
  hyperplanes; at beta = 0.2 the optimum has two neurons and no data point on a kink, so F
  is smooth at theta*: the gradient is ~0 and every deterministic method stays put;
* "generic": random (X, y), regularized bias.  The optimum's neurons pass through data
  points (active cone constraints, x_j^T u = 0), where F has a kink: the gradient is zero
  in every smooth direction (output weights, the rescaling orbit) but not in W1, so
  theta* is Clarke-stationary, not a zero-gradient point.  L-BFGS (monotone line search)
  stays; fixed-step GD drifts by O(lr) around the kink; SGD and Adam move by their noise /
  normalised step, and all of them stay >= p*.

Prints a table and saves warm_start.png into --out.

Run:  python examples/warm_start.py [--out out/] [--epochs 500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import convexnn as cn
from convexnn import training as tb

OPTIMIZERS = {"gd": None, "sgd": None, "adam": 1e-4, "lbfgs": None}  # lr (None: default)
STYLES = {"gd": "-", "sgd": "-", "adam": "-", "lbfgs": ":"}


def planted() -> tuple[np.ndarray, np.ndarray, float, str]:
    U, a = np.array([[1.0, 0.3], [-0.4, 1.0]]), np.array([2.0, -1.0])
    X = np.random.default_rng(3).standard_normal((400, 2))
    X = X[np.min(np.abs(X @ U.T), axis=1) > 0.5][:8]
    return X, np.maximum(X @ U.T, 0) @ a, 0.2, "none"


def generic() -> tuple[np.ndarray, np.ndarray, float, str]:
    rng = np.random.default_rng(5)
    return rng.standard_normal((8, 2)), rng.standard_normal(8), 0.2, "regularized"


def gradient_norms(net: cn.Network, X, y, beta: float) -> dict[str, float]:
    module = net.to_torch()
    F = tb.objective(module, torch.as_tensor(X), torch.as_tensor(y), beta=beta)
    names = [k for k, _ in module.named_parameters()]
    grads = torch.autograd.grad(F, list(module.parameters()))
    return {k: float(g.norm()) for k, g in zip(names, grads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="folder for warm_start.png")
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    rows = []
    for ax, (name, problem) in zip(axes, [("planted", planted), ("generic", generic)]):
        X, y, beta, bias = problem()
        fit = cn.fit(X, y, beta=beta, bias=bias, patterns="exact")
        net, p = fit.network, fit.objective
        on_kink = int(np.sum(np.abs(net.preactivations(X)) < 1e-6))
        g = gradient_norms(net, X, y, beta)
        print(f"{name}: p* = {p:.10g}, m* = {net.width}, data points on a neuron's kink: "
              f"{on_kink}, |grad| at theta*: " + ", ".join(f"{k} {v:.1e}" for k, v in g.items()))
        for opt, lr in OPTIMIZERS.items():
            res = tb.train(net, X, y, beta=beta, optimizer=opt, lr=lr, epochs=args.epochs,
                           optimum=p, quiet=True, seed=0)
            gaps = np.array(res.history["gap"]) / p
            rows.append((name, opt, f"{res.lr:.3g}", gaps[0], gaps.min(), gaps.max(), gaps[-1],
                         res.grad_norm))
            ax.plot(res.history["epoch"], np.maximum(np.abs(gaps), 1e-16), STYLES[opt], lw=1.5,
                    label=opt)
        ax.axhline(abs(gaps[0]), color="0.5", lw=0.8, ls="--")  # solver accuracy of p*
        ax.set(yscale="log", xlabel="epoch", ylabel=r"$|F(\theta_t) - p^*| / p^*$",
               title=f"{name}: start at the convex optimum ({on_kink} kinks)")
        ax.grid(alpha=0.3)
        ax.legend()

    head = ("problem", "optimizer", "lr", "gap(0)/p*", "min gap/p*", "max gap/p*", "final gap/p*",
            "final |grad|")
    print("\n" + "  ".join(f"{h:>12s}" for h in head))
    for r in rows:
        print("  ".join([f"{r[0]:>12s}", f"{r[1]:>12s}", f"{r[2]:>12s}"]
                        + [f"{v:12.2e}" for v in r[3:]]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "warm_start.png", dpi=120)
    print(f"\nsaved {out / 'warm_start.png'}")


if __name__ == "__main__":
    main()
