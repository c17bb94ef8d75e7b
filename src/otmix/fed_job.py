"""One federated clustering job: a data set, several seeds, scored like ``otmix cluster``.

The views are permuted independently per seed (unless aligned), handed to one agent
each, and the server's labels (per agent, in the agent's own row order) are scored
here with the labels the agents never see. ``runner`` runs one federated fit (a Flower
simulation, a loopback deployment, or the Flower-free protocol) and returns the
server's result dict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cluster_job import aggregate_scores, dataset_config, score_views
from .data.dataset import Dataset
from .data.unalign import unalign
from .metrics import mean_std

Runner = Callable[[list[np.ndarray], "FedConfig"], dict]  # noqa: F821 (FedConfig: otmix.federated.task)


def fed_config(data: Dataset, n_clusters: int, seed: int, overrides: dict[str, Any] | None = None):
    """The federated config of a data set: its clustering config (model and loss) plus the overrides."""
    from .federated.task import FedConfig

    values = {**dataset_config(data.name), **(overrides or {}), "n_clusters": int(n_clusters),
              "random_state": int(seed)}
    if values.get("readout") in ("auto", "matched"):  # the server runs the fused read-outs only
        values["readout"] = "fused"
    config = FedConfig.from_dict(values)
    config.validate()
    return config


def run_federated(
    data: Dataset,
    runner: Runner,
    seeds: Sequence[int] = (0,),
    aligned: bool = False,
    n_clusters: int | None = None,
    overrides: dict[str, Any] | None = None,
    mode: str = "simulation",
    on_seed: Callable[[int, dict, dict], None] | None = None,
) -> dict[str, Any]:
    """Run ``runner`` once per seed; return the ``otmix cluster`` payload plus a ``federated`` block.

    ``federated``: mode, rounds, local_epochs, steps_per_round, seconds per round (mean ± std
    over all rounds of all seeds), bytes per round per agent (server → agent, agent → server),
    events (dropped or returning agents) and the first seed's round history.
    """
    n_clusters = n_clusters or data.n_clusters
    if n_clusters is None:
        raise ValueError(f"{data.name} has no labels; give the number of clusters")
    start = time.perf_counter()
    results, scores, seconds = [], [], []
    config = None
    for seed in seeds:
        Xs, ys = list(data.Xs), list(data.ys) if data.ys is not None else None
        if not aligned:
            Xs, ys, _ = unalign(Xs, ys, random_state=int(seed))
        config = fed_config(data, n_clusters, int(seed), overrides)
        t = time.perf_counter()
        result = runner(Xs, config)
        seconds.append(time.perf_counter() - t)
        results.append(result)
        if ys is not None:
            kept = [int(m) for m in result["in_readout"]]
            labels = [np.asarray(result["labels"][str(m)]) for m in kept]
            overall, per_view = score_views([ys[m] for m in kept], labels)
            by_readout = {name: score_views([ys[m] for m in kept],
                                            [np.asarray(block[str(m)]) for m in kept])[0]
                          for name, block in result["labels_by_readout"].items()}
            scores.append((overall, dict(zip(kept, per_view)), by_readout))
            if on_seed is not None:
                on_seed(int(seed), overall, result)
        elif on_seed is not None:
            on_seed(int(seed), {}, result)
    rounds = [entry for result in results for entry in result["history"]]
    per_agent = {}
    for m in range(data.n_views):
        sent = [e["bytes_sent"][str(m)] for e in rounds if str(m) in e["bytes_sent"]]
        got = [e["bytes_received"][str(m)] for e in rounds if str(m) in e["bytes_received"]]
        per_agent[str(m)] = {"sent": mean_std(sent), "received": mean_std(got)}
    payload: dict[str, Any] = {
        "dataset": data.name, "aligned": bool(aligned), "n_views": data.n_views, "seeds": [int(s) for s in seeds],
        "config": config.to_dict() if config else {}, "data": data.summary(),
        "metrics": {}, "per_view": [], "metrics_by_readout": {},
        "seconds_per_seed": mean_std(seconds),
        "epochs_run": [config.rounds * config.local_epochs] * len(results) if config else [],
        "federated": {
            "mode": mode, "rounds": config.rounds if config else 0,
            "local_epochs": config.local_epochs if config else 0,
            "steps_per_round": results[0]["steps_per_round"] if results else 0,
            "seconds_per_round": mean_std([e["seconds"] for e in rounds]),
            "bytes_per_round_per_agent": per_agent,
            "events": [event for result in results for event in result["events"]],
            "history": results[0]["history"] if results else [],
        },
    }
    if scores:
        payload.update(aggregate_scores(scores, data.view_names))
    payload["seconds"] = time.perf_counter() - start
    return payload
