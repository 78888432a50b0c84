"""A CNN's templates on the 8 x 8 digits: the matched-filter view (THEORY G).

A small CNN (conv 3x3 -> ReLU -> max pool 2 -> conv 3x3 -> ReLU -> max pool 2 -> linear,
:func:`convexnn.spline.digits_cnn`) is trained on 500 of scikit-learn's digits by seeded
mini-batch Adam.  On the activation region of an image x the network is affine,
f(x) = A[x] x + b[x], with A[x] the explicit product of the layers' local maps (dense
convolution matrices, max-pool row selections by the argmax codes, ReLU masks).  The rows
A[x]_c are the class templates, and the prediction is the matched filterbank

    y(x) = argmax_c <A[x]_c, x> + b[x]_c.

Printed: the accuracy, the largest |<A[x]_c, x> + b[x]_c - f_c(x)| over the test images,
how often the template argmax equals the network's prediction (it must always), how often
the inner products alone (without b[x]) pick the same class, and the cosine between x and
its predicted template against the other templates.  Then the spline partition between
two test images: the exact activation regions on the segment (root splitting, max-pool
switches where two window entries cross) against dense sampling, and the VQ distance
between images of the same and of different classes.  The figure shows three test images
next to their ten templates.

Run:  python examples/spline_cnn_templates.py [--out out/] [--seed 0] [--epochs 30] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from convexnn.spline import (
    accuracy,
    affine_maps,
    as_layers,
    digits_cnn,
    digits_images,
    segment_regions,
    train_classifier,
    vq_distance_matrix,
)


def matched_filter_report(model, stack, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Print the template view of the test set; return the templates and offsets."""
    A, b = affine_maps(stack, X)                                   # (n, 10, 64), (n, 10)
    Xf = X.reshape(len(X), -1)
    inner = np.einsum("ncd,nd->nc", A, Xf)
    scores = inner + b
    with torch.no_grad():
        logits = model(torch.tensor(X)).numpy()
    pred = logits.argmax(1)
    print(f"max |<A[x]_c, x> + b[x]_c - f_c(x)| over {len(X)} test images: "
          f"{np.max(np.abs(scores - logits)):.2e}")
    print(f"template argmax = network prediction: {np.sum(scores.argmax(1) == pred)}/{len(X)}")
    print(f"argmax of <A[x]_c, x> alone (no b[x]) = prediction: "
          f"{np.mean(inner.argmax(1) == pred):.3f}")
    cos = inner / (np.linalg.norm(A, axis=2) * np.linalg.norm(Xf, axis=1)[:, None] + 1e-300)
    own = cos[np.arange(len(X)), pred]
    others = (cos.sum(1) - own) / (cos.shape[1] - 1)
    print(f"cos(x, A[x]_c): predicted class {own.mean():.3f}, other classes {others.mean():.3f} "
          f"(means over the test set)")
    return A, b


def segment_report(stack, X: np.ndarray, y: np.ndarray, n_samples: int) -> None:
    """Exact regions on the segment between two test images of different classes."""
    i, j = 0, int(np.flatnonzero(y != y[0])[0])
    seg = segment_regions(stack, X[i], X[j])
    check = seg.check(n_samples)                 # forward passes at interior points
    classes = np.argmax([p.intercept + 0.5 * (p.t0 + p.t1) * p.slope for p in seg.pieces], axis=1)
    print(f"segment from a {y[i]} to a {y[j]}: {seg.n_regions} activation regions "
          f"({seg.n_linear_regions()} linear pieces, shortest "
          f"{min(p.t1 - p.t0 for p in seg.pieces):.1e} in t); {n_samples} samples see "
          f"{check.n_sampled_regions} runs of equal codes, {check.n_mismatch} samples with "
          f"another code than their exact piece; the predicted class changes "
          f"{int(np.count_nonzero(np.diff(classes)))} times")
    if 1.0 / n_samples > min(p.t1 - p.t0 for p in seg.pieces):
        print("  (the sample spacing exceeds the shortest piece: the runs are a lower bound)")


def vq_report(stack, X: np.ndarray, y: np.ndarray) -> None:
    """Mean VQ distance (fraction of differing codes per layer, summed) within and across classes."""
    D = vq_distance_matrix(stack, X, weights="width")
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    diff = y[:, None] != y[None, :]
    print(f"VQ distance (w_l = 1/D_l, {len(stack.code_sizes)} code layers: "
          f"{stack.code_sizes}) on {len(y)} test images: same class {D[same].mean():.3f}, "
          f"different classes {D[diff].mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="3 epochs, fewer samples (tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs, n_samples, n_vq = (3, 20_001, 60) if args.quick else (args.epochs, 200_001, 300)

    X, y, X_test, y_test = digits_images(500, seed=args.seed)
    model = digits_cnn(args.seed)
    train_classifier(model, X, y, epochs=epochs, batch_size=64, seed=args.seed)
    print(f"digits CNN, 500 training images, {epochs} epochs: train accuracy "
          f"{accuracy(model, X, y):.3f}, test accuracy {accuracy(model, X_test, y_test):.3f}")
    stack = as_layers(model, input_shape=(1, 8, 8))
    A, b = matched_filter_report(model, stack, X_test)
    segment_report(stack, X_test, y_test, n_samples)
    vq_report(stack, X_test[:n_vq], y_test[:n_vq])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.spline import plot_templates

    show = [int(np.flatnonzero(y_test == c)[0]) for c in (0, 3, 8)]
    fig, axes = plt.subplots(len(show), 11, figsize=(15, 1.7 * len(show) + 0.4))
    for row, i in zip(axes, show, strict=True):
        plot_templates(X_test[i], A[i], row, b=b[i], image_shape=(8, 8))
        row[0].set_title(f"input (a {y_test[i]})", fontsize=9)
    fig.suptitle("templates A[x]_c of the digits CNN; title: <A[x]_c, x> + b[x]_c, the "
                 "prediction in bold", fontsize=10)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "spline_cnn_templates.png", dpi=110)
    print(f"saved {out / 'spline_cnn_templates.png'}")


if __name__ == "__main__":
    main()
