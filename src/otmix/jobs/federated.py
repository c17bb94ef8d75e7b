"""One federated clustering job: a data set, several seeds, scored like ``otmix cluster``.

The views are permuted independently per seed (unless aligned), handed to one agent
each, and the server's labels (per agent, in the agent's own row order) are scored
here with the labels the agents never see. ``runner`` runs one federated fit (a Flower
simulation, a loopback deployment, or the Flower-free protocol) and returns the
server's result dict.

Links have the semantics of ``otmix cluster --links`` (:mod:`otmix.jobs.cluster`): a
fraction keeps that share of the entities linked after the seed's permutation
(:func:`otmix.data.simulate_links` with :func:`otmix.data.link_seed`), a table names rows of
the data as given; the runner then gets ``links=`` (agent m holds column m). The payload
has the ``links``, ``alignability``, ``alignment`` and ``reference`` blocks of
:func:`otmix.jobs.cluster.run_clustering`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cluster import (
    aggregate_alignability,
    aggregate_alignment,
    aggregate_per_view,
    aggregate_scores,
    alignment_scores,
    check_links_spec,
    dataset_config,
    reference_labels,
    score_views,
)
from ..data.dataset import Dataset
from ..data.links import link_seed, simulate_links
from ..data.unalign import unalign
from ..metrics import mean_std

# runner(Xs, config) -> result, or runner(Xs, config, links=table) when the run has links
Runner = Callable[..., dict]


def fed_config(data: Dataset, n_clusters: int, seed: int, overrides: dict[str, Any] | None = None):
    """The federated config of a data set: its clustering config (model and loss) plus the overrides."""
    from ..federated.task import FedConfig

    values = {**dataset_config(data.name), **(overrides or {}), "n_clusters": int(n_clusters),
              "random_state": int(seed)}
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
    links: float | np.ndarray | None = None,
    rows_match: bool = False,
    reference: bool = True,
) -> dict[str, Any]:
    """Run ``runner`` once per seed; return the ``otmix cluster`` payload plus a ``federated`` block.

    ``links``, ``rows_match`` and ``reference`` as in :func:`otmix.jobs.cluster.run_seed`;
    the payload's ``links``, ``alignability`` (with ``alignability_per_seed``), ``alignment``,
    ``reference`` and ``readout_used`` blocks as :func:`otmix.jobs.cluster.run_clustering`'s
    (``alignment`` from the server's pair plans, over the agents in every seed's read-out).

    ``federated``: mode, rounds, local_epochs, steps_per_round, seconds per round (mean ± std
    over all rounds of all seeds), bytes per round per agent (server → agent, agent → server),
    events (dropped or returning agents) and the first seed's round history.
    """
    from ..federated.task import dense_plans

    n_clusters = n_clusters or data.n_clusters
    if n_clusters is None:
        raise ValueError(f"{data.name} has no labels; give the number of clusters")
    spec = check_links_spec(links, aligned, data.n_samples)  # before any run
    start = time.perf_counter()
    results, scores, seconds = [], [], []
    tables, alignments, references, alignabilities = [], [], [], []
    config = None
    for seed in seeds:
        Xs, ys = list(data.Xs), list(data.ys) if data.ys is not None else None
        perms = [np.arange(n) for n in data.n_samples]
        if not aligned:
            Xs, ys, perms = unalign(Xs, ys, random_state=int(seed))
        table = simulate_links(perms, spec, random_state=link_seed(int(seed))) if isinstance(spec, float) else spec
        run_links = table if table is not None and len(table) else None
        tables.append(table)
        config = fed_config(data, n_clusters, int(seed), overrides)
        t = time.perf_counter()
        result = runner(Xs, config) if run_links is None else runner(Xs, config, links=run_links)
        seconds.append(time.perf_counter() - t)
        results.append(result)
        alignabilities.append(result.get("alignability"))
        if ys is not None:
            kept = [int(m) for m in result["in_readout"]]
            labels = [np.asarray(result["labels"][str(m)]) for m in kept]
            overall, per_view = score_views([ys[m] for m in kept], labels)
            by_readout = {name: score_views([ys[m] for m in kept],
                                            [np.asarray(block[str(m)]) for m in kept])[0]
                          for name, block in result["labels_by_readout"].items()}
            scores.append((overall, dict(zip(kept, per_view)), by_readout))
            plans = dense_plans(result.get("pair_plans"))
            if plans is not None and kept == list(range(data.n_views)):
                twins_known = (rows_match or isinstance(spec, float)) and len(set(data.n_samples)) == 1
                alignments.append(alignment_scores(plans, ys, run_links, perms if twins_known else None))
            else:
                alignments.append(None)
            if reference:
                references.append(score_views(ys, reference_labels(Xs, int(n_clusters), int(seed)))[1])
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
        "links": None if spec is None else {
            "fraction": spec if isinstance(spec, float) else None, "n": int(len(tables[0])) if tables else 0,
            "source": "simulated" if isinstance(spec, float) else "given"},
        "alignability": None, "alignability_per_seed": None, "alignment": None, "reference": None,
        "readout_used": [r.get("readout_used") for r in results] if all(r.get("readout_used") for r in results)
        else None,
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
    if results and all(a is not None for a in alignabilities):
        payload["alignability"] = aggregate_alignability(alignabilities)
        payload["alignability_per_seed"] = alignabilities
    if scores:
        payload.update(aggregate_scores(scores, data.view_names))
        if alignments and all(a is not None for a in alignments):
            payload["alignment"] = aggregate_alignment(alignments)
        if references:
            payload["reference"] = {"per_view": aggregate_per_view([dict(enumerate(r)) for r in references],
                                                                   data.view_names)}
    payload["seconds"] = time.perf_counter() - start
    return payload
