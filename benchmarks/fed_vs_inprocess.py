"""Federated OTM (Flower simulation, and a loopback deployment) vs the in-process trainer, same budget.

For every seed the views are permuted independently (unaligned), then clustered by

* ``in-process``: :class:`otmix.OTMClustering` with ``epochs = rounds × local_epochs`` and no
  early stopping (the federated run has none);
* ``protocol``: the federated protocol in one process, no Flower (:func:`otmix.federated.task.run_protocol`);
* ``simulation``: Flower's simulation runtime, one virtual SuperNode per modality;
* ``deployment``: real SuperLink + SuperNode processes on 127.0.0.1 (first seed only, fewer rounds:
  its scores are not comparable, its seconds per round and bytes are the point).

Prints a table and writes JSON. Labels are used only to score.

    python benchmarks/fed_vs_inprocess.py --dataset prokaryotic --seeds 5 --json benchmarks/fed_vs_inprocess.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from otmix.data import load_dataset
from otmix.data.unalign import unalign
from otmix.estimators import OTMClustering
from otmix.federated.deploy import run_loopback
from otmix.federated.server_app import ServerSettings
from otmix.federated.simulation import simulate
from otmix.federated.task import run_protocol
from otmix.jobs.cluster import METRICS, dataset_config, score_views
from otmix.jobs.federated import run_federated
from otmix.metrics import mean_std


def in_process(ds, seeds, rounds, local_epochs) -> dict:
    params = {**dataset_config(ds.name), "epochs": rounds * local_epochs, "patience": None}
    scores, seconds = [], []
    for seed in seeds:
        Xs, ys, _ = unalign(list(ds.Xs), list(ds.ys), random_state=seed)
        start = time.perf_counter()
        est = OTMClustering(n_clusters=ds.n_clusters, random_state=seed, **params).fit(Xs)
        seconds.append(time.perf_counter() - start)
        scores.append(score_views(ys, est.labels_)[0])
        print(f"in-process seed {seed}: ACC {scores[-1]['acc']:.3f} ({seconds[-1]:.1f} s)", flush=True)
    return {"metrics": {k: mean_std([s[k] for s in scores]) for k in METRICS},
            "seconds_per_seed": mean_std(seconds), "seconds_per_round": None}


def federated(ds, seeds, rounds, local_epochs, runner, mode) -> dict:
    def on_seed(seed, scores, result):
        print(f"{mode} seed {seed}: ACC {scores['acc']:.3f} ({result['seconds']:.1f} s)", flush=True)

    payload = run_federated(ds, runner, seeds=seeds, overrides={"rounds": rounds, "local_epochs": local_epochs},
                            mode=mode, on_seed=on_seed)
    fed = payload["federated"]
    history = fed["history"]
    return {"metrics": payload["metrics"], "seconds_per_seed": payload["seconds_per_seed"],
            "seconds_per_round": fed["seconds_per_round"],
            "seconds_mixing_per_round": mean_std([h["seconds_mixing"] for h in history]),
            "seconds_exchange_per_round": mean_std([h["seconds_exchange"] for h in history]),
            "bytes_per_round_per_agent": fed["bytes_per_round_per_agent"], "events": fed["events"],
            "rounds": rounds, "local_epochs": local_epochs, "steps_per_round": fed["steps_per_round"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="prokaryotic")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--local-epochs", type=int, default=3)
    parser.add_argument("--deploy-rounds", type=int, default=3, help="rounds of the loopback deployment (0: skip)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    ds = load_dataset(args.dataset)
    seeds = list(range(args.seeds))
    R, E = args.rounds, args.local_epochs
    rows = {"in-process": in_process(ds, seeds, R, E)}
    rows["protocol (no Flower)"] = federated(ds, seeds, R, E, run_protocol, "protocol")
    rows["simulation (Flower)"] = federated(
        ds, seeds, R, E, lambda Xs, c: simulate(Xs, ServerSettings(c, n_agents=len(Xs))), "simulation")
    if args.deploy_rounds > 0:
        with tempfile.TemporaryDirectory(prefix="otmix-bench-deploy-") as tmp:
            rows["deployment (loopback)"] = federated(
                ds, seeds[:1], args.deploy_rounds, E, lambda Xs, c: run_loopback(Xs, c, tmp), "deployment")

    print(f"\n{ds.name} (unaligned), {len(seeds)} seeds (deployment: seed 0, {args.deploy_rounds} rounds); "
          f"budget {R} rounds × {E} local epochs; mean ± std")
    header = f"{'method':24s} {'ACC':>15s} {'NMI':>15s} {'purity':>15s} {'ARI':>15s} {'s/seed':>9s} {'s/round':>9s}"
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        m = row["metrics"]
        cells = [f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k in ("acc", "nmi", "purity", "ari")]
        spr = row["seconds_per_round"]
        print(f"{name:24s} " + " ".join(f"{c:>15s}" for c in cells)
              + f" {row['seconds_per_seed']['mean']:9.1f} " + (f"{spr['mean']:9.2f}" if spr else f"{'-':>9s}"))
    base = rows["in-process"]["metrics"]["acc"]["mean"]
    sim = rows["simulation (Flower)"]["metrics"]["acc"]["mean"]
    print(f"\nsimulation ACC − in-process ACC = {sim - base:+.3f} (target: within ±0.03)")
    for name, row in rows.items():
        if "bytes_per_round_per_agent" in row:
            per = ", ".join(
                f"agent {m}: {b['sent']['mean'] / 1e3:.0f} kB down / {b['received']['mean'] / 1e3:.0f} kB up"
                for m, b in row["bytes_per_round_per_agent"].items())
            print(f"{name}: {per}; mixing {row['seconds_mixing_per_round']['mean']:.2f} s + exchange "
                  f"{row['seconds_exchange_per_round']['mean']:.2f} s per round")
    if args.json is not None:
        payload = {"dataset": ds.name, "seeds": seeds, "rounds": R, "local_epochs": E,
                   "deploy_rounds": args.deploy_rounds, "config": dataset_config(ds.name), "rows": rows,
                   "acc_difference_simulation_minus_in_process": sim - base}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
