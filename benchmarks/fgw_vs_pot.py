"""FGW barycenter: otmix (exact and fast) against POT, measured in one run on the same instances.

For each N (codes per modality, M = 3, d = 32, 7 Gaussian clusters) and each
structure ("euclidean", "sqeuclidean"), with the same initial barycenter for all:

- POT ``ot.gromov.fgw_barycenters`` (its own loop: square-loss structure update),
- "POT-CG loop": the corrected Alg. 2 loop of DESIGN.md with POT's
  ``fused_gromov_wasserstein`` as the inner solver (product-coupling start, exact
  network simplex: ``numItermaxEmd`` raised so that it never binds),
- ``otmix.ot.fgw_barycenter(method="exact")``: CG with an exact assignment LMO,
- ``otmix.ot.fgw_barycenter(method="fast")``: the exact path up to 1024 x 1024 plans, beyond
  the quantized approximate method screened from several starts ("fast kept" names the start
  it continued, or the fallback).

``--links 0.1`` links a tenth of the entities (random rows) for the otmix methods (POT takes no
links and is then not run). Every row also records the load average.

POT runs only up to ``--pot-max-n`` (default 2048: at 4096 its barycenter would take
more than 5 minutes here), the exact method up to ``--exact-max-n`` (default 4096).
Values are sum_m λ_m FGW(Z, Z_m; α) at each method's returned Z and plans, evaluated
by the same function (a pair sum over the plans' non-zeros, exact in float64, so
no N x N plan is formed). Prints a markdown table and writes JSON.

    python benchmarks/fgw_vs_pot.py --sizes 256 512 1024 2048 4096 16384 --json out.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import partial
from pathlib import Path

import numba
import numpy as np
import ot
import scipy.sparse as sp
from threadpoolctl import threadpool_info

from otmix.atomic import write_json_atomic
from otmix.ot import fgw_barycenter
from otmix.ot.quantized import sparse_fgw_objective
from otmix.ot.structure import feature_cost, structure_matrix

ALPHA = 0.5  # weight of the Wasserstein term (POT's alpha weighs structure: 1 - ALPHA)


def clustered_codes(n: int, n_modalities: int, dim: int, n_clusters: int, seed: int) -> list[np.ndarray]:
    """M code sets drawn around the same 7 cluster centres (independent samples)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_clusters, dim))
    return [centres[rng.integers(n_clusters, size=n)] + rng.normal(size=(n, dim)) for _ in range(n_modalities)]


def barycenter_value(Z: np.ndarray, plans: list, Zs: list[np.ndarray], structure: str) -> float:
    lam = 1.0 / len(Zs)
    return sum(lam * sparse_fgw_objective(Z, Zm, sp.csr_array(T), ALPHA, structure) for T, Zm in zip(plans, Zs))


def pot_fgw_barycenters(Zs, Z0, structure):
    n = Z0.shape[0]
    p = np.full(n, 1.0 / n)
    Cs = [structure_matrix(Zm, structure) for Zm in Zs]
    t0 = time.perf_counter()
    X, C, log = ot.gromov.fgw_barycenters(
        n, Zs, Cs, ps=[np.full(Zm.shape[0], 1.0 / Zm.shape[0]) for Zm in Zs], lambdas=[1 / len(Zs)] * len(Zs),
        alpha=1.0 - ALPHA, p=p, init_X=Z0.copy(), init_C=structure_matrix(Z0, structure), log=True,
    )
    seconds = time.perf_counter() - t0
    return seconds, barycenter_value(X, log["T"], Zs, structure), len(log["err_feature"])


