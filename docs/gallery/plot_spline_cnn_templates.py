r"""
The templates of a CNN: a matched filterbank
============================================

A CNN built from convolutions, ReLUs and max pooling is a composition of max-affine spline
operators (Balestriero & Baraniuk 2018): on the activation region of an image :math:`x`
(which ReLUs are on, which entry wins each pooling window) it is one affine map,

.. math::  f(x) = A[x]\,x + b[x],

where :math:`A[x]` is the product of the layers' local linear maps (convolution matrices,
ReLU masks, max-pool row selections).  Row :math:`c` of :math:`A[x]` is the *template* of
class :math:`c`, and the prediction is the class whose template matches best:
:math:`\hat y(x) = \arg\max_c \langle A[x]_c, x\rangle + b[x]_c`.

:func:`convexnn.spline.as_layers` converts the torch model once (it needs the input shape);
:func:`convexnn.spline.affine_maps` computes :math:`A[x], b[x]` by the explicit product.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from convexnn.plotting.spline import plot_templates
from convexnn.spline import (
    accuracy,
    affine_maps,
    as_layers,
    digits_cnn,
    digits_images,
    segment_regions,
    train_classifier,
)

X, y, X_test, y_test = digits_images(500, seed=0)       # 8 x 8 digits, 500 for training
model = digits_cnn(seed=0)                               # conv-ReLU-maxpool twice, linear
train_classifier(model, X, y, epochs=15, batch_size=64, seed=0)
print(f"test accuracy {accuracy(model, X_test, y_test):.3f}")

stack = as_layers(model, input_shape=(1, 8, 8))
A, b = affine_maps(stack, X_test)                        # (n, 10, 64) and (n, 10)
scores = np.einsum("ncd,nd->nc", A, X_test.reshape(len(X_test), -1)) + b
with torch.no_grad():
    logits = model(torch.tensor(X_test)).numpy()
print(f"max |<A[x]_c, x> + b[x]_c - f_c(x)| = {np.max(np.abs(scores - logits)):.1e}")
print(f"template argmax = prediction on {np.mean(scores.argmax(1) == logits.argmax(1)):.0%} "
      "of the test images")

# %%
# Each row: a test image and its ten templates (red positive, blue negative), titled with
# :math:`\langle A[x]_c, x\rangle + b[x]_c`; the largest, in bold, is the prediction.
show = [int(np.flatnonzero(y_test == c)[0]) for c in (2, 5)]
fig, axes = plt.subplots(len(show), 11, figsize=(14, 3.6))
for row, i in zip(axes, show, strict=True):
    plot_templates(X_test[i], A[i], row, b=b[i], image_shape=(8, 8))
fig.tight_layout()

# %%
# Between two images the network is piecewise affine along the segment; its activation
# regions (ReLU sign changes, and max-pool switches where two window entries cross) are
# found exactly, and dense sampling of the codes sees the same number.
seg = segment_regions(stack, X_test[0], X_test[1])
check = seg.check(50_001)
print(f"{seg.n_regions} regions on the segment; 50001 samples see {check.n_sampled_regions}")
