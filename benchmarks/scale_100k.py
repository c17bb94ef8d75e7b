"""fgw_barycenter(method="fast") at scale: M code sets of N = 100,000 codes (d = 32), seconds and peak memory.

Every run is a fresh child process (so its peak resident set, ``ru_maxrss``, is that run's alone,
codes included): the codes of ``fgw_vs_pot.py`` (7 shared Gaussian clusters), a seeded random
subset of the pooled codes as the initial barycenter, sparse plans, optionally links between a
share of the entities (random rows). The child reports the solve's wall seconds, its peak RSS,
the RSS before the solve, the objective (beyond 32,768 points a row-sample estimate: the mean of
8 disjoint samples of 512 rows, with its standard error) and the method's time split. The parent
prints a markdown table (min / median / max over the repeats, load average) and writes JSON
atomically next to this file.

    python benchmarks/scale_100k.py --n 100000 --repeats 3 --links 0 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALPHA = 0.5


def rss_mb() -> float:
    """Current resident set of this process (MB), from /proc."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child(n: int, m: int, dim: int, structure: str, links_share: float, seed: int) -> dict:
    import scipy.sparse as sp

    from otmix.ot import fgw_barycenter

    rng = np.random.default_rng(seed + n)
    centres = rng.normal(scale=4.0, size=(7, dim))
    Zs = [centres[rng.integers(7, size=n)] + rng.normal(size=(n, dim)) for _ in range(m)]
    Z0 = np.concatenate(Zs)[np.random.default_rng(seed).choice(m * n, size=n, replace=False)]
    links = None
    if links_share > 0:
        link_rng = np.random.default_rng(500 + seed)
        links = np.stack([link_rng.permutation(n)[: int(round(links_share * n))] for _ in Zs], axis=1)
    # compile the kernels on a small problem first (the first call of a fresh process)
    fgw_barycenter([np.random.default_rng(0).normal(size=(64, dim))] * m, method="quantized", random_state=0,
                   structure=structure)
    before = rss_mb()
    t0 = time.perf_counter()
    res = fgw_barycenter(Zs, alpha=ALPHA, structure=structure, init=Z0, method="fast", random_state=seed,
                         sparse_plans=True, links=links)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KB
    feasible = all(sp.csr_array(T).nnz == n and np.allclose(np.asarray(T.sum(axis=0)).ravel(), 1.0 / n)
                   and np.allclose(np.asarray(T.sum(axis=1)).ravel(), 1.0 / n) for T in res.plans)
    linked_kept = None
    if links is not None:
        k = np.arange(links.shape[0])
        linked_kept = all(bool(np.all(sp.csr_array(T)[k, links[:, j]] > 0)) for j, T in enumerate(res.plans))
    return {
        "s": seconds, "peak_rss_mb": peak, "rss_before_solve_mb": before, "value": float(res.value),
        "value_stderr": res.log.get("value_stderr"), "value_estimated": bool(res.log.get("value_estimated", False)),
        "n_outer": res.n_outer, "outer_total": res.log.get("outer_total"), "start": res.log.get("start"),
        "starts": res.log.get("starts"), "start_values": res.log.get("start_values"),
        "n_blocks": res.log.get("n_blocks"), "n_anchors": res.log.get("n_anchors"),
        "split": {k: v for k, v in res.log.items() if k.startswith("time_")},
        "feasible_permutations": bool(feasible), "links_kept": linked_kept, "load": os.getloadavg(),
    }


def summary(xs: list[float]) -> str:
    return f"{np.min(xs):.1f} / {np.median(xs):.1f} / {np.max(xs):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=3)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--structures", nargs="+", default=["euclidean"])
    parser.add_argument("--links", type=float, nargs="+", default=[0.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(HERE / "scale_100k.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.n, args.m, args.dim, args.structures[0], args.links[0], args.seed)))
        return

    from otmix.atomic import write_json_atomic

    rows = []
    header = ("| N | M | structure | links | s (min / median / max) | peak RSS MB (min / median / max) | "
              "RSS before solve MB | objective ± stderr | outer (kept / all) | kept start | feasible | load |")
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    for structure in args.structures:
        for share in args.links:
            runs = []
            for r in range(args.repeats):
                cmd = [sys.executable, __file__, "--child", "--n", str(args.n), "--m", str(args.m), "--dim",
                       str(args.dim), "--structures", structure, "--links", str(share), "--seed", str(args.seed + r)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            row = {"N": args.n, "M": args.m, "dim": args.dim, "structure": structure, "links": share, "runs": runs,
                   "s_median": float(np.median([x["s"] for x in runs])),
                   "peak_rss_mb_max": float(np.max([x["peak_rss_mb"] for x in runs])), "load": os.getloadavg()}
            rows.append(row)
            last = runs[len(runs) // 2]
            values = "; ".join(f"{x['value']:.4f}" + ("" if x["value_stderr"] is None else f" ± {x['value_stderr']:.4f}")
                               for x in runs)
            ok = all(x["feasible_permutations"] and x["links_kept"] in (None, True) for x in runs)
            loads = " ".join(f"{x['load'][0]:.1f}" for x in runs)
            before = np.median([x["rss_before_solve_mb"] for x in runs])
            print(f"| {args.n} | {args.m} | {structure} | {share:g} | {summary([x['s'] for x in runs])} | "
                  f"{summary([x['peak_rss_mb'] for x in runs])} | {before:.0f} | {values} | "
                  f"{last['n_outer']} / {last['outer_total']} | {last['start']} | {ok} | {loads} |", flush=True)
            write_json_atomic(Path(args.json), {
                "benchmark": "fast path at scale", "alpha": ALPHA, "rows": rows,
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "numpy": np.__version__, "gpu": None}})


if __name__ == "__main__":
    main()
