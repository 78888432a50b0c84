"""Template orthogonality: a small 3-class classifier trained with and without the penalty.

The templates of an input are the rows A[x]_c of the network's affine map on its region,
f_c(x) = <A[x]_c, x> + b[x]_c (THEORY G).  A 2-32-32-3 ReLU MLP is trained on a 2-D
three-arm spiral (300 training and 300 test points) by full-batch Adam on

    CE                          (no penalty),
    CE + lam_W * P_W            P_W = sum_{c != c'} <W_L[c], W_L[c']>^2 (last layer),
    CE + lam_T * P_T            P_T = mean_i sum_{c != c'} <A[x_i]_c, A[x_i]_c'>^2 (exact),

with the same seed and initialisation.  Prints, per run, the train/test accuracy, the mean
|cosine| between distinct templates over the test inputs (from the explicit product, not
autograd), P_T and P_W, and the number of activation regions in the plotted box.  Saves
the three partitions with the argmax decision boundary.

Run:  python examples/spline_templates.py [--out out/] [--seed 0] [--steps 1500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convexnn.spline import last_layer_penalty, slice_regions, template_cosines, template_penalty

BOX = (-1.6, 1.6, -1.6, 1.6)


def spiral(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three noisy spiral arms in the plane, labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    r = rng.uniform(0.1, 1.4, n)
    angle = 2 * np.pi * y / 3 + 2.2 * r + 0.25 * rng.standard_normal(n)
    return np.column_stack([r * np.cos(angle), r * np.sin(angle)]), y


def make_mlp(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 3)).double()


def train(X: np.ndarray, y: np.ndarray, *, penalty: str, lam: float, steps: int,
          seed: int) -> nn.Sequential:
    model = make_mlp(seed)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ce = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = ce(model(Xt), yt)
        if penalty == "P_W":
            loss = loss + lam * last_layer_penalty(model)
        elif penalty == "P_T":
            loss = loss + lam * template_penalty(model, Xt)
        loss.backward()
        opt.step()
    return model


def mean_abs_cosine(model: nn.Sequential, X: np.ndarray) -> float:
    cos = template_cosines(model, X)                      # (n, 3, 3), explicit product
    off = ~np.eye(3, dtype=bool)
    return float(np.mean(np.abs(cos[:, off])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = spiral(300, args.seed)
    X_test, y_test = spiral(300, args.seed + 1)
    runs = [("CE", "none", 0.0), ("CE + 0.01 P_W", "P_W", 1e-2), ("CE + 0.01 P_T", "P_T", 1e-2)]

    print(f"{'training loss':16s} {'train':>6s} {'test':>6s} {'|cos|':>7s} {'P_T':>9s} "
          f"{'P_W':>9s} {'regions':>8s}")
    models, parts = [], []
    for name, penalty, lam in runs:
        model = train(X, y, penalty=penalty, lam=lam, steps=args.steps, seed=args.seed)
        with torch.no_grad():
            acc = [float((model(torch.tensor(A)).argmax(1).numpy() == b).mean())
                   for A, b in ((X, y), (X_test, y_test))]
        P_T = template_penalty(model, torch.tensor(X_test)).item()
        P_W = last_layer_penalty(model).item()
        part = slice_regions(model, box=BOX)
        print(f"{name:16s} {acc[0]:6.3f} {acc[1]:6.3f} {mean_abs_cosine(model, X_test):7.3f} "
              f"{P_T:9.3g} {P_W:9.3g} {part.n_regions:8d}")
        models.append(model)
        parts.append(part)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.spline import plot_partition

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), layout="constrained")
    for ax, part, (name, _, _) in zip(axes, parts, runs, strict=True):
        plot_partition(part, ax, points=X, labels=y, seed=args.seed, linewidth=0.1)
        ax.set_title(f"{name}: {part.n_regions} regions")
    fig.suptitle(f"three-arm spiral, {len(y)} training points: 2-32-32-3 ReLU MLP, "
                 f"{args.steps} Adam steps on cross-entropy (CE) + penalty")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spline_templates.png", dpi=110)
    print(f"saved {out / 'spline_templates.png'}")


if __name__ == "__main__":
    main()
