"""How the clustering trainer scales with rows: seconds per epoch and peak memory on synthetic views.

    python benchmarks/cluster_scale.py --rows 10000 100000 --epochs 2 --json out.json

Each size runs in a fresh process (so the peak resident memory is that run's own). Two
unaligned views of the same clusters through different random linear maps. Without
``--links`` the two views hold different samples of the clusters (the original benchmark):
they are not found alignable, so training does not mix (one reconstruction step per batch).
With ``--links F`` both views show the same entities (rows permuted independently) and a
share F of them is linked, so every step mixes through a 256-point FGW barycenter.

    python benchmarks/cluster_scale.py --rows 100000 1000000 --epochs 1 --links 0.01 --json out.json
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {src!r})
from otmix import OTMClustering
from otmix.metrics import acc

rows, epochs, seed, link_share = {rows}, {epochs}, 0, {links}
rng = np.random.default_rng(seed)
centres = rng.normal(size=(8, 4)) * 4.0
Xs, ys, perms = [], [], []
shared = rng.integers(0, 8, size=rows) if link_share else None
latent = centres[shared] + rng.normal(size=(rows, 4)) if link_share else None
for width in (20, 10):
    if link_share:  # the same entities, rows permuted on their own
        perm = rng.permutation(rows)
        y, Z = shared[perm], latent[perm]
        perms.append(perm)
    else:
        y = rng.integers(0, 8, size=rows)
        Z = centres[y] + rng.normal(size=(rows, 4))
    X = Z @ rng.normal(size=(4, width)) + 0.1 * rng.normal(size=(rows, width))
    Xs.append((X - X.mean(0)) / X.std(0)); ys.append(y)
links = None
if link_share:
    entities = rng.choice(rows, size=int(link_share * rows), replace=False)
    links = np.stack([np.argsort(p)[entities] for p in perms], axis=1)
del latent
start = time.perf_counter()
est = OTMClustering(n_clusters=8, epochs=epochs, patience=None, random_state=seed).fit(Xs, links=links)
total = time.perf_counter() - start
train = sum(est.history_["seconds"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the fit's, before the baseline
from otmix.jobs.cluster import reference_labels  # K-means (n_init 10, the same seed) on each view alone
alone = reference_labels(Xs, 8, seed)
print(json.dumps({{"rows": rows, "epochs": epochs, "links": 0 if links is None else len(links),
                  "mixing": est.training_["mixing"], "readout": est.readout_,
                  "steps_per_epoch": len(Xs[0]) // est.batch_size, "seconds_per_epoch": train / epochs,
                  "readout_seconds": total - train, "total_seconds": total,
                  "peak_rss_mb": peak,
                  "acc_view0": acc(ys[0], est.labels_[0]), "acc_view1": acc(ys[1], est.labels_[1]),
                  "kmeans_acc_view0": acc(ys[0], alone[0]), "kmeans_acc_view1": acc(ys[1], alone[1])}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--links", type=float, default=0.0, help="share of linked entities (0: the original views)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    # SIGTERM ends this process through SystemExit, so subprocess.run kills the running child on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    src = str(Path(__file__).resolve().parents[1] / "src")
    results = []
    for rows in args.rows:
        code = CHILD.format(src=src, rows=rows, epochs=args.epochs, links=args.links)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:  # the child's own error, not just its exit status
            sys.stderr.write(out.stderr)
            raise SystemExit(f"{rows} rows per view failed (exit {out.returncode})")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['rows']:>7} rows/view, {r['links']} links, mixing {r['mixing']}: {r['seconds_per_epoch']:.1f} s/epoch "
              f"({r['steps_per_epoch']} steps), read-out {r['readout_seconds']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, ACC per view {r['acc_view0']:.3f} / {r['acc_view1']:.3f} "
              f"(K-means alone {r['kmeans_acc_view0']:.3f} / {r['kmeans_acc_view1']:.3f})",
              flush=True)
    if args.json is not None:
        sys.path.insert(0, src)
        from otmix.atomic import write_json_atomic

        write_json_atomic(args.json, {"results": results, "links": args.links})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
