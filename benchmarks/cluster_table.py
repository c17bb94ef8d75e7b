"""Clustering results table: MWAE+OTM, OTM(WB), MWAE without OTM and K-means baselines, mean ± std over seeds.

Every method sees the same data: preprocessed as the registry does, then (unaligned
setting) every view permuted independently with the seed. Hyper-parameters come
from src/otmix/configs/clustering.json (fixed per data set; labels only score).

    python benchmarks/cluster_table.py --datasets prokaryotic movies orl orl4 --seeds 5 --jobs 2 \
        --json benchmarks/cluster_table.json --markdown benchmarks/cluster_table.md

Prints a table per data set; writes JSON (all per-seed numbers) and markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

METRICS = ("acc", "purity", "nmi", "ari")
OTM_METHODS = {
    "MWAE+OTM": {},
    "MWAE+OTM(WB)": {"mix": "weighted"},
    "MWAE (no OTM)": {"w_otm": 0.0, "w_clu": 0.0},
}
BASELINES = ("K-means per view", "K-means concat")
# The paper's Table 2 ("purity", which the authors' code computed as Hungarian accuracy).
PAPER = {
    ("prokaryotic", True): 0.5952, ("prokaryotic", False): 0.5438,
    ("movies", True): 0.3177, ("movies", False): 0.2925,
    ("orl", True): 0.6563, ("orl", False): 0.6550,
}
PAPER_WB = {
    ("prokaryotic", True): 0.5541, ("prokaryotic", False): 0.5299,
    ("movies", True): 0.3184, ("movies", False): 0.2860,
    ("orl", True): 0.6525, ("orl", False): 0.6350,
}


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def run_one(job: tuple[str, bool, str, int, dict]) -> dict:
    """One (dataset, aligned, method, seed) cell; runs in a worker process with one thread."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)  # one BLAS/OpenMP thread per worker: the workers are the parallelism
    from otmix.data import load_dataset, unalign
    from otmix.jobs.cluster import dataset_config, run_seed, score_views
    from otmix.metrics import clustering_scores

    name, aligned, method, seed, overrides = job
    data = load_dataset(name)
    start = time.perf_counter()
    if method in OTM_METHODS:
        params = dataset_config(name)
        params.update({**OTM_METHODS[method], "n_jobs": 1, **overrides})
        run = run_seed(data, seed, aligned, params, data.n_clusters)
        out = {"overall": run.overall, "per_view": run.per_view, "by_readout": run.by_readout,
               "epochs": run.epochs_run}
    else:
        Xs, ys = data.Xs, data.ys
        if not aligned:
            Xs, ys, _ = unalign(Xs, ys, random_state=seed)
        C = data.n_clusters
        if method == "K-means per view":
            labels = [KMeans(C, n_init=10, random_state=seed).fit_predict(X) for X in Xs]
            per_view = [clustering_scores(y, p) for y, p in zip(ys, labels)]
            weights = np.array([len(y) for y in ys], dtype=float)
            # Each view clustered alone has its own cluster ids: pool per-view scores (favours it).
            overall = {k: float(np.average([s[k] for s in per_view], weights=weights)) for k in METRICS}
            out = {"overall": overall, "per_view": per_view, "best_view": {
                k: max(s[k] for s in per_view) for k in METRICS}}
        else:
            labels = KMeans(C, n_init=10, random_state=seed).fit_predict(np.hstack(Xs))
            overall, per_view = score_views(ys, [labels] * len(ys))
            out = {"overall": overall, "per_view": per_view}
    out.update(dataset=name, aligned=aligned, method=method, seed=seed, seconds=time.perf_counter() - start)
    return out


