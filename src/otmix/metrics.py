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
    """Clustering accuracy: the best one-to-one map of clusters to classes (Hungarian)."""
    y_true, y_pred = _check(y_true, y_pred)
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / y_true.size)


def purity(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Purity (paper Eq. 8): each cluster counts its majority class."""
    y_true, y_pred = _check(y_true, y_pred)
    return float(contingency_matrix(y_true, y_pred).max(axis=0).sum() / y_true.size)


def nmi(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Normalised mutual information (arithmetic normalisation)."""
    return float(normalized_mutual_info_score(*_check(y_true, y_pred)))


def ari(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted Rand index."""
    return float(adjusted_rand_score(*_check(y_true, y_pred)))


def clustering_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """ACC, purity, NMI and ARI in one dict."""
    return {"acc": acc(y_true, y_pred), "purity": purity(y_true, y_pred),
            "nmi": nmi(y_true, y_pred), "ari": ari(y_true, y_pred)}


def mean_std(values) -> dict[str, float]:
    """``{"mean", "std"}`` of scores over seeds or folds (population std, 0 for one value)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}
