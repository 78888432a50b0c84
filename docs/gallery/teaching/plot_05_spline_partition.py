r"""
Lesson 5: the spline partition of a trained network
===================================================

A ReLU network is a **continuous piecewise-affine** map (a max-affine spline, Balestriero
& Baraniuk 2018): its input space splits into convex regions, one per activation code
(which neurons are on), and on each region the network is one affine map.  For a two-layer
network with :math:`m` neurons in the plane, the regions are the cells cut out by the
:math:`m` lines :math:`w_k^\top x + b_k = 0`.

:func:`convexnn.slice_regions` computes these regions *exactly* (polygons, not a grid) on a
2-D slice.  Below: the globally optimal network of a small classification-as-regression
problem, and an Adam-trained network of width 50 on the same objective (600 epochs).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn
from convexnn.plotting.spline import plot_partition
from convexnn.training import random_module

rng = np.random.default_rng(0)
X = rng.uniform(-1.6, 1.6, (20, 2))
y = np.where(np.linalg.norm(X, axis=1) > 1.0, 1.0, -1.0)  # outside / inside the circle
beta, box = 0.05, (-2.0, 2.0, -2.0, 2.0)

opt = cn.fit(X, y, beta=beta, bias="free", patterns="exact", certify=False)
adam = cn.train(random_module(2, 50, bias="free", seed=0), X, y, beta=beta,
                optimizer="adam", lr=0.01, epochs=600, quiet=True, log_every=600)
parts = [cn.slice_regions(opt.network, box=box), cn.slice_regions(adam.network, box=box)]
for name, net, F, part in (("convex optimum", opt.network, opt.objective, parts[0]),
                           ("Adam, width 50", adam.network, adam.objective, parts[1])):
    print(f"{name:15s} objective {F:.5f}  neurons {net.width:3d}  regions {part.n_regions}")

# %%
# Each colour is a region (an activation code); the red curve is the decision boundary
# :math:`f = 0`.
fig, axes = plt.subplots(1, 2, figsize=(10, 5.4), layout="constrained")
for ax, part, title in zip(axes, parts, ("convex optimum", "Adam, width 50")):
    plot_partition(part, ax, points=X, labels=y)
    ax.set_title(f"{title}: {part.n_regions} regions")
fig.suptitle(f"inside/outside the unit circle, n={len(y)}: squared loss, free biases, "
             f"beta={beta:g}")

# %%
# The optimum uses few neurons (weight decay is a group-sparsity penalty in the convex
# program), and most of its lines pass through data points, like the knots of lesson 2.
# The Adam network has more lines and more regions for a higher objective.
