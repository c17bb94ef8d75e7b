"""Clustering scores: labels are used only here, to score predictions."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"labels have {y_true.size} entries but predictions {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no labels to score")
    return y_true, y_pred


def acc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Clustering accuracy: the best one-to-one map of clusters to classes (Hungarian).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Classes and cluster ids (any integer labels; the ids need not match the classes).

    Returns
    -------
    float
        The share of samples whose cluster maps to their class, in [0, 1].

    Raises
    ------
    ValueError
        When the two have different lengths, or are empty.

    Examples
    --------
    >>> acc([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> acc([0, 0, 1, 1], [0, 0, 0, 1])
    0.75
    """
    y_true, y_pred = _check(y_true, y_pred)
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / y_true.size)


def purity(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Purity (paper Eq. 8): each cluster counts its majority class.

    Unlike :func:`acc`, several clusters may count the same class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Classes and cluster ids.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> purity([0, 0, 1, 1], [0, 1, 2, 2])
    1.0
    """
    y_true, y_pred = _check(y_true, y_pred)
    return float(contingency_matrix(y_true, y_pred).max(axis=0).sum() / y_true.size)


def nmi(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Normalised mutual information (arithmetic normalisation).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Classes and cluster ids.

    Returns
    -------
    float
        In [0, 1]; scikit-learn's ``normalized_mutual_info_score``.
    """
    return float(normalized_mutual_info_score(*_check(y_true, y_pred)))


def ari(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted Rand index.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Classes and cluster ids.

    Returns
    -------
    float
        1 for identical partitions, about 0 for random ones; scikit-learn's ``adjusted_rand_score``.
    """
    return float(adjusted_rand_score(*_check(y_true, y_pred)))


def clustering_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """ACC, purity, NMI and ARI in one dict.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Classes and cluster ids.

    Returns
    -------
    dict
        ``{"acc", "purity", "nmi", "ari"}``: :func:`acc`, :func:`purity`, :func:`nmi`, :func:`ari`.

    Examples
    --------
    >>> clustering_scores([0, 0, 1, 1], [1, 1, 0, 0])
    {'acc': 1.0, 'purity': 1.0, 'nmi': 1.0, 'ari': 1.0}
    """
    return {"acc": acc(y_true, y_pred), "purity": purity(y_true, y_pred),
            "nmi": nmi(y_true, y_pred), "ari": ari(y_true, y_pred)}


def mean_std(values) -> dict[str, float]:
    """``{"mean", "std"}`` of scores over seeds or folds (population std, 0 for one value).

    Parameters
    ----------
    values : array-like of float
        One score per seed or fold.

    Returns
    -------
    dict
        ``{"mean": float, "std": float}``.

    Examples
    --------
    >>> mean_std([1.0, 3.0])
    {'mean': 2.0, 'std': 1.0}
    """
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}
