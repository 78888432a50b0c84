r"""
Lesson 2: 1-D splines and knots
===============================

A two-layer ReLU network on the real line,
:math:`f(x) = \sum_k \alpha_k (w_k x + b_k)_+ + c`, is a **linear spline**: piecewise linear
with a *knot* at :math:`\kappa_k = -b_k/w_k` where the slope jumps by :math:`\alpha_k|w_k|`.
With free biases and weight decay :math:`\beta`, the global optimum has remarkable
structure (Savarese et al. 2019; Ergen & Pilanci 2021):

* the weight-decay penalty equals :math:`\beta` times the total variation of
  :math:`f'`, the sum of the slope jumps;
* an optimal network can be chosen with its knots **at data points**;
* as :math:`\beta \to 0` the fit tends to the interpolant of least total variation of the
  slope.

The convex program solves this exactly: with 1-D data and a bias, the patterns are
thresholds :math:`\{x_j \ge t\}`, so ``patterns="exact"`` enumerates all of them.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn

x = np.array([0.0, 1.0, 2.5, 3.0, 4.0, 5.5, 6.0, 7.0])
y = np.array([0.0, 0.8, 0.6, 2.0, 2.2, 1.0, 1.4, 3.0])
grid = np.linspace(-0.5, 7.5, 400)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(x, y, "ko", label="data", zorder=3)
for beta in (2.0, 0.3, 0.01):
    res = cn.fit(x[:, None], y, beta=beta, bias="free", patterns="exact")
    net = res.network
    k = cn.knots(net, tol=1e-5)
    tv = np.sum(np.abs(k.jumps))
    print(f"beta={beta:<5g} neurons={net.width:2d} knots={np.round(k.locations, 3).tolist()}  "
          f"penalty={net.penalty():.4f}  TV(f')={tv:.4f}  "
          f"certified={res.certificate.certified}")
    line, = ax.plot(grid, net.predict(grid[:, None]), label=f"beta = {beta:g}")
    ax.plot(k.locations, net.predict(k.locations[:, None]), "o", mfc="none",
            color=line.get_color(), ms=9)
ax.set_xlabel("x")
ax.set_ylabel("f(x)")
ax.set_title(f"{len(x)} points, free biases: globally optimal fits; circles mark the knots")
ax.legend()
fig.tight_layout()

# %%
# The printed lines show the two identities: ``penalty`` (the network's
# :math:`\tfrac12(\|W_1\|^2 + \|W_2\|^2)`, balanced at the optimum) equals the total
# variation of the slope :math:`\sum_k |\alpha_k w_k|`, and the knots sit at (or between
# equal-cost choices of) data points.  Larger :math:`\beta` buys fewer knots.
