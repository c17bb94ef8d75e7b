"""The Dataset record: preprocessed views, labels per view, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Dataset:
    """A multi-view data set, views already preprocessed.

    Attributes
    ----------
    name : str
    Xs : list of ndarrays of shape (n_samples[m], n_features[m])
    ys : list of int64 ndarrays of shape (n_samples[m],), or None
        Labels per view, coded 0..C-1 jointly over the views; used only for scoring.
    view_names : list of str
    preprocessing : list of str
        The method applied to each view (one of ``PREPROCESSING``).
    source : str
        Where the data came from (a file path or a description).
    notes : list of str
        What the loader did that the user should know (e.g. a csv header row it skipped).

    Examples
    --------
    >>> ds = Dataset("toy", [np.zeros((3, 2)), np.zeros((4, 1))], None, ["a", "b"], ["none", "none"], "made up")
    >>> ds.n_views, ds.n_samples, ds.n_clusters
    (2, [3, 4], None)
    """

    name: str
    Xs: list[np.ndarray]
    ys: list[np.ndarray] | None
    view_names: list[str]
    preprocessing: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.Xs)
        if len(self.view_names) != n or len(self.preprocessing) != n:
            raise ValueError(
                f"dataset {self.name!r} has {n} views but {len(self.view_names)} view names "
                f"and {len(self.preprocessing)} preprocessing entries"
            )
        if self.ys is not None and len(self.ys) != n:
            raise ValueError(f"dataset {self.name!r} has {n} views but {len(self.ys)} label arrays")

    @property
    def n_views(self) -> int:
        """Number of views."""
        return len(self.Xs)

    @property
    def n_samples(self) -> list[int]:
        """Rows of each view."""
        return [int(X.shape[0]) for X in self.Xs]

    @property
    def n_features(self) -> list[int]:
        """Columns of each view."""
        return [int(X.shape[1]) for X in self.Xs]

    @property
    def n_clusters(self) -> int | None:
        """Number of distinct labels over all views, or None without labels."""
        if self.ys is None:
            return None
        return int(np.unique(np.concatenate([np.asarray(y).ravel() for y in self.ys])).size)

    def summary(self) -> dict[str, Any]:
        """A JSON-able description (no arrays)."""
        return {
            "name": self.name,
            "n_views": self.n_views,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_clusters": self.n_clusters,
            "view_names": list(self.view_names),
            "preprocessing": list(self.preprocessing),
            "source": self.source,
            "notes": list(self.notes),
        }
