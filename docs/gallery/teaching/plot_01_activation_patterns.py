r"""
Lesson 1: activation patterns and the arrangement count
========================================================

A ReLU neuron :math:`x \mapsto (x^\top u)_+` acts on the data :math:`X` through its
**activation pattern** :math:`D(u) = \mathrm{diag}(1[Xu \ge 0])`: which samples it is
switched on for.  On the training data, :math:`(Xu)_+ = D(u)Xu`, so a two-layer network is
linear in its weights once the pattern of each neuron is fixed.  This is what makes the
convex reformulation possible: instead of searching over weights, enumerate the patterns.

How many patterns are there?  Each sample :math:`x_j` splits the weight space by the
hyperplane :math:`\{u : x_j^\top u = 0\}`; the patterns are the cells of this
*arrangement*.  For :math:`n` samples in general position in rank :math:`r` there are
exactly

.. math:: P = 2\sum_{k=0}^{r-1}\binom{n-1}{k}

cells (Cover 1965): polynomial in :math:`n` for a fixed rank, exponential in the rank.
"""

# %%
# In two dimensions (no bias), a direction :math:`u = (\cos\theta, \sin\theta)` sweeps
# all patterns: each sample flips its bit where :math:`\theta` crosses its hyperplane,
# so there are :math:`2n` cells, the formula with :math:`r = 2`.
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn

rng = np.random.default_rng(0)
n = 8
X = rng.standard_normal((n, 2))
theta = np.linspace(0, 2 * np.pi, 721)
U = np.stack([np.cos(theta), np.sin(theta)])
codes = (X @ U >= 0)  # (n, angles): the pattern at each angle

exact = cn.enumerate_patterns(X)
print(f"distinct patterns along the sweep: {np.unique(codes, axis=1).shape[1]}")
print(f"enumerate_patterns: {exact.D.shape[1]} cells; Cover's count: {cn.pattern_count(n, 2)}")

# %%
# The count grows polynomially with :math:`n` at fixed rank, and exponentially with the
# rank (here with a bias column, rank :math:`d + 1`):
ns = np.arange(2, 41)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.imshow(codes, aspect="auto", cmap="Greys", interpolation="nearest",
           extent=(0, 360, n - 0.5, -0.5))
ax1.set_xlabel(r"direction $\theta$ of $u$ (degrees)")
ax1.set_ylabel("sample j")
ax1.set_title(f"patterns $1[Xu \\geq 0]$ along a sweep: {exact.D.shape[1]} cells")
for r in (2, 3, 4, 6):
    ax2.semilogy(ns, [cn.pattern_count(k, r) for k in ns], label=f"rank r = {r}")
ax2.set_xlabel("samples n")
ax2.set_ylabel("cells P")
ax2.set_title("Cover's count of the arrangement")
ax2.legend()
fig.tight_layout()

# %%
# When the arrangement is too large to enumerate, ``fit`` samples Gaussian gates
# :math:`g \sim N(0, I)` and keeps their distinct patterns.  The program over a subset is
# an *upper bound* on the optimum; only the certificate (lesson 4) can say whether it is
# already optimal.  Every sampled pattern is one of the exact cells:
sampled = cn.sample_patterns(X, 50, seed=0)
exact_set = {col.tobytes() for col in exact.D.T}
print(f"{sampled.D.shape[1]} sampled patterns, all exact cells: "
      f"{all(col.tobytes() in exact_set for col in sampled.D.T)}")
