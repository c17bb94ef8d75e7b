"""From per-view codes to fused clusters: one FGW barycenter over all codes, clustered, carried back.

Two read-outs of the same barycenter ``Z_B`` (docs/design.md §5, paper Eq. 6):

* ``"gw"`` — the paper's: GW transport of the Gaussian kernel of ``Z_B`` onto ``I_C``
  gives a plan P; a sample j of view m takes ``argmax_c (T_m^T P)_jc``.
* ``"kmeans"`` — k-means on ``Z_B``; a sample takes the nearest centroid of its own
  code (what a single agent can do alone, and what ``predict`` does for new rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans

from .ot import fgw_barycenter, gw_cluster, transfer_labels

READOUTS = ("kmeans", "gw")


@dataclass
class FusedClusters:
    """Result of :func:`fuse_and_cluster`.

    Attributes
    ----------
    codes : ndarray (N_B, d)
        The FGW barycenter of all views' codes (the fused codes).
    plans : list of ndarray (N_B, n_m)
        Plans from the barycenter to the rows ``support[m]`` of every view.
    support : list of ndarray
        Rows of every view that entered the barycenter (all rows unless a view had more
        than N_B rows; the others are labelled by their nearest centre).
    fused_labels : ndarray (N_B,)
        Cluster of every barycenter point under ``readout``.
    centers : ndarray (C, d)
        Cluster centres in the latent space under ``readout`` (P-weighted means for ``"gw"``).
    labels : list of ndarray (N_m,)
        Cluster of every sample of every view under ``readout``.
    labels_by_readout : dict
        ``{"kmeans": [...], "gw": [...]}``: both read-outs, for reporting.
    readout : str
    barycenter_value : float
    """

    codes: np.ndarray
    plans: list[np.ndarray]
    support: list[np.ndarray]
    fused_labels: np.ndarray
    centers: np.ndarray
    labels: list[np.ndarray]
    labels_by_readout: dict[str, list[np.ndarray]]
    readout: str
    barycenter_value: float


def nearest_center(Z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) of every row of ``Z``."""
    return cdist(np.asarray(Z, dtype=np.float64), centers, "sqeuclidean").argmin(axis=1)


def fuse_and_cluster(
    Zs: Sequence[np.ndarray],
    n_clusters: int,
    readout: str = "kmeans",
    alpha: float = 0.5,
    structure: str = "euclidean",
    max_points: int = 2048,
    max_outer: int = 10,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = -1,
) -> FusedClusters:
    """Fuse the views' codes into one barycenter and cluster every view's samples consistently.

    Parameters
    ----------
    Zs : list of arrays (N_m, d)
        Codes of every sample of every view (unaligned; lengths may differ).
    n_clusters : int
    readout : {"kmeans", "gw"}
        Which read-out gives ``labels``, ``fused_labels`` and ``centers`` (both are computed).
    alpha, structure : float, str
        FGW trade-off and structure matrices of the barycenter.
    max_points : int
        Barycenter size N_B = min(min_m N_m, max_points). Views with more rows enter it
        through a seeded random subset of N_B rows, so every FGW problem is square
        (an assignment per LMO step, much faster than network simplex); their other
        rows take the cluster of the nearest centre.
    max_outer : int
        Outer barycenter iterations.
    random_state : int, Generator or None

    Returns
    -------
    FusedClusters
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    rng = np.random.default_rng(random_state)
    Zs = [np.asarray(Z, dtype=np.float64) for Z in Zs]
    n_points = min(min(Z.shape[0] for Z in Zs), int(max_points))
    if n_points < n_clusters:
        raise ValueError(f"the barycenter has {n_points} points, fewer than n_clusters={n_clusters}")
    support = [np.arange(len(Z)) if len(Z) == n_points else np.sort(rng.choice(len(Z), n_points, replace=False))
               for Z in Zs]
    bary = fgw_barycenter([Z[rows] for Z, rows in zip(Zs, support)], n_points=n_points, alpha=alpha,
                          structure=structure, init="kmeans++", max_outer=max_outer, tol=1e-6, random_state=rng,
                          n_jobs=n_jobs)
    codes, plans = np.asarray(bary.Z), [np.asarray(T) for T in bary.plans]

    gw = gw_cluster(codes, n_clusters, init="kmeans", random_state=rng)
    P = np.asarray(gw.plan)
    gw_centers = (P.T @ codes) / np.maximum(P.sum(axis=0), 1e-300)[:, None]
    gw_views = []
    for Z, T, rows in zip(Zs, plans, support):
        labels = nearest_center(Z, gw_centers)
        labels[rows] = transfer_labels(T, P)
        gw_views.append(labels)

    km = KMeans(n_clusters, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(codes)
    km_centers = km.cluster_centers_
    km_views = [nearest_center(Z, km_centers) for Z in Zs]

    if readout == "gw":
        fused, centers, labels = gw.labels, gw_centers, gw_views
    else:
        fused, centers, labels = km.labels_, km_centers, km_views
    return FusedClusters(codes, plans, support, np.asarray(fused), centers, labels,
                         {"kmeans": km_views, "gw": gw_views}, readout, float(bary.value))
