"""Training-size FGW barycenter: this checkout against a reference commit, interleaved in one process.

The trainer's call (``otmix.train.batch_plans``): M = 3 batches of N = 256 codes, d = 32,
``n_points=256, alpha=0.5, init="random", max_outer=5, tol=1e-5, n_jobs=1``, exact method,
dense plans; with and without links (10 % of the entities linked in every view).

The reference is ``src/otmix/ot`` of ``--reference`` (default: the commit before this work),
extracted by ``git archive`` into a temporary folder and imported as the top-level package
``otmix_reference_ot`` (every import inside ``otmix.ot`` is relative), so both versions run
in the same process, alternately, call by call: a busy machine slows both alike and the
ratio of medians is measured side by side. Every call is timed in wall seconds and in CPU
seconds of the calling thread (``time.thread_time``: less sensitive to other processes on a
shared machine; the solver runs in one thread with ``n_jobs=1``). Both versions must return
the same plans (checked: the largest plan difference is reported).

Instances: ``clustered`` (7 Gaussian clusters shared by the three sets, as in
``fgw_vs_pot.py``) and ``rotated`` (one set of entities seen through three mildly rotated,
noisy views, rows shuffled per view: the links are the true twins), each batch drawn afresh
per repeat from a seeded generator.

    python benchmarks/barycenter_small.py --repeats 40 --json benchmarks/barycenter_small.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from otmix.atomic import write_json_atomic
from otmix.ot import fgw_barycenter

REFERENCE = "58befed"  # HEAD before issue 17's solver work
N, M, D = 256, 3, 32
SETTINGS = {"n_points": N, "alpha": 0.5, "init": "random", "max_outer": 5, "tol": 1e-5, "n_jobs": 1}


def load_reference(commit: str, root: Path):
    """``otmix.ot`` of ``commit`` as the package ``otmix_reference_ot`` (extracted under ``root``)."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", commit, "src/otmix/ot"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    (root / "src" / "otmix" / "ot").rename(root / "otmix_reference_ot")
    sys.path.insert(0, str(root))
    return importlib.import_module("otmix_reference_ot")


def rotation(rng: np.random.Generator, dim: int, angle: float) -> np.ndarray:
    """A rotation by about ``angle`` radians: the exponential of a small random skew matrix."""
    from scipy.linalg import expm

    S = rng.normal(size=(dim, dim))
    S = (S - S.T) / 2.0
    return expm(angle * S / np.linalg.norm(S, 2))


