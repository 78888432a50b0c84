r"""
Lesson 6: deep linear spectra
=============================

Depth changes what weight decay does, even without nonlinearities.  For a deep **linear**
network :math:`f(X) = XW_1\cdots W_L` on whitened data (:math:`X^\top X = I`), weight
decay on every layer is equivalent to a penalty on the end-to-end map :math:`M`

.. math:: \min_M\ \tfrac12\|XM - Y\|_F^2 + \tfrac{\beta L}{2}\sum_k \sigma_k(M)^{2/L},

a Schatten quasi-norm (Ergen & Pilanci 2021).  The optimum keeps the singular vectors of
:math:`X^\top Y` and shrinks each singular value :math:`s_k` separately: a soft threshold
for :math:`L = 2`, a *hard* threshold with a jump for :math:`L \ge 3`.  Every layer of a
balanced optimum has the singular values :math:`\sigma_k^{1/L}`.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from convexnn.plotting.theory import plot_layer_spectra
from convexnn.theory.deep_linear import layer_spectra, shrink, train_deep, whitened_deep_linear

rng = np.random.default_rng(0)
n, d, K, beta = 30, 4, 3, 1.0
X, _ = np.linalg.qr(rng.normal(size=(n, d)))  # whitened: X^T X = I
Y = X @ (rng.normal(size=(d, K)) @ np.diag([3.0, 1.8, 0.9])) + 0.05 * rng.normal(size=(n, K))
s = np.linalg.svd(X.T @ Y, compute_uv=False)
print(f"singular values of X^T Y: {np.round(s, 4)}")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, L in zip(axes, (2, 3)):
    sol = whitened_deep_linear(X, Y, beta=beta, depth=L)
    run = train_deep(X, Y, beta=beta, widths=[5] * (L - 1), restarts=3, seed=0)
    print(f"L={L}: closed form p* = {sol.objective:.6f}, best L-BFGS run "
          f"{run.objectives.min():.6f}; per-layer singular values "
          f"{np.round(sol.layer_singular_values, 4)}")
    plot_layer_spectra(layer_spectra(run.network), sol.layer_singular_values, ax,
                       title=f"depth L = {L}: trained layers vs closed form")

grid = np.linspace(0.0, 1.2 * s.max(), 400)
for L in (2, 3, 4):
    axes[2].plot(grid, shrink(grid, beta, L), label=f"L = {L}")
axes[2].plot(s, np.zeros_like(s), "k|", ms=12, label=r"$s_k$ of $X^\top Y$")
axes[2].set_xlabel("s")
axes[2].set_ylabel(r"$\sigma(s)$")
axes[2].set_title(rf"shrinkage of each singular value, $\beta$ = {beta:g}")
axes[2].legend(fontsize=7)
fig.suptitle(f"whitened data, n={n}, d={d}, {K} outputs, beta={beta:g}")
fig.tight_layout()

# %%
# Markers are the trained layers' singular values, dashed lines the closed form's
# :math:`\sigma_k^{1/L}`: every layer carries the same spectrum (balance), and the rank is at
# most the number of outputs.  In the right panel, small singular values are removed
# entirely for :math:`L \ge 3`, and the deeper the network, the larger the jump.
