"""Does the template-orthogonality penalty help a small CNN on the digits? (THEORY G)

Balestriero & Baraniuk (ICML 2018) report that penalizing the inner products between the
class templates A[x]_c improves classification and reduces overfitting.  Here the same
small CNN (:func:`convexnn.spline.digits_cnn`) is trained on k seeds, each seed drawing
its own stratified split of scikit-learn's 8 x 8 digits (300 training images, 1497 test
images) and its own initialisation, shared by the three losses

    CE                          no penalty,
    CE + lam_W P_W              P_W = sum_{c != c'} <W_L[c], W_L[c']>^2 (last layer),
    CE + lam_T P_T              P_T = mean_i sum_{c != c'} <A[x_i]_c, A[x_i]_c'>^2 (exact),
    CE + wd |theta|^2 / 2       a control: plain weight decay (Adam's coupled L2 term),

by mini-batch Adam (40 epochs, batches of 100, step 1e-2).  lam_W = 1e-3, lam_T = 1e-4 and
wd = 1e-4 were chosen on seeds 100-102 (not used here) as the best test accuracy over the
grids {1e-3, 1e-2, 1e-1, 1}, {1e-5, 1e-4, 1e-3, 1e-2} and {1e-4, 1e-3, 1e-2, 1e-1}.  The
control asks whether a gain is the templates' orthogonality or regularization as such.

Printed per loss: the means over seeds of the train and test accuracy and of the gap
train - test, with 95% confidence intervals mean +- t_{0.975, k-1} sd / sqrt(k), the
paired differences to CE (same seed, split and initialisation) with their intervals, and
over 200 test images the mean |cosine| between distinct templates (from the explicit
affine maps of :func:`convexnn.spline.template_cosines`) and P_T; then whether the
paper's claim reproduces at this scale.

Result of the default run (10 seeds; 6 min 42 s wall, 3 min 0 s CPU on 2 shared cores):

    loss                   train          test           gap           d test vs CE   d gap vs CE    |cos|
    CE                     99.93 +- 0.10  93.54 +- 1.02  6.39 +- 0.98                                0.287
    CE + lam_W P_W         99.90 +- 0.12  93.70 +- 1.14  6.20 +- 1.07  +0.16 +- 0.30  -0.19 +- 0.27  0.271
    CE + lam_T P_T         99.00 +- 0.46  94.28 +- 0.80  4.72 +- 0.80  +0.73 +- 0.60  -1.67 +- 0.77  0.122
    CE + wd |theta|^2/2    99.90 +- 0.16  93.81 +- 0.98  6.09 +- 0.93  +0.27 +- 0.29  -0.31 +- 0.32  0.291

The exact penalty P_T reproduces the claim at this scale: +0.73 +- 0.60 points of test
accuracy and a gap smaller by 1.67 +- 0.77 points (paired intervals), with templates
much closer to orthogonal (mean |cos| 0.12 against 0.29).  Against the weight-decay
control its gap is still smaller (-1.36 +- 0.64) but its accuracy gain is not
significant (+0.46 +- 0.59).  The last-layer surrogate P_W changes neither (and its
whole lambda grid was flat on the held-out seeds).

Run:  python examples/spline_orthogonality.py [--out out/] [--seeds 10] [--jobs 1] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LOSSES = ("CE", "CE + lam_W P_W", "CE + lam_T P_T", "CE + wd |theta|^2/2")
PENALTIES = ("none", "last_layer", "template", "none")


def run_seed(seed: int, *, n_train: int, epochs: int, lam_w: float, lam_t: float,
             wd: float) -> dict:
    """Train the four losses on one seed's split and initialisation; return the metrics."""
    import torch

    from convexnn.spline import (
        accuracy,
        as_layers,
        digits_cnn,
        digits_images,
        template_cosines,
        template_penalty,
        train_classifier,
    )

    torch.set_num_threads(1)
    X, y, X_test, y_test = digits_images(n_train, seed=seed)
    out = {}
    for name, penalty, lam in zip(LOSSES, PENALTIES, (0.0, lam_w, lam_t, 0.0), strict=True):
        model = digits_cnn(seed)
        train_classifier(model, X, y, penalty=penalty, lam=lam, epochs=epochs, batch_size=100,
                         seed=seed, weight_decay=wd if name == LOSSES[3] else 0.0)
        cos = template_cosines(as_layers(model, input_shape=(1, 8, 8)), X_test[:200])
        off = ~np.eye(cos.shape[1], dtype=bool)
        out[name] = {"train": accuracy(model, X, y), "test": accuracy(model, X_test, y_test),
                     "cos": float(np.mean(np.abs(cos[:, off]))),
                     "P_T": template_penalty(model, torch.tensor(X_test[:200])).item()}
    return out


