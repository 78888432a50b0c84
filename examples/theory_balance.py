"""Balancedness: rebalancing, path norm = weight decay, and what gradient descent does (THEORY H).

1. A random, unbalanced two-layer ReLU network is rebalanced neuron by neuron
   (u, a) -> (t u, a / t), t = sqrt(|a| / ||u||): the outputs do not change, the penalty
   drops to the path norm sum_j ||u_j|| |a_j|, so the objective does not increase.
2. The same for a deep ReLU network, sweeping the layers until the penalty stops falling.
3. Full-batch gradient descent with weight decay on a deep ReLU net from an unbalanced
   start: the loss part conserves D_k = ||in_k||^2 - ||out_k||^2 (positive homogeneity),
   the decay term shrinks it, so gradient flow gives D_k(t) = D_k(0) exp(-2 beta eta t).
   A linear net follows this to machine precision; fixed-step GD on a ReLU net chatters
   across activation boundaries and keeps an O(eta) imbalance (halve eta, halve it).

Run:  python examples/theory_balance.py [--out out/] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.networks.deep import DeepNetwork
from convexnn.networks.two_layer import Network
from convexnn.theory import balance_check, deep_balance_errors, neuron_norms, rebalance_check
from convexnn.theory.deep_linear import deep_objective_gradient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.theory import plot_balance, plot_history

    rng = np.random.default_rng(args.seed)
    n, d, beta = 20, 3, 0.5
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))

    # 1. two-layer network
    m = 12
    net = Network(W1=rng.normal(size=(m, d)) * rng.lognormal(0, 1, (m, 1)), b1=rng.normal(size=m),
                  W2=rng.normal(size=m) * rng.lognormal(0, 1, m))
    check = rebalance_check(net, X, y, beta=beta)
    rebal = check.details["network"]
    print("two-layer net, 12 neurons:")
    for name, N in (("before", net), ("after ", rebal)):
        b = balance_check(N)
        print(f"  {name}: balance error {b.details['balance_error']:.3e}, penalty/path norm "
              f"{b.details['ratio']:.6f}, objective {N.objective(X, y, beta=beta):.6f}")
    print(f"  max |f_rebalanced - f| = {check.details['output_diff']:.2e}; {check.summary_line()}")
    plot_balance(*neuron_norms(net), axes[0], label="random")
    plot_balance(*neuron_norms(rebal), axes[0], label="rebalanced", marker="x")
    axes[0].set_title("two-layer: per-neuron norms")

    # 2. deep ReLU network
    dims = [d, 8, 8, 1]
    deep = DeepNetwork([rng.normal(size=(o, i)) * rng.lognormal(0, 1, (o, 1))
                        for i, o in zip(dims, dims[1:])])
    check = rebalance_check(deep, X, y, beta=beta)
    drebal = check.details["network"]
    print("deep ReLU net 3-8-8-1:")
    print(f"  balance errors per hidden layer before {np.round(deep_balance_errors(deep), 4)}, "
          f"after {deep_balance_errors(drebal)}")
    print(f"  penalty {deep.penalty():.6f} -> {drebal.penalty():.6f}; max |f_rebalanced - f| = "
          f"{check.details['output_diff']:.2e}; objective {check.details['objective_before']:.6f}"
          f" -> {check.details['objective_after']:.6f}")
    for l in range(deep.depth - 1):
        a_in, a_out = neuron_norms(drebal, l)
        plot_balance(*neuron_norms(deep, l), axes[1], label=f"layer {l + 1} random")
        plot_balance(a_in, a_out, axes[1], label=f"layer {l + 1} rebalanced", marker="x")
    axes[1].set_title("deep ReLU: per-neuron norms")

    # 3. gradient descent from an unbalanced start, linear and ReLU
    init = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(dims, dims[1:])]
    init[0] *= 3.0
    init[1] /= 3.0
    eta, steps = 0.01, 3000
    t_grid = np.arange(steps + 1)
    for activation in ("linear", "relu"):
        gd = DeepNetwork([W.copy() for W in init], activation=activation)
        imbalance, objective, gnorm = [], [], []
        for _ in t_grid:
            obj, grads = deep_objective_gradient(gd, X, y, beta=beta)
            gnorm.append(np.sqrt(sum(float(np.sum(G**2)) for G in grads)))
            imbalance.append(max(float(np.max(np.abs(a**2 - b**2))) for a, b in
                                 (neuron_norms(gd, l) for l in range(gd.depth - 1))))
            objective.append(obj)
            gd = DeepNetwork([W - eta * G for W, G in zip(gd.weights, grads)],
                             activation=activation)
        predicted = imbalance[0] * np.exp(-2 * beta * eta * t_grid)
        print(f"gradient descent (eta={eta}, beta={beta}) on a 3-8-8-1 {activation} net:")
        for t in (0, 250, 1000, 2000, steps):
            print(f"  step {t:5d}: objective {objective[t]:.6f}, max_k |D_k| {imbalance[t]:.3e}"
                  f" (gradient flow predicts {predicted[t]:.3e}), |grad| {gnorm[t]:.2e}")
        print(f"  after GD: {balance_check(gd, rtol=1e-3).summary_line()}")
        plot_history(imbalance, axes[2], label=f"GD, {activation}", ylabel=r"$\max_k |D_k|$")
    axes[2].semilogy(predicted, "k--", lw=0.8, label=r"$D(0)\,e^{-2\beta\eta t}$")
    axes[2].set_ylim(1e-14, None)
    axes[2].legend(fontsize=7)
    axes[2].set_title("imbalance under GD with weight decay")
    fig.suptitle(f"random data, n={n}, d={d}, squared loss, beta={beta:g}")
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "theory_balance.png", dpi=120)
    print(f"saved {out / 'theory_balance.png'}")


if __name__ == "__main__":
    main()
