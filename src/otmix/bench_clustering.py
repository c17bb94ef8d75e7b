"""The clustering benchmark: every method × data set × setting × seed, one protocol, resumable.

Protocol (the same for every method): the data set as loaded (preprocessed by its registry
entry); "unaligned" permutes every view on its own with the seed, "aligned" keeps the rows;
methods that need aligned rows are not run unaligned. Labels only score, after fitting:
ACC (Hungarian), purity, NMI, ARI over all samples of all views with one map from cluster
ids to classes, and the mean of the per-view scores (methods that cluster each view alone
have unrelated ids across views: the pooled score penalises them, the per-view mean does not).

Results are kept per cell (data set, setting, method, seed) in a JSON file rewritten
atomically after every finished cell, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .atomic import write_json_atomic
from .cluster_job import METRICS, score_views
from .formatting import mean_std_text
from .metrics import mean_std

SETTINGS = ("aligned", "unaligned")


@dataclass(frozen=True)
class Method:
    """A method of the benchmark: its label, whether it needs aligned rows, and how to build it."""

    label: str
    needs_aligned: bool
    build: Callable[[int, int, dict], Any]  # (n_clusters, seed, params) -> estimator with fit_predict(Xs)
    nonnegative: bool = False  # views min-shifted to >= 0 first (MultiNMF)


def _otm(mix: str = "binary") -> Callable[[int, int, dict], Any]:
    def build(n_clusters: int, seed: int, params: dict) -> Any:
        from .estimators import OTMClustering

        return OTMClustering(n_clusters=n_clusters, random_state=seed, **{**params, "mix": mix})

    return build


def _baseline(class_name: str) -> Callable[[int, int, dict], Any]:
    def build(n_clusters: int, seed: int, params: dict) -> Any:
        from . import baselines

        return getattr(baselines, class_name)(n_clusters=n_clusters, random_state=seed, **params)

    return build


METHODS: MappingProxyType[str, Method] = MappingProxyType({
    "otm": Method("MWAE+OTM (otmix)", False, _otm()),
    "otm-wb": Method("MWAE+OTM(WB)", False, _otm("weighted")),
    "kmeans-concat": Method("K-means concat", True, _baseline("KMeansConcat")),
    "mcca": Method("MCCA", True, _baseline("MCCA")),
    "dccae": Method("DCCAE", True, _baseline("DCCAE")),
    "multinmf": Method("MultiNMF", True, _baseline("MultiNMF"), nonnegative=True),
    "kmeans-per-view": Method("K-means per view", False, _baseline("PerViewKMeans")),
    "spectral-per-view": Method("spectral per view", False, _baseline("PerViewSpectral")),
    "gwmac": Method("GWMAC", False, _baseline("GWMAC")),
})
DEFAULT_METHODS = ("otm", "kmeans-concat", "mcca", "dccae", "multinmf", "kmeans-per-view", "spectral-per-view",
                   "gwmac")
DEFAULT_DATASETS = ("prokaryotic", "movies", "orl", "orl4")

# The paper's Table 2 (titled "purity", which the authors' released code computed as Hungarian accuracy
# selected by labels; docs/design.md §6). Caltech7 is not available here and orl4 is not in the table.
PAPER_TABLE2: MappingProxyType[tuple[str, str, str], float] = MappingProxyType({
    ("orl", "aligned", "mcca"): 0.3475, ("movies", "aligned", "mcca"): 0.0989,
    ("prokaryotic", "aligned", "mcca"): 0.5620,
    ("orl", "aligned", "dccae"): 0.5625, ("movies", "aligned", "dccae"): 0.1572,
    ("prokaryotic", "aligned", "dccae"): 0.5070,
    ("orl", "aligned", "multinmf"): 0.6900, ("movies", "aligned", "multinmf"): 0.1726,
    ("prokaryotic", "aligned", "multinmf"): 0.5771,
    ("orl", "aligned", "otm"): 0.6563, ("movies", "aligned", "otm"): 0.3177,
    ("prokaryotic", "aligned", "otm"): 0.5952,
    ("orl", "unaligned", "gwmac"): 0.5118, ("movies", "unaligned", "gwmac"): 0.1928,
    ("prokaryotic", "unaligned", "gwmac"): 0.5479,
    ("orl", "unaligned", "otm"): 0.6550, ("movies", "unaligned", "otm"): 0.2925,
    ("prokaryotic", "unaligned", "otm"): 0.5438,
})


def cell_key(dataset: str, setting: str, method: str, seed: int) -> str:
    return f"{dataset}|{setting}|{method}|{seed}"


def plan_cells(datasets: Sequence[str], settings: Sequence[str], methods: Sequence[str],
               seeds: Sequence[int]) -> list[tuple[str, str, str, int]]:
    """Every cell to run; aligned-only methods are left out of the unaligned setting."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    bad = [s for s in settings if s not in SETTINGS]
    if bad:
        raise ValueError(f"unknown setting {bad[0]!r}; choose aligned, unaligned or both")
    return [(d, s, m, int(seed)) for d in datasets for s in settings for m in methods for seed in seeds
            if not (s == "unaligned" and METHODS[m].needs_aligned)]


