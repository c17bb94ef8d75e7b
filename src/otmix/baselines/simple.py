"""Single-view baselines: K-means on concatenated views, and K-means or spectral clustering per view."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.utils import check_random_state

from ..params import check_int
from .base import MultiViewClusterer


def _view_seeds(random_state: Any, n_views: int) -> list[int]:
    """One independent integer seed per view, drawn from ``random_state`` (deterministic for an int)."""
    rng = check_random_state(random_state)
    return [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=n_views)]


def balanced_concat(Xs: list[np.ndarray]) -> np.ndarray:
    r"""Concatenate aligned views after giving every view the same total variance.

    Each column is z-scored (constant columns are only centred), and view :math:`m`
    of width :math:`D_m` is divided by :math:`\sqrt{D_m}`:

    .. math::

        \tilde X = \Bigl[\tfrac{1}{\sqrt{D_1}} Z_1,\ \dots,\ \tfrac{1}{\sqrt{D_M}} Z_M\Bigr],
        \qquad (Z_m)_{ij} = \frac{(X_m)_{ij} - \bar x_{mj}}{s_{mj}},

    so every view contributes total variance 1 to the squared Euclidean distances
    K-means uses, and a 1000-wide view does not outweigh a 10-wide one.

    Parameters
    ----------
    Xs : list of ndarrays of shape (n_samples, n_features[m])
        Aligned views (the same rows in every view).

    Returns
    -------
    ndarray of shape (n_samples, sum_m n_features[m])

    Examples
    --------
    >>> Z = balanced_concat([np.array([[0.0], [2.0]]), np.array([[1.0, 5.0], [3.0, 5.0]])])
    >>> Z.shape, float(np.round((Z ** 2).sum() / 2, 12))
    ((2, 3), 1.5)
    """
    blocks = []
    for X in Xs:
        std = X.std(axis=0)
        Z = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
        blocks.append(Z / np.sqrt(X.shape[1]))
    return np.hstack(blocks)


class KMeansConcat(MultiViewClusterer):
    r"""K-means on the concatenation of aligned views (early fusion).

    The views are merged by :func:`balanced_concat` (per-column z-scores, each view
    divided by :math:`\sqrt{D_m}` so every view has total variance 1), then K-means
    minimises :math:`\sum_i \min_c \lVert \tilde x_i - \mu_c\rVert^2` over the
    concatenated rows. Needs aligned views; every view gets the same labels.

    Parameters
    ----------
    n_clusters : int
        Number of clusters.
    n_init : int, default=10
        K-means restarts; the run with the lowest inertia is kept.
    random_state : int, RandomState instance or None
        Seeds the K-means initialisations.

    Attributes
    ----------
    labels_ : list of int64 ndarrays
        The same cluster of every sample, once per view.
    n_features_in_ : list of int
        Width of each view.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10]
    >>> labels = KMeansConcat(2, random_state=0).fit_predict([X, X[:, :1]])
    >>> len(set(labels[0][:5])), len(set(labels[0])), bool((labels[0] == labels[1]).all())
    (1, 2, True)
    """

    requires_aligned = True

    def __init__(self, n_clusters: int, n_init: int = 10, random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        n_init = check_int("n_init", self.n_init, low=1)
        km = KMeans(n_clusters=int(self.n_clusters), n_init=n_init, random_state=self.random_state)
        labels = km.fit_predict(balanced_concat(Xs))
        return [labels.copy() for _ in Xs]


class PerViewKMeans(MultiViewClusterer):
    r"""K-means on every view on its own (no information shared between views).

    For view :math:`m`, K-means minimises
    :math:`\sum_i \min_c \lVert x^{(m)}_i - \mu^{(m)}_c\rVert^2` on the raw rows of that
    view. Works on unaligned views (any number of rows per view).

    The cluster ids of different views are **not** matched to each other: cluster 0
    of view 1 and cluster 0 of view 2 need not describe the same class. Score each
    view separately (ACC and NMI are invariant to relabelling).

    Parameters
    ----------
    n_clusters : int
        Number of clusters in every view.
    n_init : int, default=10
        K-means restarts per view.
    random_state : int, RandomState instance or None
        One seed per view is drawn from it.

    Attributes
    ----------
    labels_ : list of int64 ndarrays
        Cluster of every row of every view (ids local to each view).
    n_features_in_ : list of int
        Width of each view.

    Examples
    --------
    >>> X = np.r_[np.zeros((4, 2)), np.ones((4, 2)) * 10]
    >>> [len(set(lab)) for lab in PerViewKMeans(2, random_state=0).fit_predict([X, X[:6, :1]])]
    [2, 2]
    """

    requires_aligned = False

    def __init__(self, n_clusters: int, n_init: int = 10, random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        n_init = check_int("n_init", self.n_init, low=1)
        seeds = _view_seeds(self.random_state, len(Xs))
        return [KMeans(n_clusters=int(self.n_clusters), n_init=n_init, random_state=seed).fit_predict(X)
                for X, seed in zip(Xs, seeds)]


class PerViewSpectral(MultiViewClusterer):
    r"""Spectral clustering of every view on its own, on a k-nearest-neighbour graph.

    For view :math:`m` the affinity is the symmetrised kNN connectivity
    :math:`W = \tfrac12 (A + A^\top)`, :math:`A_{ij} = 1` when :math:`j` is among the
    ``n_neighbors`` nearest rows of :math:`i`; the rows are embedded by the leading
    eigenvectors of the normalised Laplacian :math:`D^{-1/2} W D^{-1/2}` and the embedding
    is clustered by K-means (:class:`sklearn.cluster.SpectralClustering`). ``n_neighbors``
    is clipped to ``n_rows - 1`` of each view. Works on unaligned views.

    The cluster ids of different views are **not** matched to each other.

    Parameters
    ----------
    n_clusters : int
        Number of clusters in every view.
    n_neighbors : int, default=10
        Neighbours per row in the kNN graph.
    random_state : int, RandomState instance or None
        One seed per view (eigensolver start and K-means) is drawn from it.

    Attributes
    ----------
    labels_ : list of int64 ndarrays
        Cluster of every row of every view (ids local to each view).
    n_features_in_ : list of int
        Width of each view.
    """

    requires_aligned = False

    def __init__(self, n_clusters: int, n_neighbors: int = 10, random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        n_neighbors = check_int("n_neighbors", self.n_neighbors, low=1)
        n_clusters = int(self.n_clusters)
        seeds = _view_seeds(self.random_state, len(Xs))
        labels = []
        for X, seed in zip(Xs, seeds):
            n_rows = X.shape[0]  # >= n_clusters, checked by the base
            if n_clusters == 1:
                labels.append(np.zeros(n_rows, dtype=np.int64))
                continue
            model = SpectralClustering(n_clusters=n_clusters, affinity="nearest_neighbors",
                                       n_neighbors=min(n_neighbors, n_rows - 1), random_state=seed)
            labels.append(model.fit_predict(X))
        return labels
