"""diabetes2: scikit-learn's diabetes regression data as two modalities (clinical, serum)."""

from __future__ import annotations

import numpy as np

from .supervised_data import SupervisedData

__all__ = ["load_diabetes2"]

CLINICAL = ("age", "sex", "bmi", "bp")
SERUM = ("s1", "s2", "s3", "s4", "s5", "s6")
TEST_FRACTION = 0.2


def _zscore(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both splits with the training mean and standard deviation (a constant column is only centred)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def load_diabetes2(random_state: int = 0) -> SupervisedData:
    """The diabetes regression task with two modalities: clinical measurements and blood serum.

    442 patients from ``sklearn.datasets.load_diabetes(scaled=False)``. Modality 0 ``clinical`` holds
    age, sex, bmi and bp (average blood pressure); modality 1 ``serum`` holds the six blood serum
    measurements s1..s6. The target is a quantitative measure of disease progression one year after
    baseline (float64, unscaled, so errors are in its units). A random permutation seeded by
    ``random_state`` puts ``ceil(0.2 * 442) = 89`` patients in the test split and 353 in the training
    split; each modality is z-scored with the training split's mean and standard deviation.

    Parameters
    ----------
    random_state : int
        Seeds the train/test split.

    Returns
    -------
    SupervisedData
        ``task == "regression"``, ``groups_train is None``.

    Examples
    --------
    >>> d = load_diabetes2()
    >>> d.n_train, d.n_test, [X.shape[1] for X in d.X_train], d.task
    (353, 89, [4, 6], 'regression')
    """
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    columns = list(bunch.feature_names)
    missing = [c for c in (*CLINICAL, *SERUM) if c not in columns]
    if missing:
        raise ValueError(f"scikit-learn's diabetes data lacks columns {', '.join(missing)}")
    n = len(y)
    n_test = int(np.ceil(TEST_FRACTION * n))
    order = np.random.default_rng(random_state).permutation(n)
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    X_train, X_test = [], []
    for names in (CLINICAL, SERUM):
        block = X[:, [columns.index(c) for c in names]]
        tr, te = _zscore(block[train], block[test])
        X_train.append(tr)
        X_test.append(te)
    description = (
        "scikit-learn's diabetes data (442 patients, load_diabetes(scaled=False)). Modality 'clinical' = age, sex, "
        "bmi, bp; modality 'serum' = blood serum measurements s1..s6; each z-scored with training statistics. "
        "Target: disease progression one year after baseline (float, unscaled). Split: a random permutation "
        f"seeded by random_state={random_state} puts {n_test} patients in test and {n - n_test} in train."
    )
    return SupervisedData(
        name="diabetes2",
        task="regression",
        modality_names=["clinical", "serum"],
        X_train=X_train,
        y_train=y[train],
        X_test=X_test,
        y_test=y[test],
        groups_train=None,
        description=description,
    )
