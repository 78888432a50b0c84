"""TV(f') against the weight-decay penalty along a beta path (THEORY F.1, T-TV, T-interp).

At a global optimum with free biases the penalty 1/2 ||theta||^2 equals the
representational cost R(f): TV(f') with a free skip term, and Savarese et al.'s
max(TV(f'), |f'(-inf) + f'(+inf)|) without one.  As beta -> 0, p*(beta)/beta rises to R*,
the cost of the cheapest interpolant.  Prints the table and plots it for I2 (no skip),
I3 (free skip) and convex data where the end-slope term exceeds TV(f') (no skip).

Run:  python examples/theory_tv_penalty.py [--out out/]
"""

import argparse
from pathlib import Path

import numpy as np

from convexnn.api import fit
from convexnn.theory import interpolation_cost, interpolation_limit, knots, tv_check

CASES = [
    ("I2 opt, no skip", np.array([0.0, 4, 5, 7, 10, 11]), np.array([0.0, 0, 0, 2, 3, 3]), False),
    ("I3 bounce, free skip", np.array([0.0, 2, 6, 7]), np.array([0.0, 0, 3, 7]), True),
    ("convex, no skip", np.arange(4.0), np.array([0.0, 1, 3, 6]), False),
]
BETAS = np.logspace(0, -4, 9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.theory import plot_tv_path

    fig, axes = plt.subplots(1, len(CASES), figsize=(4.4 * len(CASES), 3.6))
    for ax, (name, x, y, skip) in zip(axes, CASES):
        R = interpolation_cost(x, y, skip=skip)
        print(f"{name}: R* = {R:g}")
        print(f"  {'beta':>9s} {'p*/beta':>9s} {'penalty':>9s} {'TV(f`)':>9s} {'end term':>9s}  T-TV")
        rows = []
        for beta in BETAS:
            res = fit(x[:, None], y, beta=beta, bias="free", patterns="exact", skip=skip,
                      certify=False)
            K = knots(res.network)
            check = tv_check(res.network, skip=skip)
            rows.append((res.objective / beta, res.network.penalty(), K.total_variation, K.end_term))
            print(f"  {beta:9.2e} {rows[-1][0]:9.5f} {rows[-1][1]:9.5f} {rows[-1][2]:9.5f}"
                  f" {rows[-1][3]:9.5f}  {'holds' if check.holds else 'FAILS'}")
        ratio, pen, tv, end = map(np.array, zip(*rows))
        limit = interpolation_limit(x, y, BETAS, ratio * BETAS, skip=skip)
        print(f"  {limit.summary_line()}")
        plot_tv_path(BETAS, tv, pen, ratio, R, ax, end_term=None if skip else end, title=name)
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "theory_tv_penalty.png", dpi=120)
    print(f"saved {out / 'theory_tv_penalty.png'}")


if __name__ == "__main__":
    main()
