"""One report from a folder of results: markdown, and self-contained HTML with the figures embedded.

The folder is scanned (recursively) for what otmix writes: the clustering benchmark's
results (``otmix bench clustering --json``), clustering runs (``otmix cluster --json``),
federated runs (``otmix fed simulate --json``), supervised runs (``otmix supervised --json``)
and PNG figures (t-SNE, noise curves). Anything else is listed as skipped.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..formatting import count, mean_std_text, spread_note


@dataclass
class ReportInputs:
    """What a results folder holds, by kind (each entry: (path relative to the folder, payload))."""

    root: Path
    benchmarks: list[tuple[str, dict]] = field(default_factory=list)
    clustering: list[tuple[str, dict]] = field(default_factory=list)
    federated: list[tuple[str, dict]] = field(default_factory=list)
    supervised: list[tuple[str, dict]] = field(default_factory=list)
    tuned: list[tuple[str, dict]] = field(default_factory=list)
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.benchmarks or self.clustering or self.federated or self.supervised or self.tuned
                    or self.figures)


def collect(folder: str | Path) -> ReportInputs:
    """Read every result and figure under ``folder`` (ValueError if it is not a folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"results folder {root} does not exist or is not a folder")
    found = ReportInputs(root)
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # hidden files include the temporary files of atomic writes
        if path.suffix.lower() == ".png":
            data = path.read_bytes()
            if data[:8] == b"\x89PNG\r\n\x1a\n":
                found.figures.append((name, data))
            else:
                found.skipped.append(f"{name} (not a PNG image)")
            continue
        if path.suffix.lower() != ".json":
            continue
        try:
            payload = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            found.skipped.append(f"{name} (not valid JSON)")
            continue
        if not isinstance(payload, dict):
            found.skipped.append(f"{name} (not an otmix result)")
        elif isinstance(payload.get("cells"), dict):  # a benchmark, finished or interrupted
            found.benchmarks.append((name, payload))
        elif isinstance(payload.get("dataset_params"), dict) and isinstance(payload.get("tuned"), dict):
            found.tuned.append((name, payload))
        elif "with_otm" in payload and "without_otm" in payload:
            found.supervised.append((name, payload))
        elif "federated" in payload and "metrics" in payload:
            found.federated.append((name, payload))
        elif "metrics" in payload and "per_view" in payload:
            found.clustering.append((name, payload))
        else:
            found.skipped.append(f"{name} (not an otmix result)")
    return found


def _fmt(block: dict | None, n_runs: int) -> str:
    return mean_std_text(block, n_runs)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _cluster_section(name: str, payload: dict) -> list[str]:
    from ..jobs.cluster import METRICS  # here, not at the top: it brings scikit-learn, which `otmix report` may skip

    setting = "aligned" if payload.get("aligned") else "unaligned"
    n = len(payload.get("seeds", []))
    lines = [f"### {payload.get('dataset', name)} ({setting}, {count(n, 'seed')}) — `{name}`", ""]
    rows = [["all views", *(_fmt(payload["metrics"].get(k), n) for k in METRICS)]]
    for view in payload.get("per_view", []):
        rows.append([f"view {view['view']} ({view.get('name', '')})", *(_fmt(view.get(k), n) for k in METRICS)])
    for readout, block in payload.get("metrics_by_readout", {}).items():
        rows.append([f"all, {readout} read-out", *(_fmt(block.get(k), n) for k in METRICS)])
    lines += _table(["samples", "ACC", "purity", "NMI", "ARI"], rows)
    tuned = payload.get("tuned")
    if tuned:
        how = "**selected by LABELS**" if tuned.get("selected_by_labels") else f"tuned on {tuned.get('objective')}"
        lines += [f"Configuration `{tuned.get('file')}`: {how}.", ""]
    fed = payload.get("federated")
    if fed:
        spr = fed.get("seconds_per_round", {})
        per_round = _fmt(spr, int(fed.get("rounds") or 0) * max(n, 1)) if spr else "–"  # over all rounds and seeds
        lines += [f"Federated ({fed.get('mode')}): {fed.get('rounds')} rounds × {fed.get('local_epochs')} local "
                  f"epochs, {per_round} s per round; events: {len(fed.get('events', []))}.", ""]
    return lines


def _supervised_section(name: str, payload: dict) -> list[str]:
    metric = payload.get("metric", "acc")
    modalities = payload.get("modalities", [])
    folds = int(payload.get("folds", 2))
    lines = [f"### {payload.get('dataset', name)}, {payload.get('fusion', '')} fusion — `{name}`", "",
             f"Test {metric.upper()}, {spread_note(folds, 'fold')}.", ""]
    rows = []
    for arm in ("without_otm", "with_otm"):
        block = payload[arm]
        singles = block.get("single_modality", [])
        rows.append([arm.replace("_", " "), _fmt(block.get(metric), folds), *(_fmt(b, folds) for b in singles)])
    lines += _table(["", "fused", *(f"{m} alone" for m in modalities)], rows)
    return lines


