"""``otmix report``: one self-contained HTML (and/or markdown) report from a folder of results."""

from __future__ import annotations

from pathlib import Path

import typer

from .cli import console, fail


def report(
    results: Path = typer.Argument(..., help="Folder with otmix JSON results and PNG figures (searched recursively)."),
    out: Path = typer.Option(Path("report.html"), help="The HTML report (figures embedded)."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Also write the report as markdown here."),
    title: str = typer.Option("otmix results", help="Title of the report."),
) -> None:
    """Clustering benchmark tables, clustering/federated/supervised runs and figures in one page."""
    from .report.document import write_report

    for path in (out, markdown_out):
        if path is not None and not path.parent.exists():
            fail(f"folder {path.parent} does not exist")
    try:
        inputs = write_report(results, out, title)
        if markdown_out is not None:
            write_report(results, markdown_out, title)
    except (ValueError, OSError) as exc:
        fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    console.print(f"wrote {out}" + (f" and {markdown_out}" if markdown_out else "")
                  + f": {len(inputs.benchmarks)} benchmark(s), {len(inputs.clustering)} clustering, "
                  f"{len(inputs.federated)} federated, {len(inputs.supervised)} supervised run(s), "
                  f"{len(inputs.figures)} figure(s)" + (f"; skipped {len(inputs.skipped)}" if inputs.skipped else ""))
