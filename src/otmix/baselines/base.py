"""What every clustering baseline shares: scikit-learn style, ``fit_predict(Xs) → one label array per view``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from ..data.views import check_views
from ..params import check_int


class MultiViewClusterer(ClusterMixin, BaseEstimator):
    """Base of the baselines in :mod:`otmix.baselines`.

    Subclasses set ``requires_aligned`` (rows of all views describe the same samples in
    the same order) and implement ``_fit_labels(Xs) -> list of label arrays``; ``fit``
    checks the views (one-line errors), refuses unaligned input for aligned-only methods
    and sets ``labels_`` (one int array per view) and ``n_features_in_`` (a list).
    """

    requires_aligned: ClassVar[bool] = False

    def _check(self, Xs: Sequence[Any]) -> list[np.ndarray]:
        n_clusters = check_int("n_clusters", self.n_clusters, low=1)  # every baseline has this parameter
        Xs, _ = check_views(Xs, n_clusters=n_clusters)
        if self.requires_aligned and len({X.shape[0] for X in Xs}) > 1:
            raise ValueError(f"{type(self).__name__} needs aligned views (the same rows in every view); "
                             f"got {[X.shape[0] for X in Xs]} rows")
        return Xs

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, Xs: Sequence[Any], y: Any = None) -> MultiViewClusterer:
        """Cluster the views ``Xs`` (labels, if given, are ignored)."""
        Xs = self._check(Xs)
        labels = self._fit_labels(Xs)
        self.labels_ = [np.asarray(lab, dtype=np.int64) for lab in labels]
        self.n_features_in_ = [X.shape[1] for X in Xs]
        return self

    def fit_predict(self, Xs: Sequence[Any], y: Any = None) -> list[np.ndarray]:
        """Fit and return the cluster of every sample of every view (one array per view)."""
        return self.fit(Xs).labels_