def interval(v: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% t interval, t_{0.975, k-1} sd / sqrt(k)."""
    from scipy.stats import t as student

    k = len(v)
    half = student.ppf(0.975, k - 1) * np.std(v, ddof=1) / np.sqrt(k) if k > 1 else np.nan
    return float(np.mean(v)), float(half)


def table(results: list[dict]) -> dict:
    """Print the table; return the metric arrays (loss -> metric -> per-seed values)."""
    M = {name: {key: np.array([r[name][key] for r in results]) for key in ("train", "test", "cos", "P_T")}
         for name in LOSSES}
    for name in LOSSES:
        M[name]["gap"] = M[name]["train"] - M[name]["test"]
    k = len(results)
    print(f"\n{k} seeds; accuracies in %, mean +- 95% CI half-width (t, k-1 = {k - 1} dof)")
    print(f"{'loss':20s} {'train':>15s} {'test':>15s} {'gap':>15s} {'d test vs CE':>15s} "
          f"{'d gap vs CE':>15s} {'|cos|':>6s} {'P_T':>9s}")
    for name in LOSSES:
        cells = [interval(100 * M[name][key]) for key in ("train", "test", "gap")]
        if name == "CE":
            diffs = ["", ""]
        else:
            diffs = [interval(100 * (M[name][key] - M["CE"][key])) for key in ("test", "gap")]
            diffs = [f"{m:+6.2f} +- {h:5.2f}" for m, h in diffs]
        print(f"{name:20s} " + " ".join(f"{m:6.2f} +- {h:5.2f}" for m, h in cells)
              + f" {diffs[0]:>15s} {diffs[1]:>15s} {M[name]['cos'].mean():6.3f} "
              f"{M[name]['P_T'].mean():9.3g}")
    return M


def verdict(M: dict) -> None:
    """Whether the paired intervals support 'improves classification, reduces overfitting'."""
    for name in LOSSES[1:3]:
        words, status = [], []
        for key, sign, what in (("test", 1, "test accuracy"), ("gap", -1, "train/test gap")):
            m, h = interval(100 * (M[name][key] - M["CE"][key]))
            if m - h > 0 or m + h < 0:                       # the interval excludes 0
                status.append("better" if np.sign(m) == sign else "worse")
                words.append(f"{what} {status[-1]} by {abs(m):.2f} +- {h:.2f} points")
            else:
                status.append("unchanged")
                words.append(f"{what} unchanged within the interval ({m:+.2f} +- {h:.2f})")
        claim = ("reproduces" if status == ["better", "better"] else
                 "partly reproduces" if "better" in status else "does not reproduce")
        print(f"{name}: {'; '.join(words)} -> the claim {claim} at this scale")
    for name in LOSSES[1:3]:
        diffs = [interval(100 * (M[name][key] - M[LOSSES[3]][key])) for key in ("test", "gap")]
        print(f"{name} against the weight-decay control: d test {diffs[0][0]:+.2f} +- "
              f"{diffs[0][1]:.2f}, d gap {diffs[1][0]:+.2f} +- {diffs[1][1]:.2f} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lam-last", type=float, default=1e-3)
    parser.add_argument("--lam-template", type=float, default=1e-4)
    parser.add_argument("--wd", type=float, default=1e-4, help="weight decay of the control")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel processes")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 100 images, 3 epochs")
    args = parser.parse_args()
    seeds, n_train, epochs = (2, 100, 3) if args.quick else (args.seeds, args.n_train, args.epochs)

    from joblib import Parallel, delayed

    kw = {"n_train": n_train, "epochs": epochs, "lam_w": args.lam_last, "lam_t": args.lam_template,
          "wd": args.wd}
    results = Parallel(n_jobs=args.jobs)(delayed(run_seed)(s, **kw) for s in range(seeds))
    print(f"digits CNN, {n_train} training images, {epochs} epochs, lam_W = {args.lam_last:g}, "
          f"lam_T = {args.lam_template:g}, control wd = {args.wd:g}")
    M = table(results)
    verdict(M)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in zip(axes, ("test", "gap"), ("test accuracy (%)", "train - test (%)"),
                              strict=True):
        vals = np.array([100 * M[name][key] for name in LOSSES])          # (4, k)
        ax.plot(range(len(LOSSES)), vals, color="0.75", lw=0.8)          # one line per seed
        for i in range(len(LOSSES)):
            m, h = interval(vals[i])
            ax.errorbar(i, m, yerr=h, fmt="o", color="C3", capsize=5, zorder=3)
        ax.set_xticks(range(len(LOSSES)), ["CE", "+ P_W", "+ P_T", "+ wd"])
        ax.set_title(f"{title}, {seeds} seeds, 95% CI")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "spline_orthogonality.png", dpi=110)
    print(f"saved {out / 'spline_orthogonality.png'}")


if __name__ == "__main__":
    main()
