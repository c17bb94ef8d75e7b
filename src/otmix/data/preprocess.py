"""Per-view feature preprocessing: z-score, unit rows, tf-idf, or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .views import as_float_view, check_views

PREPROCESSING = ("zscore", "l2", "tfidf", "none")


def _check_method(method: Any, name: str) -> str:
    if not isinstance(method, str) or method.lower() not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {method!r} for {name}; choose one of {', '.join(PREPROCESSING)}")
    return method.lower()


def _zscore(X: np.ndarray) -> np.ndarray:
    constant = np.ptp(X, axis=0) == 0
    Z = X - X.mean(axis=0)
    std = Z.std(axis=0)
    std[constant] = 1.0
    Z /= std
    Z[:, constant] = 0.0
    return Z


def _l2(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def _tfidf(X: np.ndarray, name: str) -> np.ndarray:
    if X.min() < 0:
        raise ValueError(f"tfidf needs non-negative counts but {name} has a minimum of {X.min():.4g}")
    from sklearn.feature_extraction.text import TfidfTransformer

    T = TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(X)
    return np.ascontiguousarray(T.toarray() if hasattr(T, "toarray") else T, dtype=np.float64)


def preprocess_view(X: Any, method: str = "zscore", *, name: str = "X") -> np.ndarray:
    """Preprocess one view (samples x features); returns a new float64 array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    method : {"zscore", "l2", "tfidf", "none"}
        ``zscore``: each column to mean 0 and standard deviation 1 (constant columns become 0);
        ``l2``: each row to unit Euclidean norm (zero rows stay zero);
        ``tfidf``: scikit-learn's ``TfidfTransformer`` (smooth idf, then unit rows), for non-negative counts;
        ``none``: a float64 copy.
    name : str
        How error messages refer to ``X`` (e.g. ``"view 1"``).

    Returns
    -------
    ndarray of shape (n_samples, n_features)

    Examples
    --------
    >>> preprocess_view([[1.0, 5.0], [3.0, 5.0]]).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    >>> preprocess_view([[3.0, 4.0], [0.0, 0.0]], "l2").tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    method = _check_method(method, name)
    A = as_float_view(X, name)
    if method == "zscore":
        return _zscore(A)
    if method == "l2":
        return _l2(A)
    if method == "tfidf":
        return _tfidf(A, name)
    return A


def preprocess_views(Xs: Sequence[Any], methods: str | Sequence[str]) -> list[np.ndarray]:
    """Preprocess every view: ``methods`` is one method for all views or a list with one per view.

    Examples
    --------
    >>> [V.shape for V in preprocess_views([[[1.0, 2.0], [3.0, 4.0]], [[1.0], [2.0], [4.0]]], ["zscore", "none"])]
    [(2, 2), (3, 1)]
    """
    Xs, _ = check_views(Xs)
    if isinstance(methods, str):
        methods = [methods] * len(Xs)
    elif not isinstance(methods, (list, tuple)) or len(methods) != len(Xs):
        got = len(methods) if isinstance(methods, (list, tuple)) else type(methods).__name__
        raise ValueError(f"methods must be one string or a list with one per view: got {got} for {len(Xs)} views")
    return [preprocess_view(X, method, name=f"view {m}") for m, (X, method) in enumerate(zip(Xs, methods))]
