"""1-D two-layer fits across a beta path, with knots and data points (THEORY F.1, I1-I3).

For the reference data sets zshape (I1), opt (I2) and bounce (I3), trains the two-layer
ReLU network with free biases to global optimality (``fit(..., bias="free",
patterns="exact")``) for several beta, prints p*/beta against the interpolation limit R*,
the merged knots with their slope jumps, the same after splitting off-data knots into
data-point atoms (an equal-cost optimum, the Lasso form), and whether the minimal
interpolant is unique (where it is not, the solver's knots may sit between data points).
Plots the fits (circles: knots; dotted: the smallest beta's fit split to data atoms).

Run:  python examples/theory_1d_knots.py [--out out/]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.api import fit
from convexnn.theory import interpolation_cost, knots, knots_at_data, unique_interpolant

DATA = {
    "I1 zshape": (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 3])),
    "I2 opt": (np.array([0.0, 4, 5, 7, 10, 11]), np.array([0.0, 0, 0, 2, 3, 3])),
    "I3 bounce": (np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 7])),
}
BETAS = (1.0, 0.1, 1e-2, 1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.theory import plot_1d_fit

    fig, axes = plt.subplots(1, len(DATA), figsize=(4.2 * len(DATA), 3.6))
    for ax, (name, (x, y)) in zip(axes, DATA.items()):
        R = interpolation_cost(x, y, skip=False)
        uniq = unique_interpolant(x, y)
        print(f"{name}: R* = {R:g}; unique minimal interpolant: {uniq.holds}"
              + ("" if uniq.holds else f" (ambiguous gaps {uniq.details['ambiguous_gaps']})"))
        for beta in BETAS:
            res = fit(x[:, None], y, beta=beta, bias="free", patterns="exact", certify=False)
            K = knots(res.network, tol=1e-4)
            at_data = knots_at_data(res.network, x)
            Ks = knots(at_data.details["split_network"], tol=1e-4)
            print(f"  beta={beta:<7g} p*/beta={res.objective / beta:9.6f}  neurons={res.n_active}"
                  f"  knots={np.round(K.locations, 3).tolist()}  jumps={np.round(K.jumps, 3).tolist()}")
            print(f"  {'':13s} split to data (equal cost: {at_data.holds}): "
                  f"knots={np.round(Ks.locations, 3).tolist()}  jumps={np.round(Ks.jumps, 3).tolist()}")
            plot_1d_fit(res.network, x, y, ax, label=f"beta={beta:g}")
        # the last (smallest beta) fit, split into data-point atoms: an equal-cost optimum
        plot_1d_fit(at_data.details["split_network"], x, y, ax, color="k", linestyle=":",
                    label=f"beta={beta:g}, knots split to data")
        ax.set_title(f"{name}: R* = {R:g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "theory_1d_knots.png", dpi=120)
    print(f"saved {out / 'theory_1d_knots.png'}")


if __name__ == "__main__":
    main()
