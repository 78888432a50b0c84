r"""
Lesson 4: what a certificate proves
===================================

A certificate is a **lower bound** on the optimum that comes with any network.  For a
network with predictions :math:`\hat y`, take the dual point
:math:`\lambda = -\nabla\ell(\hat y)`.  If every single ReLU neuron correlates with it at
most :math:`\beta`,

.. math:: \max_{\|u\| \le 1} |\lambda^\top (\tilde X u)_+| \le \beta,

then weak duality gives :math:`-\ell^*(-\lambda) \le p^*`, the optimum over networks of
**every** width.  If the constraint is violated by a factor :math:`s/\beta`, the scaled
point :math:`\lambda\min(1, \beta/s)` is feasible and still gives a bound.  So for any
network :math:`\theta`

.. math:: \mathrm{LB}(\theta) \le p^* \le P(\theta),

and the gap :math:`P(\theta) - \mathrm{LB}(\theta)` says how far from optimal it can be.
The maximum runs over all activation patterns; :func:`convexnn.certify` computes it
exactly when they can be enumerated, and then says ``certified=True`` when the gap is
within tolerance.
"""

# %%
# We train a network by Adam from a random start and certify snapshots along the way,
# then compare with the convex optimum.
import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn
from convexnn.training import random_module

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 12))
y = np.sin(2 * x)
X, beta = x[:, None], 0.05

opt = cn.fit(X, y, beta=beta, bias="free", patterns="exact")
print(f"convex optimum p* = {opt.objective:.6f}, certified: {opt.certificate.certified}")

net, done, rows = random_module(1, 20, bias="free", seed=0), 0, []
for epochs in (10, 40, 150, 600, 2000):
    run = cn.train(net, X, y, beta=beta, optimizer="adam", lr=0.01, epochs=epochs - done,
                   quiet=True, log_every=epochs - done)
    net, done = run.network, epochs
    cert = cn.certify(net, X, y, beta=beta, bias="free", patterns="exact")
    rows.append((epochs, cert.upper_bound, cert.lower_bound, cert.certified))
    print(f"epoch {epochs:5d}: P = {cert.upper_bound:.6f}  LB = {cert.lower_bound:.6f}  "
          f"rel. gap = {cert.relative_gap:.1e}  certified: {cert.certified}")

# %%
# Every lower bound lies below :math:`p^*` and every objective above it, whatever the
# network: the sandwich is a theorem, not an estimate.
ep, ub, lb, _ = map(np.array, zip(*rows))
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogx(ep, ub, "o-", label=r"$P(\theta)$: Adam network's objective")
ax.semilogx(ep, lb, "s-", label=r"certificate lower bound LB($\theta$)")
ax.axhline(opt.objective, color="k", ls="--", label=r"$p^*$ (convex program)")
ax.set_xlabel("Adam epochs")
ax.set_ylabel("objective")
ax.set_title(r"LB($\theta$) $\leq p^* \leq P(\theta)$ for every network")
ax.legend()
fig.tight_layout()

# %%
# What a certificate does **not** prove: with sampled patterns (large data) the maximum
# is only searched, and a search can find a violated neuron (refuting optimality) but
# never prove there is none, so such certificates report ``certified=False`` and
# ``exhaustive=False`` however small the gap looks.
