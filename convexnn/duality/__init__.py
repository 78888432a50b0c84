r"""Duality: certificates of global optimality and the pricing of dual constraints.

For a prediction :math:`\hat y` the dual point :math:`\lambda = -\nabla\ell(\hat y)`
(:mod:`~convexnn.duality.dual_points`) is feasible after scaling by
:math:`\min(1, \beta/s)` with the dual norm :math:`s = \max_i \max_{u\in K_i,\|u_\pi\|\le 1}
|\lambda^\top D_i\tilde Xu|` (:mod:`~convexnn.duality.dual_norm`, over cone supports
:mod:`~convexnn.duality.cones`, exactly by :mod:`~convexnn.duality.branch_bound` when the
arrangement is too large to enumerate), giving the lower bound :math:`-\ell^*(-\lambda)`
(:mod:`~convexnn.duality.certificates`; vector output:
:mod:`~convexnn.vector.certificate`).  The same pricing finds the patterns
pattern generation adds (:mod:`~convexnn.duality.pricing_search`: annealed ascent, exact
cell maxima and climbs of :mod:`~convexnn.duality.cell_search`;
:mod:`~convexnn.duality.pricing`, :mod:`~convexnn.neurons.pricing`); :mod:`~convexnn.vector.relaxations` holds the
convex relaxations whose optima bound the vector programs.
"""
