r"""
A convolutional network trained to global optimality
====================================================

A two-layer ReLU CNN with mean pooling over its K patches,

.. math::  f(x) = \sum_j \alpha_j\,\frac1K\sum_{k=1}^K (x_k^\top u_j + b_j)_+ ,

trained with weight decay :math:`\tfrac\beta2(\|U\|^2 + \|b\|^2 + \|\alpha\|^2)`, is the
two-layer convex program on the *stacked patch matrix* :math:`Z = [X_1; \dots; X_K]/K`
with the predictions summed over the patches of each input (Ergen & Pilanci, ICLR 2021):
its columns are the joint activation patterns of the nK rows of Z, of which there are
polynomially many in n and K for a fixed patch size.  ``convexnn.fit(X, y,
conv=cn.Conv(patch=2))`` enumerates them for these 1-D signals, solves the program, recovers
the CNN and certifies it; L-BFGS runs of the same CNN at several widths never go below the
certified optimum.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn
from convexnn.training.conv_train import train_conv

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 5))                 # 8 signals of length 5
y = np.sin(X.sum(axis=1)) + 0.1 * rng.standard_normal(8)
conv = cn.Conv(patch=2, pooling="mean")         # K = 4 patches of size 2

result = cn.fit(X, y, beta=0.05, conv=conv)     # every joint pattern: "auto" is exact here
print(result.summary())
net = result.network                            # a ConvNetwork; net.to_torch() is nn.Conv2d-based
print(net)
print(f"filters (w1, w2, b):\n{np.hstack([net.W1, net.b1[:, None]]).round(3)}")

# %%
# The same CNN trained by L-BFGS from five seeds per width: every run ends at or above
# the certified optimum, and small widths stall well above it.
widths = [1, 2, 4, net.width, 2 * net.width]
runs = {w: [train_conv(X, y, conv=conv, width=w, beta=0.05, seed=s, max_iter=500).objective
            for s in range(5)] for w in widths}
for w, objs in runs.items():
    print(f"width {w:2d}: best {min(objs):.6f}  (p* = {result.objective:.6f})")

fig, ax = plt.subplots(figsize=(6, 3.5))
for w, objs in runs.items():
    ax.plot([w] * len(objs), objs, "o", color="C3", alpha=0.6)
ax.axhline(result.objective, label="certified optimum (convex program)")
ax.axhline(result.certificate.lower_bound, color="k", ls=":", label="dual lower bound")
ax.set_xlabel("filters of the L-BFGS runs")
ax.set_ylabel("training objective")
ax.legend()
fig.tight_layout()
