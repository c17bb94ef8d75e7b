"""Validation of multi-view inputs: one 2-D float array per view, optional labels per view."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def _to_dense(X: Any) -> Any:
    """Densify a scipy sparse matrix (anything with ``toarray``); pass everything else through."""
    return X.toarray() if hasattr(X, "toarray") and not isinstance(X, np.ndarray) else X


def as_float_view(X: Any, name: str = "X") -> np.ndarray:
    """One view as a float64 C-contiguous copy; ``name`` (e.g. ``"view 1"``) starts every error message.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str
        How errors refer to this array.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float64, C-contiguous, a copy.

    Examples
    --------
    >>> as_float_view([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    try:
        A = np.asarray(_to_dense(X))
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular numeric array ({_one_line(exc)})") from None
    if A.dtype.kind == "O":
        if not all(isinstance(v, numbers.Real) for v in A.flat):
            raise ValueError(f"{name} is not numeric")
    elif A.dtype.kind not in "biuf":
        raise ValueError(f"{name} is not numeric")
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got shape {A.shape}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty")
    A = np.array(A, dtype=np.float64, order="C", copy=True)
    n_bad = int(A.size - np.count_nonzero(np.isfinite(A)))
    if n_bad:
        raise ValueError(f"{name} contains NaN or Inf ({n_bad} entries)")
    return A


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _label_vector(y: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(_to_dense(y))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} are not a 1-D array ({_one_line(exc)})") from None
    if a.ndim == 2 and 1 in a.shape:
        a = a.ravel()
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "c":
        raise ValueError(f"{name} are complex")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contain NaN or Inf ({int(a.size - np.count_nonzero(np.isfinite(a)))} entries)")
    if a.dtype.kind == "O" and any(isinstance(v, float) and not np.isfinite(v) for v in a):
        raise ValueError(f"{name} contain NaN or Inf")
    return a


def _split_labels(ys: Any, rows: list[int]) -> list[Any]:
    """One raw label array per view, from a list per view or one vector shared by all views."""
    n_views = len(rows)
    per_view = isinstance(ys, (list, tuple)) and len(ys) > 0 and all(np.ndim(v) > 0 for v in ys)
    if not per_view:  # a single vector (ndarray, or a list of scalars)
        if len(set(rows)) > 1:
            raise ValueError(
                f"a single label vector needs views with equal row counts, got {rows}; pass one label array per view"
            )
        return [ys] * n_views
    if len(ys) != n_views:
        raise ValueError(f"got {len(ys)} label arrays for {n_views} views")
    return list(ys)


def check_views(
    Xs: Sequence[Any], ys: Sequence[Any] | np.ndarray | None = None, n_clusters: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Validate the views (and labels) of a multi-view data set.

    Views may differ in both their number of rows and of columns (unaligned data).

    Parameters
    ----------
    Xs : list or tuple of array-likes of shape (n_samples[m], n_features[m])
        One 2-D array per view; numeric, finite, non-empty.
    ys : None, list of 1-D array-likes, or one 1-D array-like
        One label vector per view (length = that view's rows), or one vector
        used for every view (only when all views have the same number of rows).
        A column of shape (n, 1) is accepted and raveled.
    n_clusters : int, optional
        When given, every view must have at least this many rows.

    Returns
    -------
    Xs : list of ndarrays
        float64 C-contiguous copies.
    ys : list of int64 ndarrays or None
        Labels remapped jointly to 0..C-1: the same raw label gets the same code in every view.

    Raises
    ------
    ValueError
        With a one-line message naming the view and the problem.

    Examples
    --------
    >>> Xs, ys = check_views([[[0.0, 1.0], [2.0, 3.0]], [[1.0], [2.0], [3.0]]], [["b", "a"], ["a", "c", "b"]])
    >>> [X.shape for X in Xs]
    [(2, 2), (3, 1)]
    >>> [y.tolist() for y in ys]
    [[1, 0], [0, 2, 1]]
    """
    if not isinstance(Xs, (list, tuple)):
        raise ValueError("Xs must be a list of 2-D arrays, one per view")
    if len(Xs) == 0:
        raise ValueError("Xs is empty: give at least one view")
    if n_clusters is not None:
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    out = [as_float_view(X, f"view {m}") for m, X in enumerate(Xs)]
    rows = [X.shape[0] for X in out]
    if n_clusters is not None:
        for m, n in enumerate(rows):
            if n < n_clusters:
                raise ValueError(f"view {m} has {n} rows, fewer than n_clusters={n_clusters}")
    if ys is None:
        return out, None
    labels = [_label_vector(y, f"labels of view {m}") for m, y in enumerate(_split_labels(ys, rows))]
    for m, (y, n) in enumerate(zip(labels, rows)):
        if y.shape[0] != n:
            raise ValueError(f"labels of view {m} have length {y.shape[0]} but the view has {n} rows")
    try:
        _, codes = np.unique(np.concatenate(labels), return_inverse=True)
    except TypeError as exc:
        raise ValueError(f"labels cannot be compared across views ({_one_line(exc)})") from None
    codes = codes.ravel().astype(np.int64)
    bounds = np.cumsum(rows)[:-1]
    return out, [np.ascontiguousarray(c) for c in np.split(codes, bounds)]
