"""How the clustering trainer scales with rows: seconds per epoch and peak memory on synthetic views.

    python benchmarks/cluster_scale.py --rows 10000 100000 --epochs 2 --json out.json

Each size runs in a fresh process (so the peak resident memory is that run's own). Two
unaligned views of the same clusters through different random linear maps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {src!r})
from otmix import OTMClustering
from otmix.metrics import acc

rows, epochs, seed = {rows}, {epochs}, 0
rng = np.random.default_rng(seed)
centres = rng.normal(size=(8, 4)) * 4.0
Xs, ys = [], []
for width in (20, 10):
    y = rng.integers(0, 8, size=rows)
    X = (centres[y] + rng.normal(size=(rows, 4))) @ rng.normal(size=(4, width)) + 0.1 * rng.normal(size=(rows, width))
    Xs.append((X - X.mean(0)) / X.std(0)); ys.append(y)
start = time.perf_counter()
est = OTMClustering(n_clusters=8, epochs=epochs, patience=None, random_state=seed).fit(Xs)
total = time.perf_counter() - start
train = sum(est.history_["seconds"])
print(json.dumps({{"rows": rows, "epochs": epochs, "seconds_per_epoch": train / epochs,
                  "readout_seconds": total - train, "total_seconds": total,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "acc_view0": acc(ys[0], est.labels_[0]), "acc_view1": acc(ys[1], est.labels_[1])}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    src = str(Path(__file__).resolve().parents[1] / "src")
    results = []
    for rows in args.rows:
        code = CHILD.format(src=src, rows=rows, epochs=args.epochs)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['rows']:>7} rows/view: {r['seconds_per_epoch']:.1f} s/epoch, read-out {r['readout_seconds']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, ACC per view {r['acc_view0']:.3f} / {r['acc_view1']:.3f}",
              flush=True)
    if args.json is not None:
        sys.path.insert(0, src)
        from otmix.atomic import write_json_atomic

        write_json_atomic(args.json, {"results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
