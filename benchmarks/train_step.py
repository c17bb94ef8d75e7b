"""Training sizes: one batch barycenter, one training step, the digits2 default fit (milliseconds and seconds).

Three measurements, each repeated (min / median / max, with the load average):

1. **barycenter**: what the clustering trainer solves every step
   (:func:`otmix.train.batch_plans.batch_plans`, the trainer's settings: random init,
   ``max_outer=5``, tol 1e-5, ``n_jobs=1``, alpha 0.5, euclidean) on M = 3 batches of 256
   codes (d = 32, float32 tensors: 7 shared Gaussian clusters), without links and with the
   trainer's default link share (half the batch, 128 entities, linked in every view); BLAS
   and torch on one thread. Every repeat draws new codes (so no call repeats another).
2. **step**: one optimisation step of :func:`otmix.train.cluster.train_clustering` on
   digits2 (2 views, batches of 256, the default ``ClusterConfig``: encode, mix, GW
   clustering loss, backward, Adam), without links and with 10 % of the entities linked
   (the trainer's batches then hold half linked entities), on one thread and on torch's default threads.
3. **fit**: ``OTMClustering(n_clusters=10, random_state=0).fit`` on digits2 (the
   package's default configuration, as ``otmix demo`` runs it), without links and with
   10 % links (``--fit-repeats``, 0 skips it).

Wall seconds and the process's CPU seconds (all its threads: on a loaded machine the CPU time is
what the work costs, the wall time what this machine gave it). Prints markdown tables and writes
JSON atomically next to this file.

    python benchmarks/train_step.py --repeats 30 --fit-repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from otmix.atomic import write_json_atomic

HERE = Path(__file__).resolve().parent


def stats(xs: list[float]) -> dict:
    return {"min": float(np.min(xs)), "median": float(np.median(xs)), "max": float(np.max(xs)), "runs": list(xs)}


def fmt(s: dict, scale: float = 1.0, spec: str = ".1f") -> str:
    return f"{s['min'] * scale:{spec}} / {s['median'] * scale:{spec}} / {s['max'] * scale:{spec}}"


def barycenter_times(repeats: int, linked: bool, seed: int) -> dict:
    from otmix.train.batch_plans import batch_plans

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(7, 32))
    links = np.repeat(np.arange(128)[:, None], 3, axis=1) if linked else None
    times, cpu, loads = [], [], []
    for r in range(repeats + 2):  # two warm-up calls (compilation, caches)
        Zs = [torch.as_tensor(centres[rng.integers(7, size=256)] + rng.normal(size=(256, 32)), dtype=torch.float32)
              for _ in range(3)]
        t0, c0 = time.perf_counter(), time.process_time()
        plans = batch_plans(Zs, 0.5, 5, rng, n_jobs=1, structure="euclidean", links=links)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        assert all(T.shape == (256, 256) for T in plans)
        if r >= 2:
            times.append(dt)
            cpu.append(dc)
            loads.append(os.getloadavg()[0])
    return {**stats(times), "cpu": stats(cpu), "load": loads}


def digits2(linked: bool, seed: int = 0):
    from otmix.data import load_dataset, simulate_links, unalign
    from otmix.data.links import link_seed

    ds = load_dataset("digits2")
    Xs, ys, perms = unalign(ds.Xs, ds.ys, random_state=seed)
    links = simulate_links(perms, 0.1, random_state=link_seed(seed)) if linked else None
    return Xs, links


def step_times(repeats: int, linked: bool, seed: int) -> dict:
    from otmix.models.wae import MWAE
    from otmix.train.cluster import BatchSampler, ClusterConfig, step_losses

    Xs, links = digits2(linked, seed)
    config = ClusterConfig(n_clusters=10, random_state=seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    tensors = [torch.as_tensor(np.asarray(X), dtype=torch.float32) for X in Xs]
    model = MWAE([X.shape[1] for X in Xs], config.latent_dim, config.hidden_dim, encoder=config.encoder)
    model.init_from_data(tensors)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    sampler = BatchSampler([X.shape[0] for X in tensors], config.batch_size, rng, links, config.link_share)
    model.train()
    times, cpu, loads = [], [], []
    for r in range(repeats + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        rows, batch_links = sampler.draw()
        batches = [X[torch.as_tensor(i)] for X, i in zip(tensors, rows)]
        losses = step_losses(model, batches, config, rng, mixing=True, links=batch_links)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if r >= 2:
            times.append(dt)
            cpu.append(dc)
            loads.append(os.getloadavg()[0])
    return {**stats(times), "cpu": stats(cpu), "load": loads}


def fit_times(repeats: int, linked: bool, seed: int) -> dict:
    from otmix.estimators import OTMClustering

    Xs, links = digits2(linked, seed)
    times, cpu, loads = [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        OTMClustering(n_clusters=10, random_state=seed).fit(Xs, links=links)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        loads.append(os.getloadavg()[0])
    return {**stats(times), "cpu": stats(cpu), "load": loads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="barycenters and steps timed (after 2 warm-ups)")
    parser.add_argument("--fit-repeats", type=int, default=1, help="digits2 fits timed (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(HERE / "train_step.json"))
    args = parser.parse_args()

    out = {"benchmark": "training sizes", "repeats": args.repeats, "fit_repeats": args.fit_repeats,
           "load_before": os.getloadavg(), "rows": [],
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                       "numpy": np.__version__, "torch": torch.__version__, "gpu": None}}
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| what | links | unit | wall min / median / max | CPU (all threads) min / median / max | load (min–max) | "
          "target |")
    print("|---|---|---|---|---|---|---|")

    def record(what: str, linked: bool, unit: str, result: dict, scale: float, target: str) -> None:
        out["rows"].append({"what": what, "links": linked, "unit": unit, **result})
        load = f"{min(result['load']):.1f}–{max(result['load']):.1f}"
        print(f"| {what} | {'yes' if linked else 'no'} | {unit} | {fmt(result, scale)} | {fmt(result['cpu'], scale)} | "
              f"{load} | {target} |", flush=True)
        write_json_atomic(Path(args.json), out)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        for linked in (False, True):
            record("barycenter M=3 x 256, d=32, 5 outer (1 thread)", linked, "ms",
                   barycenter_times(args.repeats, linked, args.seed), 1e3, "<= 20 ms median")
        for linked in (False, True):  # the step on one thread too: under load, torch's spinning threads dominate
            record("training step, digits2, batch 256 (1 thread)", linked, "ms",
                   step_times(args.repeats, linked, args.seed), 1e3, "<= 40 ms median")
    torch.set_num_threads(threads)
    for linked in (False, True):
        record(f"training step, digits2, batch 256 ({threads} torch threads)", linked, "ms",
               step_times(args.repeats, linked, args.seed), 1e3, "<= 40 ms median")
    for linked in (False, True):
        if args.fit_repeats > 0:
            record("OTMClustering default fit, digits2", linked, "s", fit_times(args.fit_repeats, linked, args.seed),
                   1.0, "<= 20 s")


if __name__ == "__main__":
    main()
