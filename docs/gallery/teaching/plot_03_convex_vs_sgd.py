r"""
Lesson 3: the convex program against SGD
========================================

Gradient training minimizes the non-convex objective

.. math:: F(\theta) = \sum_j \ell(f_\theta(x_j); y_j) + \tfrac{\beta}{2}\|\theta\|^2

from a random start and can stop anywhere: at a saddle, a spurious local minimum, or just
slowly.  The convex program gives the value :math:`p^*` that **no** network of any width
can beat (with every pattern enumerated).  :func:`convexnn.compare` solves the convex
program once, then trains the same network with each optimizer from several seeds and
reports the gap :math:`F(\theta_T) - p^*` of every run.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn

rng = np.random.default_rng(1)
X = np.sort(rng.uniform(-1, 1, 12))[:, None]
y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(12)

res = cn.compare(X, y, beta=0.05, bias="free", patterns="exact", seeds=2,
                 optimizers=("adam", "lbfgs"), widths=("m*", "4m*"), epochs=300,
                 certify=False, n_jobs=1, quiet=True, seed=0)
print(res.table())

# %%
# The curves: objective per epoch of every run, its relative gap to :math:`p^*` (log
# scale) and the number of distinct activation patterns the network uses.
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
res.plot(axes=axes, title="12 noisy samples of sin(3x)")
fig.tight_layout()

# %%
# Read the table as a lower-bound argument: every run's objective is at least
# :math:`p^*` (up to solver tolerance), since ``patterns="exact"`` makes the convex
# optimum global for every width.  In this run, training at the optimal width :math:`m^*`
# (the number of neurons of the convex solution) stops at a local minimum far above
# :math:`p^*`; four times wider, the best L-BFGS run (column "objective min") gets close
# to it.  Without the convex program one could not tell a stalled run from the best
# possible network.
