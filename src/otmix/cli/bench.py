"""``otmix bench``: benchmark harnesses (the clustering table of every method, data set and setting)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from ._common import NOT_WRITTEN, check_outputs, console, fail, one_line, write_outputs

bench_app = typer.Typer(help="Benchmarks: every method on the same data, protocol and metrics.",
                        no_args_is_help=True)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fractions(text: str) -> list[float]:
    """The comma-separated link fractions of ``--links``, each in [0, 1), repeats dropped; else fail (exit 2)."""
    out: list[float] = []
    for part in _names(text):
        try:
            value = float(part)
        except ValueError:
            fail(f"--links takes comma-separated fractions in [0, 1) such as 0,0.05,0.1; got {part!r}")
        if not (math.isfinite(value) and 0.0 <= value < 1.0):
            fail(f"--links: every fraction must be in [0, 1), got {part}")
        if value not in out:
            out.append(value)
    if not out:
        fail("--links takes comma-separated fractions in [0, 1) such as 0,0.05,0.1; got none")
    return out


@bench_app.command()
def clustering(
    datasets: str = typer.Option("prokaryotic,movies,orl,orl4", help="Comma-separated data set names."),
    aligned: str | None = typer.Option(None, help="aligned, unaligned or both.",
                                       show_default="both; unaligned with --links"),
    seeds: int = typer.Option(5, min=1, help="Seeds 0..seeds-1; mean ± std over them."),
    methods: str | None = typer.Option(None, help="Comma-separated methods: otm, otm-wb, kmeans-concat, mcca, "
                                       "dccae, multinmf, kmeans-per-view, spectral-per-view, gwmac, reference "
                                       "(K-means per view, n_init 10, the seed), linked-kmeans, pvc.",
                                       show_default="all but otm-wb, reference and the linked ones; with --links: "
                                       "otm, reference, linked-kmeans, pvc"),
    links: str | None = typer.Option(None, "--links", metavar="FRACTIONS", help="Comma-separated link fractions "
                                     "(e.g. 0,0.05,0.1,0.2): in the unaligned setting that share of the entities "
                                     "stays linked (drawn from the seed); every cell runs at every fraction.",
                                     show_default="no links"),
    json_out: Path = typer.Option(..., "--json", help="Results file: finished cells are kept here and an "
                                  "interrupted run continues from it (a missing folder is created)."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Write the tables here (markdown).",
                                             show_default=NOT_WRITTEN),
    jobs: int = typer.Option(1, min=1, help="Worker processes (one thread each)."),
    config_dir: Path | None = typer.Option(None, "--config-dir", help="Tuned OTM configs <dataset>.json (from "
                                           "otmix tune) to use instead of the fixed ones.",
                                           show_default="the fixed configs"),
) -> None:
    """Run every method × data set × setting (× link fraction) × seed (resumable); print one table per setting."""
    from ..outputs import removed_on_failure

    fractions = None if links is None else _fractions(links)
    if fractions is not None and aligned not in (None, "unaligned"):
        fail(f"--links simulates links on views the benchmark permutes: it runs the unaligned setting only, got "
             f"--aligned {aligned}")
    aligned = aligned or ("unaligned" if fractions is not None else "both")
    if aligned not in ("aligned", "unaligned", "both"):
        fail(f"--aligned must be aligned, unaligned or both, got {aligned!r}")
    # the results file is rewritten after every finished cell (that is what makes a run resumable); both files
    # are proven writable first, and the markdown is written once, at the end
    created = check_outputs(json_out, None, "", {"--markdown": markdown_out})
    with removed_on_failure(created):
        _run(datasets, aligned, seeds, methods, json_out, markdown_out, jobs, config_dir, fractions)


def _run(datasets, aligned, seeds, methods, json_out, markdown_out, jobs, config_dir, fractions=None) -> None:
    """The benchmark itself, once its outputs are proven writable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..jobs.benchmark import DEFAULT_METHODS, LINKED_METHODS, SETTINGS, markdown, plan_cells, run_benchmark

    settings = list(SETTINGS) if aligned == "both" else [aligned]
    default = LINKED_METHODS if fractions is not None else DEFAULT_METHODS
    names, chosen = _names(datasets), _names(methods) if methods else list(default)
    try:
        total = len(plan_cells(names, settings, chosen, range(seeds), fractions))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("clustering benchmark", total=total)

            def on_cell(cell: dict, done: int, _: int) -> None:
                links = "" if cell.get("fraction") is None else f" links {cell['fraction']:g}"
                bar.update(task, completed=done, description=f"{cell['dataset']} {cell['setting']}{links} "
                                                             f"{cell['method']} seed {cell['seed']}")

            payload = run_benchmark(names, settings, chosen, range(seeds), json_out, jobs, on_cell, config_dir,
                                    fractions)
    except (ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as exc:
        fail(one_line(exc))
    text = markdown(payload["summary"], names, settings, chosen, fractions)
    console.print(text, soft_wrap=True, markup=False, highlight=False)
    console.print(f"{total} cells; this run {payload['seconds_this_run']:.0f} s; results in {json_out}")
    if markdown_out is not None:
        write_outputs({markdown_out: lambda tmp: tmp.write_text(text + "\n")})