def pot_cg_loop(Zs, Z0, structure, max_outer=50, tol=1e-6):
    """The corrected Alg. 2 loop with POT's FGW solver inside (no warm start)."""
    n = Z0.shape[0]
    mu_b = np.full(n, 1.0 / n)
    structs = [structure_matrix(Zm, structure) for Zm in Zs]
    lam = 1.0 / len(Zs)
    Z, prev, plans, n_outer = Z0.copy(), None, None, 0
    t0 = time.perf_counter()
    for n_outer in range(1, max_outer + 1):  # noqa: B007 - reported after the loop
        A = structure_matrix(Z, structure)
        new_plans, total = [], 0.0
        for Zm, Am in zip(Zs, structs):
            T, log = ot.gromov.fused_gromov_wasserstein(
                feature_cost(Z, Zm), A, Am, mu_b, np.full(Zm.shape[0], 1.0 / Zm.shape[0]),
                alpha=1.0 - ALPHA, log=True, numItermaxEmd=1_000_000_000,
            )
            new_plans.append(T)
            total += lam * log["fgw_dist"]
        unchanged = plans is not None and all(np.array_equal(a, b) for a, b in zip(plans, new_plans))
        plans = new_plans
        Z = sum(lam * (T @ Zm) for T, Zm in zip(plans, Zs)) / mu_b[:, None]
        if unchanged or (prev is not None and abs(prev - total) <= tol * abs(total)):
            break
        prev = total
    seconds = time.perf_counter() - t0
    return seconds, barycenter_value(Z, plans, Zs, structure), n_outer


def otmix_barycenter(Zs, Z0, structure, method, seed, links=None):
    t0 = time.perf_counter()
    res = fgw_barycenter(Zs, alpha=ALPHA, structure=structure, init=Z0.copy(), method=method, random_state=seed,
                         sparse_plans=True, links=links)
    seconds = time.perf_counter() - t0
    split = {k: v for k, v in res.log.items() if k.startswith("time_")}
    n_lmo = int(sum(sum(it) for it in res.log["inner_iters"])) if method == "exact" else 0
    kept = "exact (fallback)" if "fallback" in res.log else res.log.get("start", "")
    return {"s": seconds, "value": barycenter_value(res.Z, res.plans, Zs, structure), "reported_value": res.value,
            "outer": res.n_outer, "split": split, "lmo_calls": n_lmo, "kept": kept,
            "start_values": res.log.get("start_values"), "outer_total": res.log.get("outer_total")}


def repeated(run, repeats: int):
    """Run ``run()`` (returning seconds first, or a dict with "s") ``repeats`` times: the last
    result with its seconds replaced by the median, plus every run's seconds."""
    results = [run() for _ in range(repeats)]
    seconds = [r["s"] if isinstance(r, dict) else r[0] for r in results]
    last = results[-1]
    median = float(np.median(seconds))
    if isinstance(last, dict):
        return {**last, "s": median, "s_runs": seconds}
    return (median, *last[1:], seconds)


def fmt_s(x: float, runs: list[float] | None) -> str:
    """Seconds: the median, with min–max when there were several runs."""
    if runs is None or len(runs) < 2:
        return fmt(x)
    return f"{fmt(x)} ({fmt(min(runs))}–{fmt(max(runs))})"


