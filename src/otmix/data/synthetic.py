"""Synthetic unaligned multi-view codes with a known cluster structure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def make_latent_views(
    n_samples: Sequence[int] = (300, 240, 200),
    dim: int = 8,
    n_clusters: int = 4,
    noise: Sequence[float] = (0.8, 0.8, 2.5),
    separation: float = 3.0,
    random_state: int | np.random.Generator | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Codes of several views around shared cluster centres, each view independently sampled.

    No row of one view corresponds to a row of another (the views are unaligned
    and may differ in size); a view with a large ``noise`` is a weak modality.

    Parameters
    ----------
    n_samples : sequence of int
        Rows per view.
    dim : int
        Code width d, shared by all views.
    n_clusters : int
        Number of clusters (balanced: sizes differ by at most one).
    noise : sequence of float
        Standard deviation of the within-cluster noise, one per view.
    separation : float
        Scale of the cluster centres.
    random_state : int, Generator or None

    Returns
    -------
    Xs : list of ndarrays of shape (n_samples[v], dim)
    ys : list of int ndarrays of shape (n_samples[v],)
    """
    if len(n_samples) != len(noise):
        raise ValueError(f"got {len(n_samples)} view sizes but {len(noise)} noise levels")
    if any(n < 1 for n in n_samples):
        raise ValueError("every view needs at least one row")
    rng = np.random.default_rng(random_state)
    centres = rng.normal(scale=separation, size=(n_clusters, dim))
    Xs, ys = [], []
    for n, sigma in zip(n_samples, noise):
        y = rng.permutation(np.arange(n) % n_clusters)  # balanced clusters
        Xs.append(centres[y] + rng.normal(scale=sigma, size=(n, dim)))
        ys.append(y)
    return Xs, ys
