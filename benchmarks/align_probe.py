"""How well do the solvers align real views, with 0-20 % links and without? (issue 13)

For every data set (digits2, orl, orl4, prokaryotic, movies) and seed, every view is
permuted on its own (``otmix.data.unalign``) and encoded by its own PCA (32 dimensions,
centred, unit RMS norm: the codes an untrained linear encoder would give). A seeded
share of the entities stays linked (``--fractions``). For every view pair the plans of

- ``gw-align`` (no links): ``align_views`` (pure-GW restarts, Procrustes + FGW rounds);
- ``assign-<cost>`` (links): one exact assignment (``fgw`` at alpha = 1) on the link cost
  ``relative``, ``mapped`` or ``both`` (``otmix.ot.link_cost``), the links fixed;
- ``align`` (links): ``align_views`` with the links (link cost first, then Procrustes + FGW);
- ``barycenter`` (links): one exact FGW barycenter of all views with the links and
  ``link_features`` (kind both), the pair's plan composed through it, N_B T_a^T T_b;

are scored, labels and the true permutation used only to score, over the unlinked rows of
the pair's first view: the class-consistent mass (share of plan mass joining rows of one
class), the twin rate (rows whose heaviest match is their true twin), and, for the
``align_views`` methods, the alignability score of the pair. Prints a table (mean ± std
over seeds of the pair means; the worst pair beside) and writes JSON (``--json``) after
every data set.

    python benchmarks/align_probe.py --seeds 3 --json benchmarks/align_probe.json \
        --markdown benchmarks/align_probe.md
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA

from otmix.atomic import check_writable, write_json_atomic, write_text_atomic
from otmix.data import load_dataset, unalign
from otmix.ot import align_views, fgw, fgw_barycenter, link_cost, link_features

DATASETS = ("digits2", "orl", "orl4", "prokaryotic", "movies")
COSTS = ("relative", "mapped", "both")


def pca_codes(X: np.ndarray, dim: int = 32, seed: int = 0) -> np.ndarray:
    k = min(dim, X.shape[1], X.shape[0] - 1)
    Z = PCA(k, random_state=seed).fit_transform(X)
    Z -= Z.mean(axis=0)
    Z /= np.sqrt(np.mean(np.sum(Z * Z, axis=1)))
    return np.hstack([Z, np.zeros((Z.shape[0], dim - k))]) if k < dim else Z


def setting(name: str, seed: int, fraction: float):
    """Unaligned PCA codes, labels, entity -> row maps and a link table of ``fraction`` of the entities."""
    ds = load_dataset(name)
    Xs, ys, perms = unalign(ds.Xs, ds.ys, random_state=seed)
    inverse = [np.argsort(p) for p in perms]  # entity e sits at row inverse[m][e] of view m
    codes = [pca_codes(X, seed=seed) for X in Xs]
    n = Xs[0].shape[0]
    rng = np.random.default_rng(1000 + seed)
    entities = rng.choice(n, size=int(round(fraction * n)), replace=False)
    links = np.stack([inv[entities] for inv in inverse], axis=1).astype(np.int64)
    return codes, [np.asarray(y) for y in ys], perms, inverse, links


def pair_scores(P: np.ndarray, a: int, b: int, ys, perms, inverse, links) -> dict[str, float]:
    """Class-consistent mass and twin rate of plan ``P`` (view a x view b) over a's unlinked rows."""
    n = P.shape[0]
    free = np.setdiff1d(np.arange(n), links[:, a]) if links.size else np.arange(n)
    Pf = P[free] / P[free].sum()
    mass = float((Pf * (ys[a][free][:, None] == ys[b][None, :])).sum())
    twins = inverse[b][perms[a][free]]  # the row of view b holding the entity of each free row of a
    twin = float(np.mean(P[free].argmax(axis=1) == twins))
    ca = np.bincount(ys[a], minlength=ys[a].max() + 1) / ys[a].size
    cb = np.bincount(ys[b], minlength=ca.size) / ys[b].size
    chance = float(ca[: cb.size] @ cb[: ca.size])
    return {"mass": mass, "twin": twin, "chance": chance}


