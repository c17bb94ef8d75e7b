"""Multi-view clustering baselines, run on the same data, protocol and metrics as otmix.

Each is a scikit-learn style estimator with ``fit_predict(Xs) → list of label arrays``
(one per view); ``requires_aligned`` says whether it needs the rows of all views to
describe the same samples in the same order.
"""

from .base import MultiViewClusterer

__all__ = ["MultiViewClusterer"]
