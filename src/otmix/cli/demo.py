"""``otmix demo``: what joining does for a strong and a weak view of digits2, as one table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ._common import NOT_WRITTEN, check_outputs, console, fail, json_writer, write_outputs


def demo(
    seed: int = typer.Option(0, help="Random seed for the permutations, the links and the solvers."),
    links: float = typer.Option(0.1, help="Share of the entities linked in the linked arm (0 < links < 1)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON here.",
                                         show_default=NOT_WRITTEN),
) -> None:
    """What joining does for a strong and a weak view (digits2, built in; about 20 s on 2 cores).

    Every view of digits2 is permuted on its own; K-means on every view alone, OTM without
    links and OTM with a share of linked entities are scored per view and pooled.
    """
    from ..outputs import removed_on_failure

    if not 0.0 < links < 1.0:
        fail(f"--links must lie in (0, 1), got {links}")
    created = check_outputs(json_out)
    with removed_on_failure(created):
        from dataclasses import asdict

        from ..jobs.demo import DemoConfig, run_demo, summary_lines

        config = DemoConfig(links=links, random_state=seed)
        console.print("digits2: view 0 = 64 pixels, view 1 = a weak 6-number noisy projection of a coarse image; "
                      "every view permuted on its own (no row known to match), labels used only to score.")
        with console.status("starting...") as status:
            try:
                result = run_demo(config, progress=lambda message: status.update(message))
            except ValueError as exc:
                fail(str(exc))
        table = Table(title=f"NMI / ACC per view and pooled (one id map), seed {seed}")
        for column in ("arm", *(f"view {m} ({name})" for m, name in enumerate(result.view_names)), "pooled", "s"):
            table.add_column(column, justify="right")
        names = {"alone": "K-means on each view alone", "unaligned": "OTM, no links",
                 "linked": f"OTM, {result.arms['linked']['n_links']} linked rows ({links:.0%})"}
        for arm, label in names.items():
            block = result.arms[arm]
            cells = [f"{v['nmi']:.3f} / {v['acc']:.3f}" for v in block["per_view"]]
            pooled = "–" if arm == "alone" else f"{block['pooled']['nmi']:.3f} / {block['pooled']['acc']:.3f}"
            table.add_row(label, *cells, pooled, f"{block['seconds']:.1f}")
        console.print(table)
        for line in summary_lines(result):
            console.print(line)
        console.print(f"done in {result.seconds:.1f} s")
        if json_out is not None:
            write_outputs({json_out: json_writer({"config": asdict(result.config), "view_names": result.view_names,
                                                  "arms": result.arms, "seconds": result.seconds,
                                                  "summary": summary_lines(result)})})