def run_setting(name: str, seed: int, fraction: float, restarts: int) -> list[dict]:
    codes, ys, perms, inverse, links = setting(name, seed, fraction)
    rows = []
    pairs = list(itertools.combinations(range(len(codes)), 2))
    structs = [cdist(Z, Z) for Z in codes]

    def record(method, a, b, P, seconds, score=None):
        rows.append({"dataset": name, "seed": seed, "fraction": fraction, "method": method, "pair": [a, b],
                     **pair_scores(P, a, b, ys, perms, inverse, links), "alignability": score,
                     "seconds": seconds})

    for a, b in pairs:
        pair_links = links[:, [a, b]] if links.size else None
        t0 = time.perf_counter()
        res = align_views([codes[a], codes[b]], restarts=restarts, links=pair_links, random_state=seed)
        record("gw-align" if pair_links is None else "align", a, b, res.plans[1], time.perf_counter() - t0,
               res.alignability[0].score)
        if pair_links is None:
            continue
        for cost in COSTS:
            t0 = time.perf_counter()
            plan = fgw(link_cost(codes[a], codes[b], pair_links, kind=cost), structs[a], structs[b], alpha=1.0,
                       links=pair_links).plan
            record(f"assign-{cost}", a, b, plan, time.perf_counter() - t0)
    if links.size:
        t0 = time.perf_counter()
        bary = fgw_barycenter(codes, alpha=0.5, links=links, features=link_features(codes, links), random_state=seed,
                              max_outer=10)
        seconds = time.perf_counter() - t0
        for a, b in pairs:
            n_b = bary.plans[a].shape[0]
            record("barycenter", a, b, n_b * bary.plans[a].T @ bary.plans[b], seconds / len(pairs))
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["dataset"], r["fraction"], r["method"]) for r in rows},
                  key=lambda k: (DATASETS.index(k[0]) if k[0] in DATASETS else 99, k[1], k[2]))
    for name, fraction, method in keys:
        sel = [r for r in rows if (r["dataset"], r["fraction"], r["method"]) == (name, fraction, method)]
        seeds = sorted({r["seed"] for r in sel})
        per_seed = {s: [r for r in sel if r["seed"] == s] for s in seeds}

        def stat(field, reduce=np.mean, sel=sel, per_seed=per_seed):
            values = [reduce([r[field] for r in per_seed[s]]) for s in per_seed]
            return float(np.mean(values)), float(np.std(values))

        pairs = sorted({tuple(r["pair"]) for r in sel})
        worst = min(np.mean([r["mass"] for r in sel if tuple(r["pair"]) == p]) for p in pairs)
        score = [r["alignability"] for r in sel if r["alignability"] is not None]
        out.append({"dataset": name, "fraction": fraction, "method": method, "pairs": len(pairs),
                    "mass": stat("mass"), "worst_pair_mass": float(worst), "twin": stat("twin"),
                    "chance": float(np.mean([r["chance"] for r in sel])),
                    "alignability": (float(np.mean(score)), float(np.min(score)), float(np.max(score)))
                    if score else None,
                    "seconds": stat("seconds", np.sum)})
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| data set | links | method | pairs | class mass | worst pair | chance | twin rate | "
             "alignability (mean, min-max) | s per seed |", "|" + "---|" * 10]
    for s in summary:
        al = "–" if s["alignability"] is None else \
            f"{s['alignability'][0]:.2f} ({s['alignability'][1]:.2f}-{s['alignability'][2]:.2f})"
        lines.append(f"| {s['dataset']} | {s['fraction']:.2f} | {s['method']} | {s['pairs']} | "
                     f"{s['mass'][0]:.3f} ± {s['mass'][1]:.3f} | {s['worst_pair_mass']:.3f} | {s['chance']:.3f} | "
                     f"{s['twin'][0]:.3f} ± {s['twin'][1]:.3f} | {al} | {s['seconds'][0]:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.0, 0.05, 0.1, 0.2])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    for out in (args.json, args.markdown):
        if out is not None:
            check_writable(out)
    rows: list[dict] = []
    started = time.perf_counter()
    for name in args.datasets:
        for fraction in args.fractions:
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                rows.extend(run_setting(name, seed, fraction, args.restarts))
                print(f"{name} links {fraction:.2f} seed {seed}: {time.perf_counter() - t0:.1f} s", flush=True)
        if args.json is not None:
            write_json_atomic(args.json, {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                                                      "cpus": __import__("os").cpu_count()},
                                          "seeds": args.seeds, "restarts": args.restarts, "rows": rows,
                                          "summary": summarise(rows),
                                          "seconds": time.perf_counter() - started})
    table = markdown(summarise(rows))
    print(table)
    if args.markdown is not None:
        write_text_atomic(args.markdown, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
