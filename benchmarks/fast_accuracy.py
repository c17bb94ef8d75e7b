"""How close is fgw_barycenter(method="fast") to the exact path? Objective ratios on many instances.

For every instance the exact path and the fast path start from the same initial barycenter
(a seeded random subset of the pooled codes) and both objectives are evaluated by the same
function (``sparse_fgw_objective``: an exact float64 pair sum over the plans' non-zeros).
Instances (M code sets, d = 32, alpha = 0.5):

- ``bench``: the codes of ``fgw_vs_pot.py`` (7 shared Gaussian clusters, independent samples);
- ``fresh``: 7 shared clusters seen through a mild random rotation per set (the issue's instances);
- ``digits2``, ``orl4``, ``movies``: PCA-32 codes of every view of the real data set (centred,
  unit RMS norm), rows permuted per view; links are then true twins.

``--links 0.1`` links 10 % of the entities in every set (random rows for the synthetic sets).
Prints a table (ratio fast / exact, seconds of each, the start the fast path kept or its
fallback) and writes JSON; exact results are cached (``--cache``) since they take minutes at
N = 4096.

    python benchmarks/fast_accuracy.py --sizes 256 512 1024 2048 4096 --links 0 0.1 \\
        --json benchmarks/fast_accuracy.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from align_probe import pca_codes  # the same PCA-32 codes as the alignment benchmark (this folder)

from otmix.atomic import write_json_atomic
from otmix.ot import fgw_barycenter
from otmix.ot.quantized import sparse_fgw_objective

ALPHA = 0.5
REAL = ("digits2", "orl4", "movies")


def rotation(rng: np.random.Generator, dim: int, angle: float) -> np.ndarray:
    from scipy.linalg import expm

    S = rng.normal(size=(dim, dim))
    S = (S - S.T) / 2.0
    return expm(angle * S / np.linalg.norm(S, 2))


def instance(kind: str, n: int, seed: int, link_fraction: float):
    """Codes, the shared initial barycenter and (optionally) links."""
    inverse = None
    if kind == "bench":
        rng = np.random.default_rng(seed + n)
        centres = rng.normal(scale=4.0, size=(7, 32))
        Zs = [centres[rng.integers(7, size=n)] + rng.normal(size=(n, 32)) for _ in range(3)]
    elif kind == "fresh":
        rng = np.random.default_rng(1000 + seed + n)
        centres = rng.normal(scale=4.0, size=(7, 32))
        Zs = [(centres[rng.integers(7, size=n)] + rng.normal(size=(n, 32))) @ rotation(rng, 32, 0.2)
              for _ in range(3)]
    else:
        from otmix.data import load_dataset, unalign

        ds = load_dataset(kind)
        Xs, _, perms = unalign(ds.Xs, ds.ys, random_state=seed)
        inverse = [np.argsort(p) for p in perms]
        Zs = [pca_codes(X, seed=seed) for X in Xs]
    N = Zs[0].shape[0]
    Z0 = np.concatenate(Zs)[np.random.default_rng(seed).choice(len(Zs) * N, size=N, replace=False)]
    links = None
    if link_fraction > 0:
        rng = np.random.default_rng(500 + seed)
        k = int(round(link_fraction * N))
        if inverse is None:
            links = np.stack([rng.permutation(N)[:k] for _ in Zs], axis=1)
        else:
            entities = rng.choice(N, size=k, replace=False)
            links = np.stack([inv[entities] for inv in inverse], axis=1)
    return Zs, Z0, links


def value_of(res, Zs, structure: str) -> float:
    return float(np.mean([sparse_fgw_objective(res.Z, Zm, sp.csr_array(T), ALPHA, structure)
                          for T, Zm in zip(res.plans, Zs)]))


def run(Zs, Z0, links, structure: str, method: str, seed: int) -> dict:
    t0 = time.perf_counter()
    res = fgw_barycenter(Zs, alpha=ALPHA, structure=structure, init=Z0.copy(), method=method, random_state=seed,
                         links=links, sparse_plans=True)
    seconds = time.perf_counter() - t0
    return {"s": seconds, "value": value_of(res, Zs, structure), "outer": res.n_outer,
            "start": res.log.get("start"), "fallback": "fallback" in res.log,
            "start_values": res.log.get("start_values"), "starts": res.log.get("starts")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["bench", "fresh", *REAL])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096],
                        help="N for the synthetic kinds (the real data sets have their own)")
    parser.add_argument("--structures", nargs="+", default=["euclidean", "sqeuclidean"])
    parser.add_argument("--links", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None, help="folder for cached exact results")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    fgw_barycenter([np.random.default_rng(0).normal(size=(64, 32))] * 3, method="quantized", random_state=0)
    rows = []
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = "| instance | N | structure | links | fast / exact value | exact s | fast s | fast kept | load |"
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    for kind, structure, fraction in itertools.product(args.kinds, args.structures, args.links):
        for n in (args.sizes if kind in ("bench", "fresh") else [0]):
            Zs, Z0, links = instance(kind, n, args.seed, fraction)
            key = f"{kind}_{Zs[0].shape[0]}_{args.seed}_{structure}_{fraction}"
            cached = Path(args.cache) / f"{key}.json" if args.cache else None
            if cached is not None and cached.exists():
                exact = json.loads(cached.read_text())
            else:
                exact = run(Zs, Z0, links, structure, "exact", args.seed)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    write_json_atomic(cached, exact)
            fast = run(Zs, Z0, links, structure, "fast", args.seed)
            row = {"instance": kind, "N": Zs[0].shape[0], "M": len(Zs), "structure": structure, "links": fraction,
                   "exact": exact, "fast": fast, "ratio": fast["value"] / exact["value"],
                   "load": os.getloadavg()}
            rows.append(row)
            kept = "exact (fallback)" if fast["fallback"] else fast["start"]
            print(f"| {kind} | {row['N']} | {structure} | {fraction:g} | {row['ratio']:.4f} | {exact['s']:.2f} | "
                  f"{fast['s']:.2f} | {kept} | {row['load'][0]:.1f} |", flush=True)
            if args.json:
                write_json_atomic(Path(args.json), {
                    "benchmark": "fast vs exact objective", "alpha": ALPHA, "seed": args.seed, "rows": rows,
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "python": platform.python_version(), "numpy": np.__version__}})
    ratios = np.array([r["ratio"] for r in rows])
    print(f"fast / exact: min {ratios.min():.4f}, median {np.median(ratios):.4f}, max {ratios.max():.4f}; "
          f"{int(np.sum(ratios <= 1.01))} of {ratios.size} within 1 %")


if __name__ == "__main__":
    main()
