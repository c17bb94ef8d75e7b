r"""Seeded row samples of large views, for the steps whose cost grows with :math:`N^2`.

The view analysis (:func:`otmix.alignment.analyse_views`) and the matched read-out
(:func:`otmix.readout.matched_clusters`) hold dense plans between the rows of every pair of
views: :math:`8 N_a N_b` bytes, 80 GB at 100,000 rows per view. Training does not need them
(it holds one batch at a time), so a fit on large views runs them on a seeded sample of at
most ``max_rows`` rows per view and labels the other rows from what the sample learnt (the
nearest of the view's own cluster centres, as :meth:`otmix.OTMClustering.predict` does).

Links are kept: the sample first takes up to half of ``max_rows`` linked entities (all of
them when they fit), with their rows in every view they appear in, then fills every view
with its other rows; the link table is rewritten in the sample's positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class RowSample:
    """Rows of every view kept for the analysis (:func:`sample_rows`).

    Attributes
    ----------
    rows : list of int ndarray
        ``rows[m]``: sorted row indices of view m in the sample (all rows when it is small).
    links : int ndarray (k, M) or None
        The links among the sampled rows, as positions in ``rows[m]`` (-1: absent).
    full : bool
        True when every view is kept whole (the sample is the data).
    """

    rows: list[np.ndarray]
    links: np.ndarray | None
    full: bool

    def take(self, Xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The sampled rows of every view (the arrays themselves when the sample is full)."""
        return list(Xs) if self.full else [X[r] for X, r in zip(Xs, self.rows)]

    def to_full(self, links: np.ndarray | None) -> np.ndarray | None:
        """A link table in sample positions, rewritten in the views' own row indices."""
        if links is None or self.full:
            return links
        out = np.full(links.shape, -1, dtype=np.int64)
        for m, rows in enumerate(self.rows):
            present = links[:, m] >= 0
            out[present, m] = rows[links[present, m]]
        return out


def sample_rows(sizes: Sequence[int], links: np.ndarray | None, max_rows: int,
                random_state: int | np.random.Generator | None = None) -> RowSample:
    """At most ``max_rows`` rows of every view, linked entities first (module docstring).

    Parameters
    ----------
    sizes : sequence of int
        Rows of every view.
    links : int ndarray (n_links, M) or None
        Checked link table (:func:`otmix.ot._constraints.check_links`), -1 where absent.
    max_rows : int
        Largest number of rows kept per view (at least 1).
    random_state : int, Generator or None

    Returns
    -------
    RowSample
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    sizes = [int(n) for n in sizes]
    if max(sizes) <= max_rows:
        return RowSample([np.arange(n) for n in sizes], links, True)
    rng = np.random.default_rng(random_state)
    chosen_links = None
    if links is not None and links.shape[0]:
        k = min(links.shape[0], max_rows // 2)
        chosen_links = links[np.sort(rng.choice(links.shape[0], size=k, replace=False))]
    rows = []
    for m, n in enumerate(sizes):
        if n <= max_rows:
            rows.append(np.arange(n))
            continue
        linked = np.empty(0, np.int64) if chosen_links is None else chosen_links[chosen_links[:, m] >= 0, m]
        rest = np.setdiff1d(np.arange(n), linked, assume_unique=False)
        extra = rng.choice(rest, size=max_rows - linked.size, replace=False)
        rows.append(np.sort(np.concatenate([linked, extra])))
    sub_links = None
    if chosen_links is not None:
        sub_links = np.full(chosen_links.shape, -1, dtype=np.int64)
        for m, r in enumerate(rows):
            present = chosen_links[:, m] >= 0
            sub_links[present, m] = np.searchsorted(r, chosen_links[present, m])
    return RowSample(rows, sub_links, False)
