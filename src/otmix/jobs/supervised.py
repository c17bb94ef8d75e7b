"""One supervised job: k-fold runs of a fusion model with and without OTM, robustness read-outs, mean ± std.

Protocol: the data set's training split is cut into k folds (stratified for
classification); for fold i the model is trained on the other folds, the epoch with the
best score on fold i is kept, and that model is scored on the data set's held-out test
split (never used to choose anything). Both arms (β = 0 and β > 0) see the same folds
and seeds (hence the same batches: the batch order has its own random stream).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from ..data.supervised import SupervisedData
from ..metrics import mean_std
from ..train.supervised import (
    SupervisedConfig,
    evaluate,
    noise_curve,
    single_modality_scores,
    train_supervised,
)

NOISE_RATIOS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
ARMS = ("without_otm", "with_otm")


def fold_indices(data: SupervisedData, folds: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, validation rows) of every fold of the training split."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if data.task == "classification":
        splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
        return list(splitter.split(data.X_train[0], data.y_train))
    return list(KFold(folds, shuffle=True, random_state=random_state).split(data.X_train[0]))


def run_supervised(
    data: SupervisedData,
    fusion: str = "late",
    otm_weight: float = 1.0,
    folds: int = 5,
    random_state: int = 0,
    overrides: dict[str, Any] | None = None,
    on_fold: Callable[[str, int, float], None] | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    noise_ratios: Sequence[float] = NOISE_RATIOS,
    arms: Sequence[str] = ARMS,
) -> dict[str, Any]:
    """Run the arms over the folds; return the JSON payload of ``otmix supervised``.

    ``arms`` picks ``without_otm`` (β = 0) and/or ``with_otm`` (β = ``otm_weight``); the
    payload has a block for each arm run (a benchmark that already has the plain arm of these
    folds and seeds can skip it). ``overrides`` are further :class:`SupervisedConfig` fields;
    ``label_aware=True`` on a regression data set is refused (one line) before any training.
    """
    if data.y_train is None or len(data.y_train) == 0:
        raise ValueError(f"{data.name} has no training labels")
    if (overrides or {}).get("label_aware") and data.task != "classification":
        raise ValueError(f"label-aware plans need class labels; {data.name} is a {data.task} data set")
    arms = list(arms)
    if not arms or any(arm not in ARMS for arm in arms) or len(set(arms)) != len(arms):
        raise ValueError(f"arms must be distinct entries of {', '.join(ARMS)}, got {arms}")
    metric = "acc" if data.task == "classification" else "mae"
    n_outputs = int(data.n_classes) if data.task == "classification" else 1
    # every setting is checked before any training (a bad β must not cost a whole arm first)
    SupervisedConfig(fusion=fusion, task=data.task, n_outputs=n_outputs, otm_weight=float(otm_weight),
                     **(overrides or {})).validate()
    start = time.perf_counter()
    splits = fold_indices(data, folds, random_state)
    results: dict[str, dict[str, list]] = {}
    for arm in arms:
        beta = 0.0 if arm == "without_otm" else float(otm_weight)
        runs: dict[str, list] = {"test": [], "single": [], "noise": [], "best_epoch": [], "seconds": [],
                                 "cross_class": []}
        for i, (tr, va) in enumerate(splits):
            config = SupervisedConfig(fusion=fusion, task=data.task, n_outputs=n_outputs, otm_weight=beta,
                                      random_state=random_state * 1000 + i, **(overrides or {}))
            t0 = time.perf_counter()
            model, history = train_supervised([X[tr] for X in data.X_train], data.y_train[tr],
                                              [X[va] for X in data.X_train], data.y_train[va], config,
                                              progress=progress)
            test = evaluate(model, data.X_test, data.y_test, data.task)
            runs["test"].append(test)
            seed = random_state * 1000 + i
            runs["single"].append(single_modality_scores(model, [X[tr] for X in data.X_train], data.y_train[tr],
                                                         data.X_test, data.y_test, data.task, random_state=seed))
            runs["noise"].append(noise_curve(model, data.X_test, data.y_test, data.task, noise_ratios,
                                             random_state=seed))
            runs["best_epoch"].append(history["best_epoch"][0])
            for key in ("cross_class", "own_row"):  # the plans' diagnostics, mean over the epochs
                if key in history:
                    runs.setdefault(key, []).append(float(np.mean(history[key])))
            runs["seconds"].append(time.perf_counter() - t0)
            if on_fold is not None:
                on_fold(arm, i, test)
        results[arm] = runs
    payload: dict[str, Any] = {
        "dataset": data.name, "fusion": fusion, "task": data.task, "metric": metric, "folds": folds,
        "config": {**SupervisedConfig(fusion=fusion, task=data.task, n_outputs=n_outputs,
                                      otm_weight=float(otm_weight), **(overrides or {})).to_dict(),
                   "random_state": random_state},
        "data": data.summary(), "modalities": list(data.modality_names), "noise_ratios": list(noise_ratios),
    }
    for arm, runs in results.items():
        single = np.asarray(runs["single"])          # folds x modalities
        noise = np.asarray(runs["noise"])            # folds x modalities x ratios
        payload[arm] = {
            metric: mean_std(runs["test"]), "folds": runs["test"],
            "single_modality": [mean_std(single[:, m]) for m in range(single.shape[1])],
            "noise": {"mean": noise.mean(axis=0).tolist(), "std": noise.std(axis=0).tolist()},
            "best_epoch": runs["best_epoch"], "seconds_per_fold": mean_std(runs["seconds"]),
        }
        for key in ("cross_class", "own_row"):  # with OTM: mass paired across classes / on the own row
            if runs.get(key):
                payload[arm][key] = mean_std(runs[key])
    payload["seconds"] = time.perf_counter() - start
    return payload
