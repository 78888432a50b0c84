"""Quick start: a two-layer ReLU network trained to global optimality, checked three ways.

Solves the C-ReLU and C-GReLU programs of a small random problem over every activation
pattern (THEORY I6: n=8, d=3, beta=0.3), recovers the networks, decomposes the gated one
into a ReLU network, and prints a table of the bounds:

    p_gated <= p_relu (exact) <= p_relu (sampled gates) ,  p_relu <= decomposed ReLU net.

Saves quickstart.png into --out: the four objectives, and each network's predictions
against the targets.

Run:  python examples/quickstart.py [--out out/] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="folder for quickstart.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    beta = 0.3

    relu = cn.fit(X, y, beta=beta, patterns="exact")
    gated = cn.fit(X, y, beta=beta, model="gated", patterns="exact")
    sampled = cn.fit(X, y, beta=beta, patterns=5, seed=args.seed)
    dec = cn.cone_decomposition(gated)

    print(relu.summary())
    print()
    rows = [
        ("C-GReLU, all patterns (lower bound)", gated.objective, gated.n_active),
        ("C-ReLU, all patterns (global optimum)", relu.objective, relu.n_active),
        ("C-ReLU, 5 sampled gates (upper bound)", sampled.objective, sampled.n_active),
        ("gated net decomposed into ReLU", dec.relu_objective, dec.network.width),
    ]
    print(f"{'program':42s} {'objective':>12s} {'neurons':>8s}")
    for name, value, m in rows:
        print(f"{name:42s} {value:12.6f} {m:8d}")
    print(f"\npatterns: {relu.patterns.shape[1]} (Cover's count 2*sum_k<3 C(7,k) = "
          f"{cn.pattern_count(8, 3)})")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_obj, ax_pred = fig.subplots(1, 2)
    names = ["C-GReLU\n(lower bound)", "C-ReLU exact\n(optimum)", "C-ReLU 5 gates\n(upper bound)",
             "decomposed\nReLU net"]
    ax_obj.bar(names, [r[1] for r in rows], color=["C0", "k", "C1", "C2"])
    ax_obj.axhline(relu.objective, color="k", ls="--", lw=1)
    ax_obj.set(ylabel="objective", title=f"bounds around the global optimum (beta={beta:g})")
    nets = [("C-ReLU optimum", relu.network, "ko"), ("5 sampled gates", sampled.network, "C1s"),
            ("decomposed gated", dec.network, "C2^")]
    for label, net, style in nets:
        ax_pred.plot(y, net.predict(X), style, label=label, alpha=0.8)
    lim = [float(y.min()) - 0.2, float(y.max()) + 0.2]
    ax_pred.plot(lim, lim, color="0.6", lw=1)
    ax_pred.set(xlabel="target y", ylabel="prediction f(x)", title="training predictions")
    ax_pred.legend(fontsize=8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "quickstart.png", dpi=120)
    print(f"saved {out / 'quickstart.png'}")


if __name__ == "__main__":
    main()
