"""What every otmix command shares: consoles, one-line failures, link options, output checks and score tables.

Outputs are proven writable before any work and written together at the end.

The command modules of :mod:`otmix.cli` import from here, so none of them imports another or the app.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["DEVICE_HELP", "NOT_WRITTEN", "PLOT_SUFFIXES", "alignment_table", "check_device", "check_link_options",
           "check_outputs", "console", "err_console", "fail", "figure_writer", "json_writer", "links_note",
           "links_spec", "one_line", "scores_table", "write_outputs"]

# Piped output (logs, CI) gets 120 columns instead of rich's 80, so the score tables do not wrap.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def fail(message: str) -> None:
    from rich.text import Text

    # one line, never wrapped, message taken literally (paths may hold [brackets])
    err_console.print(Text("error: ", style="red") + Text(message), soft_wrap=True)
    raise typer.Exit(code=2)


PLOT_SUFFIXES = (".png", ".pdf", ".svg")
DEVICE_HELP = "Where the networks train: cpu, cuda, cuda:1, mps, or auto (cuda when available)."
NOT_WRITTEN = "not written"


def check_outputs(json_out: Path | None, plot: Path | None = None, plot_flag: str = "--plot",
                   others: dict[str, Path | None] | None = None) -> list[Path]:
    """Prove before any work that every output can be written, else fail in one line (exit 2).

    A missing folder is created and a temporary file made and removed beside every target
    (:func:`otmix.outputs.prove_outputs`). Returns the folders created, for
    :func:`otmix.outputs.removed_on_failure`.
    """
    from ..outputs import UnwritableOutput, prove_outputs

    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        fail(f"{plot_flag} must end in one of {', '.join(PLOT_SUFFIXES)}, got {plot.name}")
    try:
        return prove_outputs({"--json": json_out, plot_flag or "--plot": plot, **(others or {})})
    except UnwritableOutput as exc:
        fail(str(exc))
    return []  # not reached: fail() exits


def json_writer(payload: dict):
    text = json.dumps(payload, indent=2)  # serialised before any file is touched

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    return write


def figure_writer(fig, dpi: int):
    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=dpi)

    return write


def write_outputs(writers: dict) -> None:
    """Write all outputs together (renamed into place only when every one is written) and say so."""
    from ..outputs import write_together

    if not writers:
        return
    try:
        written = write_together(writers)
    except OSError as exc:
        fail(f"could not write the outputs, none was written: {exc.strerror or exc}")
    for path in written:
        console.print(f"wrote {path}")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_device(device: str | None) -> None:
    """Raise the trainers' one-line ValueError for an unknown or unavailable --device, before any work."""
    if device is not None:
        from ..train.device import resolve_device

        resolve_device(device)


def check_link_options(links: float | None, link_file: Path | None, unaligned: bool | None) -> bool:
    """Check ``--links``, ``--link-file`` and ``--unaligned/--aligned`` together (before any work); return ``aligned``.

    ``--links`` simulates links on views it permutes, so it refuses ``--aligned``; a link file names
    rows of the data as given, so with ``--link-file`` the rows are kept as loaded and ``--unaligned``
    is refused.
    """
    if links is not None and link_file is not None:
        fail("give at most one of --links FRACTION (simulated links) and --link-file FILE (your links)")
    if links is not None:
        if not (math.isfinite(links) and 0.0 <= links < 1.0):
            fail(f"--links must be a fraction in [0, 1), got {links:g}")
        if unaligned is False:
            fail("--links simulates links on views it permutes; it cannot be combined with --aligned")
    if link_file is not None:
        if unaligned is True:
            fail("--link-file names rows of the data as given, so the rows are never permuted; drop --unaligned")
        return True
    return unaligned is False


def links_spec(ds, links: float | None, link_file: Path | None):
    """The links of a run (a fraction, a table read from ``link_file``, or None), checked against the data.

    Raises the one-line ``ValueError`` of a bad link file, or of ``--links`` on views of different sizes.
    """
    if link_file is not None:
        from ..data import read_link_file

        table = read_link_file(link_file, ds.n_samples)
        console.print(f"links: {len(table)} entities from {link_file}; the rows are used as given (not permuted)",
                      soft_wrap=True, markup=False, highlight=False)
        return table
    if links is not None:
        if len(set(ds.n_samples)) > 1:
            raise ValueError(f"--links simulates links on an aligned data set (every view the same rows); "
                             f"{ds.name} has views of {ds.n_samples} rows (give your links with --link-file)")
        n = int(round(links * ds.n_samples[0]))
        console.print(f"links: {links:g} of the entities ({n} per seed, drawn from the seed) stay linked after "
                      "every view is permuted")
        return float(links)
    return None


