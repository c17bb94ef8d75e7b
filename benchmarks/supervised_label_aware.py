"""Label-aware OTM for unaligned supervised fusion, with the mixer's share and the weaker modality (issue 16).

    python benchmarks/supervised_label_aware.py --datasets avmnist-hard avmnist --folds 5 --jobs 2 \
        --out benchmarks/supervised_label_aware

Arms (every fusion, the job's folds and seeds, :func:`otmix.jobs.supervised.run_supervised`):

* ``aligned_plain``   aligned rows, β = 0 (the plain fusion model);
* ``aligned_otm``     aligned rows, β = 1, full OTM (heads on Z_m and on the mixed codes);
* ``aligned_heads``   aligned rows, β = 1, heads-only ablation (β·L(h_m(Z_m)), no mixed term);
* ``unaligned_plain`` rows permuted per modality, β = 0, class-matched batches (the default batches
  of unaligned classification, so it sees the label-aware arms' batches);
* ``unaligned_la``    unaligned, β = 1, label-aware plans (codes carried and mixed within a class);
* ``unaligned_la_heads`` unaligned, β = 1, label-aware plans, no mixed term (the codes are still
  carried through the plans for the fusion: the mixer's share when unaligned);
* ``unaligned_nola``  unaligned, β = 1, plans without labels and random per-modality batches
  (the behaviour before label-aware plans);
* ``aligned_la``      aligned rows, β = 1, full OTM with label-aware plans (is the mixer's share
  limited by mixed codes that cross classes?).

The aligned arms share their batches, and so do the three class-matched unaligned arms. Every
finished (data set, fusion, group) is appended to ``<out>.jsonl`` (``--resume`` skips those), so an
interrupted run keeps what it measured; the end writes ``<out>.json`` and the markdown ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

FUSIONS = ("late", "tf", "lrtf", "mfm", "mi")
# group -> (overrides, arms of run_supervised, names given to those arms)
GROUPS = {
    "aligned": ({}, ("without_otm", "with_otm"), ("aligned_plain", "aligned_otm")),
    "aligned_heads": ({"mix_term": False}, ("with_otm",), ("aligned_heads",)),
    "unaligned_la": ({"unaligned": True, "label_aware": True}, ("without_otm", "with_otm"),
                     ("unaligned_plain", "unaligned_la")),
    "unaligned_la_heads": ({"unaligned": True, "label_aware": True, "mix_term": False}, ("with_otm",),
                           ("unaligned_la_heads",)),
    "unaligned_nola": ({"unaligned": True, "label_aware": False}, ("with_otm",), ("unaligned_nola",)),
    "aligned_la": ({"label_aware": True}, ("with_otm",), ("aligned_la",)),
}
COST = {"mi": 2.0, "tf": 1.3, "mfm": 1.3, "lrtf": 1.2, "late": 1.0}  # measured seconds per fold, relative


def run_one(job: tuple[str, str, str, int, int, int | None]) -> dict:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    from otmix.data.supervised import load_supervised
    from otmix.jobs.supervised import run_supervised

    dataset, fusion, group, folds, seed, epochs = job
    overrides, arms, names = GROUPS[group]
    overrides = {**overrides, **({"epochs": epochs} if epochs else {})}
    data = load_supervised(dataset, random_state=seed)
    payload = run_supervised(data, fusion, 1.0, folds, seed, overrides, arms=arms)
    out = {"dataset": dataset, "fusion": fusion, "group": group, "modalities": payload["modalities"],
           "config": payload["config"], "seconds": payload["seconds"], "arms": {}}
    for arm, name in zip(arms, names):
        block = payload[arm]
        out["arms"][name] = {"folds": block["folds"], "acc": block["acc"], "single_modality": block["single_modality"],
                             "single_folds": None, "noise": block["noise"], "best_epoch": block["best_epoch"],
                             "cross_class": block.get("cross_class"), "own_row": block.get("own_row"), "seconds_per_fold": block["seconds_per_fold"]}
    return out


def pm(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std():.4f}"


def tables(records: list[dict], datasets: list[str], fusions: list[str]) -> tuple[str, dict]:
    """Markdown tables and the target verdicts from the finished records."""
    by = {}
    for r in records:
        for name, block in r["arms"].items():
            by[(r["dataset"], r["fusion"], name)] = block
            by[(r["dataset"], "modalities")] = r["modalities"]
    lines, verdicts = [], {}
    arm_names = [n for g in GROUPS.values() for n in g[2]]
    for ds in datasets:
        present = [f for f in fusions if any((ds, f, a) in by for a in arm_names)]
        if not present:
            continue
        mods = by[(ds, "modalities")]
        cols = [a for a in arm_names if any((ds, f, a) in by for f in present)]
        n_folds = sorted({len(by[(ds, f, a)]["folds"]) for f in present for a in cols if (ds, f, a) in by})
        lines += [f"### {ds}: test ACC (model chosen on each fold's validation split), mean ± std over "
                  f"{'/'.join(map(str, n_folds))} folds", "",
                  "| fusion | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for f in present:
            lines.append(f"| {f} | " + " | ".join(pm(by[(ds, f, a)]["folds"]) if (ds, f, a) in by else "–"
                                                   for a in cols) + " |")
        lines += ["", f"### {ds}: differences (paired over folds: mean ± std of the per-fold difference)", "",
                  "| fusion | mixer share aligned (otm − heads) | mixer share unaligned (la − la_heads) | "
                  "unaligned_la − aligned_plain | unaligned_la − unaligned_nola | unaligned_la − unaligned_plain "
                  "| cross-class mass: unaligned_la / unaligned_nola / aligned_otm / aligned_la | aligned_la − aligned_plain "
                  "| aligned_la − aligned_heads |", "|---|---|---|---|---|---|---|---|---|"]
        v = {"within_0.5": [], "mixer_share": [], "mixer_share_unaligned": [], "mixer_share_aligned_la": [],
             "weak_aligned": [], "weak_unaligned": []}
        for f in present:
            def diff(a, b):
                if (ds, f, a) not in by or (ds, f, b) not in by:
                    return None
                return np.asarray(by[(ds, f, a)]["folds"]) - np.asarray(by[(ds, f, b)]["folds"])

            cells = []
            for a, b, key in (("aligned_otm", "aligned_heads", "mixer_share"),
                              ("unaligned_la", "unaligned_la_heads", "mixer_share_unaligned"),
                              ("unaligned_la", "aligned_plain", "within_0.5"),
                              ("unaligned_la", "unaligned_nola", None), ("unaligned_la", "unaligned_plain", None),
                              ("aligned_la", "aligned_heads", "mixer_share_aligned_la")):
                d = diff(a, b)
                if key != "mixer_share_aligned_la":  # its own column comes after the cross-class mass
                    cells.append("–" if d is None else f"{d.mean():+.4f} ± {d.std():.4f}")
                if d is None or key is None:
                    continue
                if key == "within_0.5":
                    v[key].append((f, bool(d.mean() >= -0.005), float(d.mean())))
                else:
                    conservative = max(np.std(by[(ds, f, a)]["folds"]), np.std(by[(ds, f, b)]["folds"]))
                    v[key].append((f, bool(d.mean() > d.std()), bool(d.mean() > conservative), float(d.mean()),
                                   float(d.std()), float(conservative)))
            cc = [by[(ds, f, a)].get("cross_class") if (ds, f, a) in by else None
                  for a in ("unaligned_la", "unaligned_nola", "aligned_otm", "aligned_la")]
            cells.append(" / ".join("–" if c is None else f"{c['mean']:.3f}" for c in cc))
            d = diff("aligned_la", "aligned_plain")
            cells.append("–" if d is None else f"{d.mean():+.4f} ± {d.std():.4f}")
            d = diff("aligned_la", "aligned_heads")
            cells.append("–" if d is None else f"{d.mean():+.4f} ± {d.std():.4f}")
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
        # the weaker modality: lower mean score alone in the plain aligned arm over the fusions
        plain = [by[(ds, f, "aligned_plain")]["single_modality"] for f in present if (ds, f, "aligned_plain") in by]
        weak = int(np.argmin(np.mean([[b["mean"] for b in s] for s in plain], axis=0))) if plain else 1
        lines += ["", f"### {ds}: one modality alone (fresh head on the frozen codes; weaker: {mods[weak]})", "",
                  "| fusion | arm | " + " | ".join(f"{m} alone" for m in mods) + " |", "|---|---|" + "---|" * len(mods)]
        for f in present:
            for a in cols:
                if (ds, f, a) in by:
                    lines.append(f"| {f} | {a} | " + " | ".join(f"{b['mean']:.4f} ± {b['std']:.4f}"
                                                               for b in by[(ds, f, a)]["single_modality"]) + " |")
            for a, b, key in (("aligned_otm", "aligned_plain", "weak_aligned"),
                              ("unaligned_la", "unaligned_plain", "weak_unaligned")):
                if (ds, f, a) in by and (ds, f, b) in by:
                    d = by[(ds, f, a)]["single_modality"][weak]["mean"] - by[(ds, f, b)]["single_modality"][weak]["mean"]
                    v[key].append((f, bool(d > 0), float(d)))
        ratios_note = "noise on one modality at ρ = 0.5 (σ² = 0.5·mean(X²)) on the test split"
        lines += ["", f"### {ds}: {ratios_note}", "",
                  "| fusion | arm | " + " | ".join(f"noise on {m}" for m in mods) + " |", "|---|---|" + "---|" * len(mods)]
        for f in present:
            for a in cols:
                if (ds, f, a) in by:
                    n = by[(ds, f, a)]["noise"]
                    lines.append(f"| {f} | {a} | " + " | ".join(f"{n['mean'][m][-1]:.4f} ± {n['std'][m][-1]:.4f}"
                                                               for m in range(len(mods))) + " |")
        v["weaker_modality"] = mods[weak]
        summary = {
            "unaligned_la within 0.5 points of aligned_plain": sum(x[1] for x in v["within_0.5"]),
            "mixer share (aligned) > paired fold-std": sum(x[1] for x in v["mixer_share"]),
            "mixer share (aligned) > larger arm fold-std": sum(x[2] for x in v["mixer_share"]),
            "mixer share (unaligned) > paired fold-std": sum(x[1] for x in v["mixer_share_unaligned"]),
            "mixer share (aligned, label-aware plans: aligned_la − aligned_heads) > paired fold-std":
                sum(x[1] for x in v["mixer_share_aligned_la"]),
            "mixer share (aligned, label-aware plans) > 0": sum(x[3] > 0 for x in v["mixer_share_aligned_la"]),
            f"{mods[weak]} alone better with OTM (aligned)": sum(x[1] for x in v["weak_aligned"]),
            f"{mods[weak]} alone better with OTM (unaligned, label-aware)": sum(x[1] for x in v["weak_unaligned"]),
        }
        lines += ["", f"### {ds}: target counts (of {len(present)} fusions)", ""]
        lines += [f"- {k}: {n}" for k, n in summary.items()]
        lines.append("")
        verdicts[ds] = {"details": v, "counts": summary}
    return "\n".join(lines) + "\n", verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["avmnist-hard", "avmnist"])
    parser.add_argument("--fusions", nargs="+", default=list(FUSIONS), choices=FUSIONS)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--groups-second", nargs="+", default=None, choices=list(GROUPS),
                        help="Groups for the data sets after the first (default: --groups).")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="Default: the job's (20).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/supervised_label_aware"))
    parser.add_argument("--resume", action="store_true", help="Skip what <out>.jsonl already holds.")
    parser.add_argument("--tables-only", action="store_true", help="Only rebuild the tables from <out>.jsonl.")
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir():
        parser.error(f"folder {args.out.parent} does not exist")
    start = time.perf_counter()
    log = args.out.with_suffix(".jsonl")
    records = []
    if (args.resume or args.tables_only) and log.exists():
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    elif log.exists():
        log.unlink()
    done = {(r["dataset"], r["fusion"], r["group"]) for r in records}
    jobs = []
    for i, ds in enumerate(args.datasets):
        groups = args.groups if i == 0 or args.groups_second is None else args.groups_second
        for group in groups:
            for f in sorted(args.fusions, key=lambda f: -COST[f]):
                if (ds, f, group) not in done:
                    jobs.append((ds, f, group, args.folds, args.seed, args.epochs))
    if not args.tables_only and jobs:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_one, job): job for job in jobs}
            for fut in as_completed(futures):
                rec = fut.result()
                records.append(rec)
                with log.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                accs = {a: round(b["acc"]["mean"], 4) for a, b in rec["arms"].items()}
                print(f"[{time.perf_counter() - start:7.1f} s] {rec['dataset']} {rec['fusion']} {rec['group']}: {accs}",
                      file=sys.stderr, flush=True)
    table, verdicts = tables(records, args.datasets, args.fusions)
    print(table)
    from otmix.atomic import write_json_atomic

    config = {"folds": args.folds, "epochs": args.epochs or records[0]["config"]["epochs"] if records else None,
              "seed": args.seed, "fusions": args.fusions, "datasets": args.datasets}
    write_json_atomic(args.out.with_suffix(".json"), {"config": config, "records": records, "verdicts": verdicts,
                                                      "table": table, "seconds": time.perf_counter() - start})
    args.out.with_suffix(".md").write_text(table)
    print(f"total {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