def method_params(dataset: str, method: str, config_dir: str | Path | None = None) -> dict[str, Any]:
    """The parameters a method runs with on a data set (the cell's fingerprint on resume).

    OTM methods: ``config_dir/<dataset>.json`` when it exists (written by ``otmix tune``),
    else the data set's fixed config (``configs/clustering.json``); baselines: their defaults.
    """
    if method in ("otm", "otm-wb"):
        from .cluster_job import dataset_config

        tuned = Path(config_dir) / f"{dataset}.json" if config_dir is not None else None
        if tuned is not None and tuned.is_file():
            from .tune import load_config

            return load_config(tuned)
        return dataset_config(dataset)
    return {}


def run_cell(dataset: str, setting: str, method: str, seed: int, threads: int | None = 1,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit one method on one data set and setting with one seed; return its scores and seconds."""
    import torch
    from threadpoolctl import threadpool_limits

    from .data import load_dataset
    from .data.unalign import unalign

    spec = METHODS[method]
    params = method_params(dataset, method) if params is None else params
    data = load_dataset(dataset)
    Xs, ys = list(data.Xs), list(data.ys)
    if setting == "unaligned":
        Xs, ys, _ = unalign(Xs, ys, random_state=seed)
    if spec.nonnegative:
        Xs = [X - X.min(axis=0, keepdims=True) for X in Xs]
    start = time.perf_counter()
    try:
        estimator = spec.build(data.n_clusters, seed, params)
        if threads is not None:
            saved = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                with threadpool_limits(threads):
                    labels = estimator.fit_predict(Xs)
            finally:
                torch.set_num_threads(saved)
        else:
            labels = estimator.fit_predict(Xs)
    except Exception as exc:  # which cell failed, in one line (the worker's traceback is lost otherwise)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"{cell_key(dataset, setting, method, seed)} failed: {detail}") from exc
    seconds = time.perf_counter() - start
    overall, per_view = score_views(ys, labels)
    return {"dataset": dataset, "setting": setting, "method": method, "seed": int(seed), "params": params,
            "scores": overall, "per_view": per_view,
            "per_view_mean": {k: float(np.mean([p[k] for p in per_view])) for k in METRICS}, "seconds": seconds}


def _run_cell_job(job: tuple[str, str, str, int], params: dict[str, Any]) -> dict[str, Any]:
    return run_cell(*job, threads=1, params=params)


def load_results(path: str | Path) -> dict[str, Any]:
    """The results file of an earlier (maybe interrupted) run, or an empty one."""
    path = Path(path)
    if not path.exists():
        return {"cells": {}}
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"results file {path} is corrupt: {str(exc).splitlines()[0]}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("cells"), dict):
        raise ValueError(f"results file {path} has no 'cells' object; is it a clustering benchmark result?")
    return payload


def run_benchmark(
    datasets: Sequence[str] = DEFAULT_DATASETS,
    settings: Sequence[str] = SETTINGS,
    methods: Sequence[str] = DEFAULT_METHODS,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    results: str | Path | None = None,
    jobs: int = 1,
    on_cell: Callable[[dict[str, Any], int, int], None] | None = None,
    config_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run every missing cell and return ``{"cells": {key: cell}, "summary": ..., "seconds_this_run"}``.

    Parameters
    ----------
    results : path, optional
        JSON file of the cells; a finished cell is skipped when it ran with the same
        parameters (else it is run again), every new cell is written at once (atomically),
        so an interrupted run resumes.
    jobs : int
        Worker processes (one torch/BLAS thread each); 1 runs in this process. A failing
        cell stops the run (queued cells are cancelled; finished ones are kept).
    on_cell : callable(cell, done, total), optional
        Called after every cell (for a progress bar).
    config_dir : path, optional
        Tuned OTM configs ``<dataset>.json`` (from ``otmix tune``) to use instead of the fixed ones.
    """
    from .data import load_dataset

    cells_to_run = plan_cells(datasets, settings, methods, seeds)
    for name in dict.fromkeys(datasets):
        load_dataset(name)  # fail early, with the loader's message, on an unknown or missing data set
    params = {(d, m): method_params(d, m, config_dir) for d in dict.fromkeys(datasets) for m in methods}
    payload = load_results(results) if results is not None else {"cells": {}}

    def current(cell: tuple[str, str, str, int]) -> bool:
        stored = payload["cells"].get(cell_key(*cell))
        return stored is not None and stored.get("params") == json.loads(json.dumps(params[(cell[0], cell[2])]))

    todo = [c for c in cells_to_run if not current(c)]
    done = len(cells_to_run) - len(todo)
    start = time.perf_counter()

    def finish(cell: dict[str, Any]) -> None:
        nonlocal done
        payload["cells"][cell_key(cell["dataset"], cell["setting"], cell["method"], cell["seed"])] = cell
        done += 1
        if results is not None:
            write_json_atomic(results, payload)
        if on_cell is not None:
            on_cell(cell, done, len(cells_to_run))

    if jobs <= 1:
        for job in todo:
            finish(run_cell(*job, threads=None, params=params[(job[0], job[2])]))
    else:
        pool = ProcessPoolExecutor(max_workers=int(jobs))
        try:
            futures = [pool.submit(_run_cell_job, job, params[(job[0], job[2])]) for job in todo]
            for future in as_completed(futures):
                finish(future.result())
        finally:  # on an error or Ctrl-C: cancel what has not started, keep what finished
            pool.shutdown(wait=True, cancel_futures=True)
    wanted = {cell_key(*c) for c in cells_to_run}
    payload["summary"] = summarize([payload["cells"][k] for k in payload["cells"] if k in wanted])
    payload["seconds_this_run"] = time.perf_counter() - start
    payload["machine"] = {"cpus": os.cpu_count()}
    if results is not None:
        write_json_atomic(results, payload)
    return payload


def summarize(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std over seeds per (data set, setting, method): pooled scores, per-view mean, seconds."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for cell in cells:
        groups.setdefault((cell["dataset"], cell["setting"], cell["method"]), []).append(cell)
    summary = {}
    for (dataset, setting, method), group in groups.items():
        summary[f"{dataset}|{setting}|{method}"] = {
            "dataset": dataset, "setting": setting, "method": method, "n_seeds": len(group),
            **{k: mean_std([c["scores"][k] for c in group]) for k in METRICS},
            "per_view_mean": {k: mean_std([c["per_view_mean"][k] for c in group]) for k in METRICS},
            "seconds": mean_std([c["seconds"] for c in group]),
            "paper_purity": PAPER_TABLE2.get((dataset, setting, method)),
        }
    return summary


def markdown(summary: dict[str, Any], datasets: Sequence[str], settings: Sequence[str],
             methods: Sequence[str]) -> str:
    """One table per setting and data set; the best mean of every score column in bold.

    "paper ACC" is the paper's Table 2 column titled purity, which the authors' code computed as
    Hungarian accuracy (``docs/design.md`` §6), so it sits next to our ACC.
    """
    lines: list[str] = []
    for setting in settings:
        lines += [f"### {setting.capitalize()} rows", ""]
        for dataset in datasets:
            rows = [summary[f"{dataset}|{setting}|{m}"] for m in methods if f"{dataset}|{setting}|{m}" in summary]
            if not rows:
                continue
            lines += [f"**{dataset}** († needs aligned rows)", "",
                      "| method | seeds | ACC | paper ACC (Table 2) | purity | NMI | ARI | NMI per view (mean) "
                      "| s/seed |", "|---|---|---|---|---|---|---|---|---|"]
            best = {k: np.nanmax([r[k]["mean"] for r in rows]) for k in METRICS}
            best_view = np.nanmax([r["per_view_mean"]["nmi"]["mean"] for r in rows])

            for r in rows:
                def cell(block: dict, top: float, n: int = r["n_seeds"]) -> str:
                    text = mean_std_text(block, n)  # the value alone for one seed
                    return f"**{text}**" if abs(block["mean"] - top) < 1e-12 else text

                spec = METHODS[r["method"]]
                paper = "–" if r["paper_purity"] is None else f"{r['paper_purity']:.4f}"
                lines.append(f"| {spec.label}{' †' if spec.needs_aligned else ''} | {r['n_seeds']} | "
                             f"{cell(r['acc'], best['acc'])} | {paper} | "
                             + " | ".join(cell(r[k], best[k]) for k in METRICS[1:])
                             + f" | {cell(r['per_view_mean']['nmi'], best_view)} | {r['seconds']['mean']:.1f} |")
            lines.append("")
    return "\n".join(lines)