def aggregate(rows: list[dict]) -> dict:
    from otmix.metrics import mean_std

    def scores(rs: list[dict], pick) -> dict:
        return {k: mean_std([pick(r)[k] for r in rs]) for k in METRICS}

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["aligned"], r["method"]), []).append(r)
    summary = {}
    for (name, aligned, method), rs in groups.items():
        key = f"{name}|{'aligned' if aligned else 'unaligned'}|{method}"
        entry = scores(rs, lambda r: r["overall"])
        entry["per_view"] = [scores(rs, lambda r, m=m: r["per_view"][m]) for m in range(len(rs[0]["per_view"]))]
        if "by_readout" in rs[0]:
            entry["by_readout"] = {ro: scores(rs, lambda r, ro=ro: r["by_readout"][ro]) for ro in rs[0]["by_readout"]}
        if "best_view" in rs[0]:
            entry["best_view"] = scores(rs, lambda r: r["best_view"])
        entry["seconds"] = mean_std([r["seconds"] for r in rs])
        entry["n_seeds"] = len(rs)
        summary[key] = entry
    return summary


def fmt(block: dict) -> str:
    return f"{block['mean']:.3f} ± {block['std']:.3f}"


def markdown(summary: dict, datasets: list[str], settings: list[bool], methods: list[str]) -> str:
    lines = ["| data set | setting | method | ACC | purity | NMI | ARI | paper (ACC) | s/seed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in datasets:
        for aligned in settings:
            setting = "aligned" if aligned else "unaligned"
            for method in methods:
                entry = summary.get(f"{name}|{setting}|{method}")
                if entry is None:
                    continue
                paper = PAPER.get((name, aligned)) if method == "MWAE+OTM" else (
                    PAPER_WB.get((name, aligned)) if method == "MWAE+OTM(WB)" else None)
                label = method + (" (pooled per-view)" if method == "K-means per view" else "")
                lines.append(f"| {name} | {setting} | {label} | " + " | ".join(fmt(entry[k]) for k in METRICS)
                             + f" | {paper if paper is not None else '–'} | {entry['seconds']['mean']:.1f} |")
    return "\n".join(lines) + "\n"


def per_view_markdown(summary: dict, name: str, setting: str, methods: list[str]) -> str:
    lines = [f"| {name} ({setting}) | view | ACC | NMI |", "|---|---|---|---|"]
    for method in methods:
        entry = summary.get(f"{name}|{setting}|{method}")
        if entry is None:
            continue
        for m, pv in enumerate(entry["per_view"]):
            lines.append(f"| {method} | {m} | {fmt(pv['acc'])} | {fmt(pv['nmi'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["prokaryotic", "movies", "orl", "orl4"])
    parser.add_argument("--settings", nargs="+", default=["aligned", "unaligned"], choices=["aligned", "unaligned"])
    parser.add_argument("--methods", nargs="+", default=[*OTM_METHODS, *BASELINES])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)))
    parser.add_argument("--set", nargs="*", default=[], help="Overrides for the MWAE methods, key=value.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    unknown = set(args.methods) - set(OTM_METHODS) - set(BASELINES)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    bad = [item for item in args.set if "=" not in item]
    if bad:
        parser.error(f"--set takes key=value items, got {bad}")
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {k: _parse_value(v) for k, v in overrides.items()}
    settings = [s == "aligned" for s in args.settings]
    jobs = [(name, aligned, method, seed, overrides)
            for name in args.datasets for aligned in settings for method in args.methods
            for seed in range(args.seeds) if not (method == "K-means concat" and not aligned)]
    start = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, row in enumerate(pool.map(run_one, jobs), 1):
            rows.append(row)
            print(f"[{i}/{len(jobs)}] {row['dataset']} {'aligned' if row['aligned'] else 'unaligned'} "
                  f"{row['method']} seed {row['seed']}: ACC {row['overall']['acc']:.3f} NMI "
                  f"{row['overall']['nmi']:.3f} ({row['seconds']:.1f} s)", file=sys.stderr, flush=True)
    summary = aggregate(rows)
    table = markdown(summary, args.datasets, settings, args.methods)
    print(table)
    for name in args.datasets:
        for setting in args.settings:
            print(per_view_markdown(summary, name, setting, args.methods))
    payload = {"datasets": args.datasets, "seeds": list(range(args.seeds)), "overrides": overrides,
               "summary": summary, "rows": rows, "seconds": time.perf_counter() - start}
    from otmix.atomic import write_json_atomic, write_text_atomic

    if args.json is not None:
        write_json_atomic(args.json, payload)
    if args.markdown is not None:
        write_text_atomic(args.markdown, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
