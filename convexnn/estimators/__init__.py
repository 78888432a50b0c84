"""scikit-learn estimators: :class:`ConvexReLURegressor` and :class:`ConvexReLUClassifier`
(:mod:`~convexnn.estimators.models`) and their files (:mod:`~convexnn.estimators.files`)."""

from .models import ConvexReLUClassifier, ConvexReLURegressor

__all__ = ["ConvexReLUClassifier", "ConvexReLURegressor"]
