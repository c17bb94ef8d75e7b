"""Supervised multimodal benchmarks: aligned modalities with a fixed train/test split."""

from __future__ import annotations

import os

from .supervised_data import SupervisedData

__all__ = ["SUPERVISED_NAMES", "SupervisedData", "load_supervised"]

SUPERVISED_NAMES = ("avmnist", "avmnist-hard", "diabetes2")


def load_supervised(name: str, data_dir: str | os.PathLike[str] | None = None, random_state: int = 0) -> SupervisedData:
    """Load a named supervised multimodal benchmark.

    Parameters
    ----------
    name : {"avmnist", "avmnist-hard", "diabetes2"}
        Case-insensitive. ``avmnist``: an MNIST image and an FSDD spoken digit per row
        (:func:`otmix.data.avmnist.load_avmnist`); ``avmnist-hard``: the same rows with the images
        reduced to the PCA components holding 25 % of their variance and the audio in white noise at
        -5 dB SNR (:func:`otmix.data.avmnist.load_avmnist_hard`); ``diabetes2``: regression.
    data_dir : path, optional
        The data folder (for the AV-MNIST sets); default ``data_root()``. ``diabetes2`` ships with scikit-learn.
    random_state : int
        Seeds the image pairing (AV-MNIST) or the train/test split (``diabetes2``).

    Returns
    -------
    SupervisedData

    Examples
    --------
    >>> load_supervised("diabetes2").summary()["n_features"]
    [4, 6]
    """
    key = name.lower() if isinstance(name, str) else None
    if key == "avmnist":
        from .avmnist import load_avmnist

        return load_avmnist(data_dir, random_state)
    if key == "avmnist-hard":
        from .avmnist import load_avmnist_hard

        return load_avmnist_hard(data_dir, random_state)
    if key == "diabetes2":
        from .diabetes2 import load_diabetes2

        return load_diabetes2(random_state)
    raise ValueError(f"unknown supervised dataset {name!r}; choose one of {', '.join(SUPERVISED_NAMES)}")
