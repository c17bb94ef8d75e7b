"""``otmix bench``: benchmark harnesses (the clustering table of every method, data set and setting)."""

from __future__ import annotations

from pathlib import Path

import typer

from .cli_common import NOT_WRITTEN, check_outputs, console, fail, one_line, write_outputs

bench_app = typer.Typer(help="Benchmarks: every method on the same data, protocol and metrics.",
                        no_args_is_help=True)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@bench_app.command()
def clustering(
    datasets: str = typer.Option("prokaryotic,movies,orl,orl4", help="Comma-separated data set names."),
    aligned: str = typer.Option("both", help="aligned, unaligned or both."),
    seeds: int = typer.Option(5, min=1, help="Seeds 0..seeds-1; mean ± std over them."),
    methods: str | None = typer.Option(None, help="Comma-separated methods: otm, otm-wb, kmeans-concat, mcca, "
                                       "dccae, multinmf, kmeans-per-view, spectral-per-view, gwmac.",
                                       show_default="all but otm-wb"),
    json_out: Path = typer.Option(..., "--json", help="Results file: finished cells are kept here and an "
                                  "interrupted run continues from it (a missing folder is created)."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Write the tables here (markdown).",
                                             show_default=NOT_WRITTEN),
    jobs: int = typer.Option(1, min=1, help="Worker processes (one thread each)."),
    config_dir: Path | None = typer.Option(None, "--config-dir", help="Tuned OTM configs <dataset>.json (from "
                                           "otmix tune) to use instead of the fixed ones.",
                                           show_default="the fixed configs"),
) -> None:
    """Run every method × data set × setting × seed (resumable) and print one table per setting."""
    from .outputs import removed_on_failure

    if aligned not in ("aligned", "unaligned", "both"):
        fail(f"--aligned must be aligned, unaligned or both, got {aligned!r}")
    # the results file is rewritten after every finished cell (that is what makes a run resumable); both files
    # are proven writable first, and the markdown is written once, at the end
    created = check_outputs(json_out, None, "", {"--markdown": markdown_out})
    with removed_on_failure(created):
        _run(datasets, aligned, seeds, methods, json_out, markdown_out, jobs, config_dir)


def _run(datasets, aligned, seeds, methods, json_out, markdown_out, jobs, config_dir) -> None:
    """The benchmark itself, once its outputs are proven writable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .bench_clustering import DEFAULT_METHODS, SETTINGS, markdown, plan_cells, run_benchmark

    settings = list(SETTINGS) if aligned == "both" else [aligned]
    names, chosen = _names(datasets), _names(methods) if methods else list(DEFAULT_METHODS)
    try:
        total = len(plan_cells(names, settings, chosen, range(seeds)))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("clustering benchmark", total=total)

            def on_cell(cell: dict, done: int, _: int) -> None:
                bar.update(task, completed=done, description=f"{cell['dataset']} {cell['setting']} "
                                                             f"{cell['method']} seed {cell['seed']}")

            payload = run_benchmark(names, settings, chosen, range(seeds), json_out, jobs, on_cell, config_dir)
    except (ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as exc:
        fail(one_line(exc))
    text = markdown(payload["summary"], names, settings, chosen)
    console.print(text, soft_wrap=True, markup=False, highlight=False)
    console.print(f"{total} cells; this run {payload['seconds_this_run']:.0f} s; results in {json_out}")
    if markdown_out is not None:
        write_outputs({markdown_out: lambda tmp: tmp.write_text(text + "\n")})