def instance(kind: str, rng: np.random.Generator, links: bool):
    """Three batches of N codes and (optionally) a link table of 10 % of the entities."""
    if kind == "clustered":
        centres = rng.normal(scale=4.0, size=(7, D))
        Zs = [centres[rng.integers(7, size=N)] + rng.normal(size=(N, D)) for _ in range(M)]
        perms = [np.arange(N)] * M  # no shared entities: links pair arbitrary rows
    else:
        centres = rng.normal(scale=4.0, size=(7, D))
        X = centres[rng.integers(7, size=N)] + rng.normal(size=(N, D))
        perms = [rng.permutation(N) for _ in range(M)]
        Zs = [(X @ rotation(rng, D, 0.3) + 0.3 * rng.normal(size=(N, D)))[np.argsort(p)] for p in perms]
    if not links:
        return Zs, None
    entities = rng.choice(N, size=N // 10, replace=False)
    return Zs, np.stack([np.argsort(np.argsort(p))[entities] if kind == "rotated" else
                         rng.permutation(N)[: entities.size] for p in perms], axis=1)


def summary(xs: list[float], scale: float = 1e3) -> dict[str, float]:
    a = np.asarray(xs) * scale
    return {"min": float(a.min()), "median": float(np.median(a)), "max": float(a.max())}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def plan_key(plans) -> list[list[int]]:
    """Each plan as its permutation (the column of every row's mass), or its rounded entries."""
    out = []
    for T in plans:
        T = np.asarray(T)
        cols = T.argmax(axis=1)
        out.append(cols.tolist() if np.count_nonzero(T) == T.shape[0] else np.round(T, 12).ravel().tolist())
    return out


def worker(version: str, kind: str, with_links: bool, seeds: list[int], reference: str | None) -> None:
    """Time one version on the instances of ``seeds`` (in this process), print JSON."""
    if version == "reference":
        tmp = tempfile.mkdtemp(prefix="otmix_reference_")
        fn = load_reference(reference, Path(tmp)).fgw_barycenter
    else:
        fn = fgw_barycenter
    Zs, links = instance(kind, np.random.default_rng(99), with_links)
    fn(Zs, links=links, random_state=0, **SETTINGS)  # compile / warm every kernel first
    rows = []
    instances = [instance(kind, np.random.default_rng(seed), with_links) for seed in seeds]  # no BLAS in between
    time.sleep(0.5)  # BLAS threads woken by the set-up go back to sleep before the first timed call
    for seed, (Zs, links) in zip(seeds, instances):
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        res = fn(Zs, links=links, random_state=seed, **SETTINGS)
        rows.append({"wall": time.perf_counter() - t_wall, "cpu": time.process_time() - t_cpu,
                     "outer": res.n_outer, "value": res.value, "plans": plan_key(res.plans)})
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="calls per version and setting")
    parser.add_argument("--rounds", type=int, default=4, help="alternating worker processes per version")
    parser.add_argument("--reference", default=REFERENCE, help="git commit whose otmix.ot is the reference")
    parser.add_argument("--no-reference", action="store_true", help="time this checkout only")
    parser.add_argument("--blas-threads", default=None, help="OPENBLAS_NUM_THREADS for the workers (default: unset)")
    parser.add_argument("--kinds", nargs="+", default=["clustered", "rotated"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", nargs=4, metavar=("VERSION", "KIND", "LINKS", "SEEDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        version, kind, with_links, seeds = args.worker
        worker(version, kind, with_links == "1", [int(x) for x in seeds.split(",")], args.reference)
        return

    versions = ["new"] if args.no_reference else ["new", "reference"]
    env = dict(os.environ)
    if args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = args.blas_threads
    rows = []
    header = ("| instance | links | version | wall ms min / median / max | CPU ms min / median / max | outer | "
              "reference / new (wall medians) | (CPU medians) | same plans | value new / reference |")
    print(f"load before: {load()}; OPENBLAS_NUM_THREADS={args.blas_threads or 'unset'}")
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    per_round = -(-args.repeats // args.rounds)
    for kind in args.kinds:
        for with_links in (False, True):
            results: dict[str, list[dict]] = {v: [] for v in versions}
            loads = [load()]
            for r in range(args.rounds):
                seeds = list(range(1 + r * per_round, 1 + (r + 1) * per_round))
                for v in (versions if r % 2 == 0 else versions[::-1]):  # alternate which goes first
                    out = subprocess.run([sys.executable, __file__, "--reference", args.reference, "--worker", v,
                                          kind, "1" if with_links else "0", ",".join(map(str, seeds))],
                                         check=True, capture_output=True, text=True, env=env).stdout
                    results[v].extend(json.loads(out))
                loads.append(load())
            row = {"instance": kind, "links": with_links, "calls": len(results["new"]), "loads": loads}
            for v in versions:
                res = results[v]
                row[v] = {"wall_ms": summary([x["wall"] for x in res]), "cpu_ms": summary([x["cpu"] for x in res]),
                          "outer_median": float(np.median([x["outer"] for x in res]))}
            if "reference" in versions:
                new, ref = results["new"], results["reference"]
                row["ratio_wall"] = row["reference"]["wall_ms"]["median"] / row["new"]["wall_ms"]["median"]
                row["ratio_cpu"] = row["reference"]["cpu_ms"]["median"] / row["new"]["cpu_ms"]["median"]
                row["same_plans"] = sum(a["plans"] == b["plans"] for a, b in zip(new, ref))
                row["value_ratio"] = summary([a["value"] / b["value"] for a, b in zip(new, ref)], 1.0)
            rows.append(row)
            for v in versions:
                w, c = row[v]["wall_ms"], row[v]["cpu_ms"]
                if v == "new" and "reference" in versions:
                    vr = row["value_ratio"]
                    extra = (f" {row['ratio_wall']:.2f}x | {row['ratio_cpu']:.2f}x | "
                             f"{row['same_plans']}/{row['calls']} | "
                             f"{vr['min']:.12f}–{vr['max']:.12f} |")
                else:
                    extra = " | | | |"
                print(f"| {kind} | {'10 %' if with_links else 'none'} | {v} | "
                      f"{w['min']:.1f} / {w['median']:.1f} / {w['max']:.1f} | "
                      f"{c['min']:.1f} / {c['median']:.1f} / {c['max']:.1f} | {row[v]['outer_median']:.0f} |{extra}",
                      flush=True)
            print(f"loads during this setting: {'; '.join(loads)}", flush=True)
    print(f"load after: {load()}")
    if args.json:
        write_json_atomic(Path(args.json), {
            "benchmark": "training-size fgw_barycenter", "N": N, "M": M, "d": D, "settings": SETTINGS,
            "reference": None if args.no_reference else args.reference, "openblas_num_threads": args.blas_threads,
            "rows": rows,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "numpy": np.__version__},
        })


if __name__ == "__main__":
    main()