def fmt(x: float, spec: str = ".2f") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 16384])
    parser.add_argument("--structures", nargs="+", default=["euclidean", "sqeuclidean"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pot-max-n", type=int, default=2048, help="run POT only up to this N")
    parser.add_argument("--exact-max-n", type=int, default=4096, help="run the exact method only up to this N")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time POT fgw_barycenters and both otmix methods this many times (median, min–max)")
    parser.add_argument("--links", type=float, default=0.0,
                        help="link this share of the entities (random rows) for the otmix methods; POT is then "
                             "not run (it takes no links)")
    parser.add_argument("--json", default=None, help="write the rows here (atomically)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    warm_up = clustered_codes(64, 3, 32, 7, seed=1)  # compile the numba kernels before any timing
    for method in ("exact", "fast"):
        for structure in args.structures:
            fgw_barycenter(warm_up, alpha=ALPHA, structure=structure, method=method, random_state=0)
    rows = []
    header = ("| N | structure | POT s | POT-CG s | exact s | fast s | POT/exact | POT/fast | exact/fast | "
              "POT-CG value | exact value | fast value | exact/POT-CG value | fast/exact value | "
              "exact LMO / products / other s | fast partition / coarse / local / value s | "
              "outer (POT/CG/exact/fast) | fast kept | load |")
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    nan = float("nan")
    for n in args.sizes:
        Zs = clustered_codes(n, 3, 32, 7, seed=args.seed + n)
        Z0 = np.concatenate(Zs)[np.random.default_rng(args.seed).choice(3 * n, size=n, replace=False)]
        links = None
        if args.links > 0:
            link_rng = np.random.default_rng(500 + args.seed)
            links = np.stack([link_rng.permutation(n)[: int(round(args.links * n))] for _ in Zs], axis=1)
        for structure in args.structures:
            with_pot = n <= args.pot_max_n and links is None
            t_pot, v_pot, o_pot, pot_runs = (repeated(partial(pot_fgw_barycenters, Zs, Z0, structure), args.repeats)
                                             if with_pot else (nan, nan, 0, None))
            t_cg, v_cg, o_cg = pot_cg_loop(Zs, Z0, structure) if with_pot else (nan, nan, 0)
            empty = {"s": nan, "value": nan, "reported_value": nan, "outer": 0, "split": {}, "lmo_calls": 0,
                     "kept": ""}
            exact = (repeated(partial(otmix_barycenter, Zs, Z0, structure, "exact", args.seed, links), args.repeats)
                     if n <= args.exact_max_n else empty)
            fast = repeated(partial(otmix_barycenter, Zs, Z0, structure, "fast", args.seed, links), args.repeats)
            row = {
                "N": n, "structure": structure, "pot_fgw_barycenters_s": t_pot, "pot_fgw_barycenters_s_runs": pot_runs,
                "pot_fgw_barycenters_value": v_pot,
                "pot_fgw_barycenters_outer": o_pot, "pot_cg_loop_s": t_cg, "pot_cg_loop_value": v_cg,
                "pot_cg_loop_outer": o_cg, "exact": exact, "fast": fast,
                "speedup_exact_vs_pot": t_pot / exact["s"], "speedup_fast_vs_pot": t_pot / fast["s"],
                "speedup_fast_vs_exact": exact["s"] / fast["s"],
                "value_ratio_exact_vs_pot_cg_loop": exact["value"] / v_cg,
                "value_ratio_fast_vs_exact": fast["value"] / exact["value"], "links": args.links,
                "load": os.getloadavg(),
            }
            rows.append(row)
            es, fs = exact["split"], fast["split"]
            exact_split = (f"{fmt(es.get('time_lmo'))} / {fmt(es.get('time_products'))} / "
                           f"{fmt(es.get('time_other'))}" if es else "–")
            fast_split = " / ".join(fmt(fs.get(k)) for k in ("time_partition", "time_coarse", "time_local",
                                                             "time_value"))
            print(f"| {n} | {structure} | {fmt_s(t_pot, pot_runs)} | {fmt(t_cg)} | "
                  f"{fmt_s(exact['s'], exact.get('s_runs'))} | {fmt_s(fast['s'], fast.get('s_runs'))} | "
                  f"{fmt(row['speedup_exact_vs_pot'])}x | {fmt(row['speedup_fast_vs_pot'])}x | "
                  f"{fmt(row['speedup_fast_vs_exact'])}x | {fmt(v_cg, '.6f')} | {fmt(exact['value'], '.6f')} | "
                  f"{fmt(fast['value'], '.6f')} | {fmt(row['value_ratio_exact_vs_pot_cg_loop'], '.6f')} | "
                  f"{fmt(row['value_ratio_fast_vs_exact'], '.4f')} | {exact_split} | {fast_split} | "
                  f"{o_pot}/{o_cg}/{exact['outer']}/{fast['outer']} | {fast['kept']} | "
                  f"{os.getloadavg()[0]:.1f} |", flush=True)
            if args.json:  # after every row, so a long run leaves what it has measured
                write_json_atomic(Path(args.json), payload(args, rows))


def payload(args, rows) -> dict:
    return {
        "benchmark": "fgw_barycenter vs POT", "alpha": ALPHA, "M": 3, "d": 32, "clusters": 7, "seed": args.seed,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version(), "numpy": np.__version__, "pot": ot.__version__,
                    "numba": numba.__version__, "threads": threadpool_info()},
        "rows": rows,
    }


if __name__ == "__main__":
    main()
