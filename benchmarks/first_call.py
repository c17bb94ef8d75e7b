"""First-call cost of the compiled kernels: a cold numba cache, a warm cache, a warm process.

    python benchmarks/first_call.py                      # N = 2048, 3 rounds
    python benchmarks/first_call.py --n 2048 --rounds 3 --json benchmarks/first_call.json

Each round runs three fresh interpreters on one barycenter call (``fgw_barycenter`` of three
sets of clustered codes, d = 32, ``method="fast"``, which at N > 1024 runs the quantized
method from several starts, and ``method="exact"``):

- **cold**: ``NUMBA_CACHE_DIR`` points at an empty folder, so every kernel compiles (what the
  very first call after an install pays when the package folder is not writable and no cache
  exists yet);
- **cached**: a new process with that same folder, now filled: the kernels load from the cache
  (every later program of a user);
- **warm**: the second call in the same process (nothing to compile or load).

Times are the barycenter call alone: POT, SciPy and scikit-learn, which the solvers import on
first use, are imported before the clock starts (a user's first call pays them too, a few
seconds on a busy 2-core machine). Prints a markdown table (min / median / max over rounds) and
writes JSON atomically. The load average is recorded: a busy machine inflates every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
import ot, scipy.sparse, sklearn.cluster  # the lazy imports of a first call: timed by import_time.py, not here
from otmix.ot import fgw_barycenter

n, method = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
centres = rng.normal(size=(7, 32)) * 3
Zs = [centres[rng.integers(7, size=n)] + rng.normal(size=(n, 32)) for _ in range(3)]
times = []
for _ in range(2):
    t0 = time.perf_counter()
    fgw_barycenter(Zs, method=method, random_state=0, sparse_plans=True)
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def run_child(n: int, method: str, cache_dir: str) -> list[float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), method], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="codes per set (default 2048)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["fast", "exact"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.json:
        from otmix.atomic import check_writable

        check_writable(Path(args.json))
    load_before = os.getloadavg()
    rows = []
    for method in args.methods:
        cold, cached, warm = [], [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="otmix-numba-") as cache:
                first = run_child(args.n, method, cache)
                second = run_child(args.n, method, cache)
            cold.append(first[0])
            cached.append(second[0])
            warm.append(second[1])
        rows.append({"method": method, "N": args.n, "cold_s": summary(cold), "cached_s": summary(cached),
                     "warm_s": summary(warm), "runs": {"cold": cold, "cached": cached, "warm": warm}})
    load_after = os.getloadavg()
    print(f"N = {args.n}, M = 3, d = 32; {args.rounds} rounds; {os.cpu_count()} CPUs; load average before "
          f"{[round(x, 2) for x in load_before]}, after {[round(x, 2) for x in load_after]}")
    print("| method | cold cache s (min / median / max) | cached s | warm process s | cold / warm |")
    print("|---|---|---|---|---|")
    for row in rows:
        cells = [" / ".join(f"{row[k][s]:.2f}" for s in ("min", "median", "max"))
                 for k in ("cold_s", "cached_s", "warm_s")]
        print(f"| {row['method']} | {cells[0]} | {cells[1]} | {cells[2]} | "
              f"{row['cold_s']['median'] / row['warm_s']['median']:.1f}x |")
    if args.json:
        from otmix.atomic import write_json_atomic

        write_json_atomic(Path(args.json), {"rows": rows, "cpus": os.cpu_count(), "load_before": load_before,
                                            "load_after": load_after})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
