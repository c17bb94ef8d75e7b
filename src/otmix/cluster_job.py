"""One clustering job: a data set, several seeds, scores per view and over all samples, mean ± std.

The CLI (`otmix cluster`) and `benchmarks/cluster_table.py` both run this. Labels
are used only to score, after fitting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .configs import clustering_config
from .data.dataset import Dataset
from .data.unalign import unalign
from .metrics import clustering_scores, mean_std

METRICS = ("acc", "purity", "nmi", "ari")


def dataset_config(name: str | None) -> dict[str, Any]:
    """The fixed hyper-parameters for a data set: the ``default`` block updated by the data set's own."""
    return clustering_config(name)


def score_views(ys: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> tuple[dict, list[dict]]:
    """Scores over all samples of all views together, and per view."""
    overall = clustering_scores(np.concatenate(ys), np.concatenate(labels))
    return overall, [clustering_scores(y, p) for y, p in zip(ys, labels)]


def aggregate_scores(
    runs: Sequence[tuple[dict[str, float], dict[int, dict[str, float]], dict[str, dict[str, float]]]],
    view_names: Sequence[str],
) -> dict[str, Any]:
    """The score blocks of a clustering payload, mean ± std over runs.

    Every run is ``(overall, per_view, by_readout)`` with ``per_view`` mapping a view index to
    its scores (a federated run may miss a view whose agent dropped out). Returns
    ``{"metrics", "per_view": [{"view", "name", ...}], "metrics_by_readout"}``.
    """
    return {
        "metrics": {k: mean_std([overall[k] for overall, _, _ in runs]) for k in METRICS},
        "per_view": [
            {"view": m, "name": view_names[m],
             **{k: mean_std([views[m][k] for _, views, _ in runs if m in views]) for k in METRICS}}
            for m in range(len(view_names)) if any(m in views for _, views, _ in runs)
        ],
        "metrics_by_readout": {
            name: {k: mean_std([by[name][k] for _, _, by in runs]) for k in METRICS} for name in runs[0][2]
        },
    }


@dataclass
class SeedRun:
    seed: int
    overall: dict[str, float]
    per_view: list[dict[str, float]]
    by_readout: dict[str, dict[str, float]]
    seconds: float
    epochs_run: int
    estimator: Any = field(default=None, repr=False)
    ys: list[np.ndarray] | None = field(default=None, repr=False)


def run_seed(
    data: Dataset, seed: int, aligned: bool, params: dict[str, Any], n_clusters: int,
    verbose: bool = False, unalign_rate: float = 1.0,
) -> SeedRun:
    """Fit one :class:`OTMClustering` (after permuting every view with ``seed`` unless ``aligned``) and score it."""
    from .estimators import OTMClustering

    Xs, ys = list(data.Xs), list(data.ys) if data.ys is not None else None
    if not aligned:
        Xs, ys, _ = unalign(Xs, ys, rate=unalign_rate, random_state=seed)
    start = time.perf_counter()
    est = OTMClustering(n_clusters=n_clusters, random_state=seed, verbose=verbose, **params).fit(Xs)
    seconds = time.perf_counter() - start
    overall, per_view, by_readout = {}, [], {}
    if ys is not None:
        overall, per_view = score_views(ys, est.labels_)
        by_readout = {name: score_views(ys, labels)[0] for name, labels in est.labels_by_readout_.items()}
    return SeedRun(seed, overall, per_view, by_readout, seconds, len(est.history_["total"]), est, ys)


def run_clustering(
    data: Dataset,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    aligned: bool = False,
    n_clusters: int | None = None,
    overrides: dict[str, Any] | None = None,
    verbose: bool = False,
    on_seed: Callable[[SeedRun], None] | None = None,
    unalign_rate: float = 1.0,
    keep_estimators: int | None = None,
) -> tuple[dict[str, Any], list[SeedRun]]:
    """Run every seed and return the JSON payload of ``otmix cluster`` and the per-seed runs.

    Payload: ``{"dataset", "aligned", "n_views", "seeds", "config", "metrics": {m: {mean, std}},
    "per_view": [{"view", m: {mean, std}}...], "metrics_by_readout", "seconds", "data"}``;
    the score blocks are empty when the data set has no labels. ``keep_estimators``: how many
    of the first runs keep their fitted estimator (``None``: all; each holds dense plans).
    """
    n_clusters = n_clusters or data.n_clusters
    if n_clusters is None:
        raise ValueError(f"{data.name} has no labels; give the number of clusters")
    params = dataset_config(data.name)
    params.update(overrides or {})
    start = time.perf_counter()
    runs = []
    for seed in seeds:
        run = run_seed(data, int(seed), aligned, params, int(n_clusters), verbose, unalign_rate)
        if keep_estimators is not None and len(runs) >= keep_estimators:
            run.estimator = None
        runs.append(run)
        if on_seed is not None:
            on_seed(run)
    payload: dict[str, Any] = {
        "dataset": data.name, "aligned": bool(aligned), "n_views": data.n_views, "seeds": [int(s) for s in seeds],
        "config": {"n_clusters": int(n_clusters), **params, "unalign_rate": None if aligned else unalign_rate},
        "data": data.summary(), "metrics": {}, "per_view": [], "metrics_by_readout": {},
        "seconds_per_seed": mean_std([r.seconds for r in runs]),
        "epochs_run": [r.epochs_run for r in runs],
    }
    if data.ys is not None:
        payload.update(aggregate_scores([(r.overall, dict(enumerate(r.per_view)), r.by_readout) for r in runs],
                                        data.view_names))
    payload["seconds"] = time.perf_counter() - start
    return payload, runs
