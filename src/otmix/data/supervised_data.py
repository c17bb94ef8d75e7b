"""The container of a supervised multimodal data set (aligned rows, a fixed train/test split)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TASKS", "SupervisedData"]

TASKS = ("classification", "regression")


@dataclass
class SupervisedData:
    """A supervised multimodal data set with aligned rows and a fixed train/test split.

    Attributes
    ----------
    name : str
    task : {"classification", "regression"}
    modality_names : list of str
    X_train : list of float64 ndarrays of shape (n_train, D_m)
        One per modality; row ``i`` of every modality describes the same sample.
    y_train : ndarray of shape (n_train,)
        int64 class ids 0..C-1 (classification) or float64 targets (regression).
    X_test : list of float64 ndarrays of shape (n_test, D_m)
    y_test : ndarray of shape (n_test,)
    groups_train : ndarray of shape (n_train,) or None
        A group id per training row (e.g. a speaker) for grouped cross-validation.
    description : str
        What the modalities and the target are, and how the split was made.

    Examples
    --------
    >>> d = SupervisedData("toy", "classification", ["a", "b"], [np.zeros((3, 2)), np.ones((3, 1))],
    ...                    np.array([0, 1, 2]), [np.zeros((1, 2)), np.ones((1, 1))], np.array([1]), None, "made up")
    >>> d.n_modalities, d.n_classes, d.summary()["n_features"]
    (2, 3, [2, 1])
    """

    name: str
    task: str
    modality_names: list[str]
    X_train: list[np.ndarray]
    y_train: np.ndarray
    X_test: list[np.ndarray]
    y_test: np.ndarray
    groups_train: np.ndarray | None
    description: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        n = len(self.modality_names)
        if n == 0 or len(self.X_train) != n or len(self.X_test) != n:
            raise ValueError(
                f"{self.name!r} has {n} modality names, {len(self.X_train)} train and {len(self.X_test)} test arrays"
            )
        for split, Xs, y in (("train", self.X_train, self.y_train), ("test", self.X_test, self.y_test)):
            if np.ndim(y) != 1:
                raise ValueError(f"{self.name!r} {split} targets must be 1-D, got shape {np.shape(y)}")
            for name, X in zip(self.modality_names, Xs):
                if np.ndim(X) != 2 or X.shape[0] != len(y):
                    raise ValueError(
                        f"{self.name!r} {split} modality {name!r} has shape {np.shape(X)}, expected ({len(y)}, D)"
                    )
        widths = [X.shape[1] for X in self.X_train]
        if [X.shape[1] for X in self.X_test] != widths:
            raise ValueError(f"{self.name!r} train and test modalities differ in width")
        if self.groups_train is not None and np.shape(self.groups_train) != (len(self.y_train),):
            raise ValueError(f"{self.name!r} groups_train must have one entry per training row")

    @property
    def n_modalities(self) -> int:
        """Number of modalities."""
        return len(self.modality_names)

    @property
    def n_train(self) -> int:
        """Training rows."""
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        """Test rows."""
        return len(self.y_test)

    @property
    def n_classes(self) -> int | None:
        """Number of classes (largest class id + 1 over both splits); None for regression."""
        if self.task != "classification":
            return None
        return int(max(np.max(self.y_train, initial=-1), np.max(self.y_test, initial=-1))) + 1

    def summary(self) -> dict[str, Any]:
        """A JSON-able description: name, task, modalities, sizes, widths, classes, groups."""
        return {
            "name": self.name,
            "task": self.task,
            "modality_names": list(self.modality_names),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_features": [int(X.shape[1]) for X in self.X_train],
            "n_classes": self.n_classes,
            "n_groups": None if self.groups_train is None else int(len(np.unique(self.groups_train))),
            "description": self.description,
        }
