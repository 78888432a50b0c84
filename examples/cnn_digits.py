"""A two-layer ReLU CNN on digits trained through its convex program, against L-BFGS (THEORY D).

Two classes of scikit-learn's 8 x 8 digits (3 vs 8, 300 images, labels +-1, squared loss),
3 x 3 patches with stride 1 and mean pooling (K = 36 patches per image), filter biases and
weight decay beta: convexnn.fit(images, y, conv=cn.Conv(patch=3)) generates the joint
patterns of the stacked patch matrix (10,800 rows) and solves the convex program with the
working-set solver; the same CNN and penalty are trained by L-BFGS in torch from ten seeds.
The script prints the convex objective, the recovered CNN's objective (equal to it), the
L-BFGS runs and the certificate's lower bound (valid, but loose: 3 x 3 patches with a bias
make the stacked data rank 10, beyond branch and bound, so only the closed-form bound of the
dual norm is proven).  The figure shows the objectives, the recovered filters, and the
generation's master objective per round.

With ``--classes 0 1 2`` the CNN has one output per class and the softmax cross-entropy
loss (the labels go to ``fit`` as they are): the convex program is then the group lasso
over unit filters, trained by neuron generation on the stacked patches, and the L-BFGS
runs train the same 3-output CNN.

Run:  python examples/cnn_digits.py [--out out/] [--beta 1.0] [--runs 10] [--width W]
      [--digits 3 8 | --classes 0 1 2] [--n 300] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.training.compare_conv import compare_conv


def digits(a: int, b: int, n: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    mask = (d.target == a) | (d.target == b)
    return d.images[mask][:n] / 16.0, np.where(d.target[mask][:n] == a, 1.0, -1.0)


def digit_classes(classes: list[int], n: int):
    """The first n images of the given classes and their labels (cross-entropy)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    mask = np.isin(d.target, classes)
    return d.images[mask][:n] / 16.0, d.target[mask][:n]


def plot(cmp, beta: float, what: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = cmp.optimum
    net = fit.network
    runs = np.sort([r.objective for r in cmp.runs])
    fig = plt.figure(figsize=(13, 4))
    grid = fig.add_gridspec(3, 9)
    ax = fig.add_subplot(grid[:, :3])
    ax.plot(range(1, len(runs) + 1), (runs - fit.objective) / fit.objective, "o", color="C3")
    ax.axhline(0.0, color="C0", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-6)  # a run below the fit would show as negative
    ax.set_xlabel(f"L-BFGS run, sorted (width {cmp.width})")
    ax.set_ylabel("(F_run - p_convex) / p_convex")
    ax.set_title(f"{what}, 3x3 mean-pooled CNN, beta = {beta:g}", fontsize=10)
    weight = np.abs(net.W2) if net.W2.ndim == 1 else np.linalg.norm(net.W2, axis=1)
    order = np.argsort(-weight)[:9]
    for i, j in enumerate(order):
        sub = fig.add_subplot(grid[i // 3, 3 + i % 3])
        lim = np.abs(net.filters[j, 0]).max()
        sub.imshow(net.filters[j, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        label = (f"alpha = {net.W2[j]:+.2f}" if net.W2.ndim == 1
                 else "g = (" + ", ".join(f"{g:+.1f}" for g in net.W2[j]) + ")")
        sub.set_title(label, fontsize=7)
        sub.set_xticks([])
        sub.set_yticks([])
    ax = fig.add_subplot(grid[:, 6:])
    hist = fit.generation.history
    ax.plot([h["round"] for h in hist], [h["objective"] for h in hist], "o-", label="master")
    ax.axhline(fit.generation.seed_objective, color="C2", ls="--", label="best seeding run")
    ax.axhline(runs[0], color="C3", ls=":", label="best torch L-BFGS run")
    ax.set_xlabel("generation round")
    ax.set_ylabel("objective")
    ax.legend(fontsize=8)
    fig.suptitle(f"left: the L-BFGS runs above the convex fit; middle: the {min(9, net.width)} "
                 f"largest of the {net.width} recovered filters; right: the generation", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=10, help="L-BFGS seeds")
    parser.add_argument("--width", type=int, default=None,
                        help="filters of the L-BFGS runs (default: twice the recovered CNN's, >= 16)")
    parser.add_argument("--digits", type=int, nargs=2, default=(3, 8))
    parser.add_argument("--classes", type=int, nargs="+", default=None,
                        help="digit classes for a cross-entropy CNN (one output each)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lbfgs-iter", type=int, default=2000)
    args = parser.parse_args()

    if args.classes:
        X, y = digit_classes(args.classes, args.n)
        loss, what = "cross_entropy", "digits " + "/".join(map(str, args.classes))
    else:
        X, y = digits(*args.digits, args.n)
        loss, what = "squared", f"digits {args.digits[0]} vs {args.digits[1]}"
    conv = cn.Conv(patch=3, pooling="mean")
    cmp = compare_conv(X, y, beta=args.beta, conv=conv, seeds=args.runs, width=args.width,
                       loss=loss, seed=args.seed, max_iter=args.lbfgs_iter)
    fit = cmp.optimum
    print(fit.summary())
    print()
    print(cmp.table())
    best = cmp.best.objective
    verdict = "at or below" if fit.objective <= best else "ABOVE"
    print(f"\nconvex fit {fit.objective:.8f} is {verdict} the best of {len(cmp.runs)} L-BFGS runs "
          f"({best:.8f}; ratio {fit.objective / best:.6f})")
    print(f"recovered CNN objective {fit.recovered_objective:.10g} (relative difference "
          f"{abs(fit.recovered_objective - fit.objective) / fit.objective:.1e})")
    cert = fit.certificate
    print(f"certificate lower bound {cert.lower_bound:.6g} <= every objective above "
          f"(method {cert.method}: s proven {cert.s / args.beta:.3g} beta, found "
          f"{cert.s_found / args.beta:.6f} beta)")
    acc = np.mean((fit.predict_labels(X) if args.classes else np.sign(fit.predict(X))) == y)
    print(f"training accuracy of the recovered CNN {acc:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(cmp, args.beta, what, out / "cnn_digits.png")
    print(f"saved {out / 'cnn_digits.png'}")


if __name__ == "__main__":
    main()
