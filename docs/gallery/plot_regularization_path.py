r"""
The regularization path and beta_max
====================================

Above :math:`\beta_{\max}` the zero network (plus the free terms) is the global optimum;
below it, neurons enter.  :func:`convexnn.regularization_path` compiles the convex
program once and re-solves it for each :math:`\beta`, certifying every point.  The
number of active neurons is the support of the group-lasso solution, at most :math:`n`.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn

rng = np.random.default_rng(3)
x = np.sort(rng.uniform(-2, 2, 25))
y = np.sin(2 * x) + 0.2 * rng.standard_normal(25)
X = x[:, None]

bmax = cn.beta_max(X, y, bias="free")
betas = bmax * np.geomspace(0.99, 1e-3, 10)
path = cn.regularization_path(X, y, betas, bias="free", patterns="exact")
print(f"beta_max = {bmax:.4f}")
print(path.summary())

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.loglog(betas, path.objectives, "o-", label="objective $p^*$")
ax1.loglog(betas, path.lower_bounds, "x", label="certificate lower bound")
ax1.axvline(bmax, color="gray", ls="--", label=r"$\beta_{\max}$")
ax1.set_xlabel(r"$\beta$")
ax1.legend()
ax1.set_title("optimum and certified lower bound")
ax2.semilogx(betas, path.n_active, "o-")
ax2.axvline(bmax, color="gray", ls="--")
ax2.set_xlabel(r"$\beta$")
ax2.set_ylabel("active neurons")
ax2.set_title("support of the optimum")
fig.tight_layout()
