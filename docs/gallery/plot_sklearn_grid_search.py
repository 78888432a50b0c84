r"""
Choosing beta with scikit-learn
===============================

:class:`convexnn.ConvexReLURegressor` is a scikit-learn estimator, so the weight decay can
be chosen by cross-validation inside a :class:`~sklearn.pipeline.Pipeline`.  Every fit in
the search is a convex program: the cross-validation curve is not blurred by the luck of
random initialisations.  ``score`` is scikit-learn's :math:`R^2`; the training objective
(and its certificate) is ``objective_`` (``certificate_``).  For a gated model with sampled
gates the certificate proves optimality among gated networks with those gates.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLURegressor

X, y = load_diabetes(return_X_y=True)
y = (y - y.mean()) / y.std()
pipe = make_pipeline(StandardScaler(),
                     ConvexReLURegressor(model="gated", patterns=20, random_state=0))
betas = np.geomspace(1.0, 1000.0, 5)
search = GridSearchCV(pipe, {"convexreluregressor__beta": betas}, cv=3).fit(X, y)
best = search.best_estimator_[-1]
print(f"best beta = {search.best_params_['convexreluregressor__beta']:.3g}, "
      f"CV R^2 = {search.best_score_:.3f}")
print(f"refit on all data: objective {best.objective_:.4f}, "
      f"{best.network_.width} neurons, certified: {best.certified_}")

# %%
cv = search.cv_results_
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.errorbar(betas, cv["mean_test_score"], yerr=cv["std_test_score"], fmt="o-", capsize=3)
ax.set_xscale("log")
ax.set_xlabel(r"weight decay $\beta$")
ax.set_ylabel(r"cross-validated $R^2$")
ax.set_title("diabetes: gated ReLU network, 3-fold CV")
fig.tight_layout()