def markdown_report(inputs: ReportInputs, title: str = "otmix results", figures_from: Path | None = None) -> str:
    """The whole report as markdown; figures are linked relative to ``figures_from`` (default: the folder)."""
    import os

    from ..jobs.benchmark import markdown as bench_markdown
    from ..jobs.benchmark import summarize

    lines = [f"# {title}", "", f"From `{inputs.root}`. Labels are used only to score.", ""]
    for name, payload in inputs.benchmarks:
        summary = summarize(list(payload["cells"].values()))  # the cells, not a stored (maybe stale) summary
        datasets = list(dict.fromkeys(v["dataset"] for v in summary.values()))
        settings = [s for s in ("aligned", "unaligned") if any(v["setting"] == s for v in summary.values())]
        methods = list(dict.fromkeys(v["method"] for v in summary.values()))
        lines += [f"## Clustering benchmark — `{name}`", "", bench_markdown(summary, datasets, settings, methods), ""]
    for title, payloads, section in (("Clustering runs", inputs.clustering, _cluster_section),
                                     ("Federated runs", inputs.federated, _cluster_section),
                                     ("Supervised fusion", inputs.supervised, _supervised_section)):
        if payloads:
            lines += [f"## {title}", ""]
            for name, payload in payloads:
                lines += section(name, payload)
    if inputs.tuned:
        lines += ["## Tuned configurations", ""]
        rows = []
        for name, payload in inputs.tuned:
            tuned = payload["tuned"]
            how = "**LABELS**" if tuned.get("selected_by_labels") else str(tuned.get("objective"))
            searched = ", ".join(f"{k} {payload['dataset_params'][k]:.4g}" for k in ("alpha", "w_rec", "w_otm", "lr")
                                 if isinstance(payload["dataset_params"].get(k), (int, float)))
            rows.append([f"`{name}`", how, str(tuned.get("n_trials")), str(tuned.get("best_value")), searched])
        lines += _table(["file", "selected by", "trials", "best value", "parameters"], rows)
    if inputs.figures:
        lines += ["## Figures", ""]
        for name, _ in inputs.figures:
            link = name if figures_from is None else os.path.relpath(inputs.root / name, figures_from)
            lines.append(f"![{name}]({link})\n")
    if inputs.skipped:
        lines += ["## Skipped files", "", *(f"- {s}" for s in inputs.skipped), ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}code{background:#f4f4f4;padding:0 3px}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:90%}"""


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def html_report(inputs: ReportInputs, title: str = "otmix results") -> str:
    """The report as one HTML page with its figures embedded (no file or network reference)."""
    figures = dict(inputs.figures)
    body: list[str] = []
    rows: list[list[str]] = []

    def flush_table() -> None:
        if rows:
            head, *rest = rows
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>"
                        "<tbody>" + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                                            for row in rest) + "</tbody></table>")
            rows.clear()

    for line in markdown_report(inputs, title).splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                rows.append(cells)
            continue
        flush_table()
        image = re.fullmatch(r"!\[(.+)\]\((.+)\)", line.strip())
        if image and image.group(2) in figures:
            data = base64.b64encode(figures[image.group(2)]).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(image.group(1))}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(image.group(2))}</figcaption></figure>")
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 4)
            body.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<p>• {_inline(line[2:])}</p>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush_table()
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


REPORT_SUFFIXES = (".html", ".htm", ".md")


def check_report_path(out: str | Path) -> Path:
    """``out`` if it names a report otmix can write (.html, .htm or .md), else a one-line ValueError."""
    out = Path(out)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise ValueError(f"the report must end in .html or .md, got {out.name}")
    return out


def collect_results(folder: str | Path) -> ReportInputs:
    """:func:`collect`, refusing a folder without any otmix result (one-line ValueError)."""
    inputs = collect(folder)
    if inputs.empty:
        raise ValueError(f"no otmix results (JSON from otmix commands, PNG figures) in {folder}")
    return inputs


def render_report(inputs: ReportInputs, out: str | Path, title: str = "otmix results") -> str:
    """The text of the report ``out`` (.html: self-contained page; .md: markdown, figures linked from its folder)."""
    out = check_report_path(out)
    if out.suffix.lower() == ".md":
        return markdown_report(inputs, title, figures_from=out.resolve().parent)
    return html_report(inputs, title)


def write_report(folder: str | Path, out: str | Path, title: str = "otmix results") -> ReportInputs:
    """Write ``out`` (.html: self-contained page; .md: markdown) from the results in ``folder``."""
    from ..atomic import write_text_atomic

    out = check_report_path(out)
    inputs = collect_results(folder)
    write_text_atomic(out, render_report(inputs, out, title))
    return inputs
