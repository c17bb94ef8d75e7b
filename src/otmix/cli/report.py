"""``otmix report``: one self-contained HTML (and/or markdown) report from a folder of results."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import NOT_WRITTEN, check_outputs, console, fail, one_line, write_outputs


def report(
    results: Path = typer.Argument(..., help="Folder with otmix JSON results and PNG figures (searched recursively)."),
    out: Path = typer.Option(Path("report.html"), help="The HTML report (figures embedded; .html or .md)."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Also write the report as markdown here.",
                                             show_default=NOT_WRITTEN),
    title: str = typer.Option("otmix results", help="Title of the report."),
) -> None:
    """Clustering benchmark tables, clustering/federated/supervised runs and figures in one page."""
    from ..outputs import removed_on_failure
    from ..report.document import check_report_path, collect_results, render_report

    try:
        for path in (out, markdown_out):
            if path is not None:
                check_report_path(path)
    except ValueError as exc:
        fail(one_line(exc))
    created = check_outputs(None, None, "", {"--out": out, "--markdown": markdown_out})
    with removed_on_failure(created):
        try:
            inputs = collect_results(results)
            texts = {path: render_report(inputs, path, title) for path in (out, markdown_out) if path is not None}
        except (ValueError, OSError) as exc:
            fail(one_line(exc))
        write_outputs({path: (lambda tmp, text=text: tmp.write_text(text)) for path, text in texts.items()})
    console.print(f"{len(inputs.benchmarks)} benchmark(s), {len(inputs.clustering)} clustering, "
                  f"{len(inputs.federated)} federated, {len(inputs.supervised)} supervised run(s), "
                  f"{len(inputs.figures)} figure(s)" + (f"; skipped {len(inputs.skipped)}" if inputs.skipped else ""))