def links_note(links: dict | None) -> str:
    """How a payload's ``links`` block reads in a title (nothing without links).

    Examples
    --------
    >>> links_note(None), links_note({"fraction": 0.1, "n": 180}), links_note({"fraction": None, "n": 42})
    ('', ', 10 % linked (180 links)', ', 42 links given')
    """
    if not links:
        return ""
    if links.get("fraction") is None:
        return f", {links['n']} links given"
    return f", {100 * links['fraction']:g} % linked ({links['n']} links)"


def scores_table(payload: dict) -> Table:
    """The clustering scores of a payload (``otmix cluster``, ``otmix fed simulate``): one value per cell for one
    seed, mean ± std for several; the reference (K-means on each view alone) under its view when present."""
    from ..formatting import mean_std_text, spread_note

    n = len(payload["seeds"])
    rows_as = "aligned" if payload["aligned"] else "unaligned"
    if payload.get("links") and payload["links"].get("fraction") is None:
        rows_as = "rows as given"
    title = (f"{payload['dataset']} ({rows_as}{links_note(payload.get('links'))}), "
             f"{spread_note(n, 'seed')}; labels used only to score")
    table = Table(title=title)
    for column in ("samples", "ACC", "purity", "NMI", "ARI"):
        table.add_column(column, justify="right")
    reference = {v["view"]: v for v in (payload.get("reference") or {}).get("per_view", [])}
    rows = [("all views", payload["metrics"])]
    for v in payload["per_view"]:
        rows.append((f"view {v['view']} ({v['name']})", v))
        if v["view"] in reference:
            rows.append((f"view {v['view']}, K-means alone (reference)", reference[v["view"]]))
    used = set(payload.get("readout_used") or [])
    rows += [(f"all, {name} read-out{' (used)' if used == {name} else ''}", block)
             for name, block in payload["metrics_by_readout"].items()]
    for name, block in rows:
        table.add_row(name, *(mean_std_text(block[k], n) for k in ("acc", "purity", "nmi", "ari")))
    return table


def alignment_table(payload: dict) -> Table | None:
    """Per view pair: the estimator's alignability (score, verdict) and how its plan aligns the pair (labels only).

    None when the payload has neither block.
    """
    from ..formatting import mean_std_text

    alignability = payload.get("alignability") or []
    alignment = payload.get("alignment") or {}
    pairs = [tuple(e["views"]) for e in alignability] or [tuple(p) for p in alignment.get("pairs", [])]
    if not pairs:
        return None
    n = len(payload["seeds"])
    table = Table(title="Alignment of every view pair (class mass and twin rate over the first view's unlinked rows)")
    for column in ("views", "alignability", "alignable", "class mass", "chance", "twin rate"):
        table.add_column(column, justify="right")
    by_pair = {tuple(e["views"]): e for e in alignability}
    scored = {tuple(p): k for k, p in enumerate(alignment.get("pairs", []))}
    for pair in pairs:
        entry, k = by_pair.get(pair), scored.get(pair)
        verdict = "–"
        if entry is not None:
            verdict = "yes" if entry["alignable"] else "no"
            if entry.get("seeds", 1) > 1:
                verdict += f" ({entry['alignable_seeds']}/{entry['seeds']} seeds)"
        score = "–" if entry is None else mean_std_text({"mean": entry["score"], "std": entry.get("score_std", 0.0)}, n)
        twin = alignment.get("twin_rate")
        table.add_row(
            f"{pair[0]}-{pair[1]}", score, verdict,
            "–" if k is None else mean_std_text(alignment["class_mass"][k], n),
            "–" if k is None else f"{alignment['chance_class_mass'][k]:.3f}",
            "–" if k is None or twin is None else mean_std_text(twin[k], n))
    return table
