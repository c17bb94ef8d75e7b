"""Command line of otmix (thin: parsing and printing; the work lives in the modules)."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from . import __version__
from .cli_common import (
    DEVICE_HELP,
    NOT_WRITTEN,
    alignment_table,
    check_device,
    check_outputs,
    console,
    fail,
    figure_writer,
    json_writer,
    one_line,
    scores_table,
    write_json_atomic,  # noqa: F401 (cli_fed imports it from here)
    write_outputs,
)
from .configs import clustering_config

# the names cli_fed imports from here
_check_outputs, _scores_table = check_outputs, scores_table

SUPERVISED_EPOCHS = 20  # SupervisedConfig's default (a test holds them equal; this module must not import torch)

app = typer.Typer(
    name="otmix",
    help="Robust multi-modal learning on unaligned, distributed data with an optimal-transport mixer.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"otmix {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool | None = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """otmix: stochastic fused Gromov-Wasserstein barycenters for multi-modal learning."""


@app.command()
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
    from .outputs import removed_on_failure

    if not 0.0 < links < 1.0:
        fail(f"--links must lie in (0, 1), got {links}")
    created = check_outputs(json_out)
    with removed_on_failure(created):
        from dataclasses import asdict

        from .demo import DemoConfig, run_demo, summary_lines

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


_DEFAULTS = clustering_config()


@app.command()
def cluster(
    dataset: str | None = typer.Option(
        None, help="A named data set: digits2 (built in), prokaryotic, movies, orl, orl4. Give it or --data.",
        show_default=False),
    data: Path | None = typer.Option(
        None, help="A user file (.mat with cell X, .npz with X0..Xk) or a folder of .npy/.csv views (a csv may "
        "start with one header row, which is skipped).", show_default=False),
    clusters: int | None = typer.Option(None, help="Number of clusters.", show_default="the number of label classes"),
    unaligned: bool | None = typer.Option(
        None, "--unaligned/--aligned", help="Permute every view independently or keep rows as loaded.",
        show_default="--unaligned; rows as loaded with --link-file"),
    links: float | None = typer.Option(
        None, "--links", metavar="FRACTION", help="Simulate links on an aligned data set: every view is permuted on "
        "its own (from the seed) and this fraction of the entities, drawn from the seed, stays linked (0 <= "
        "FRACTION < 1).", show_default="no links"),
    link_file: Path | None = typer.Option(
        None, "--link-file", metavar="FILE", help="Links between the rows as given: csv, one line per entity, one "
        "column per view, row indices (0 = a view's first row), an empty cell where the entity is absent, an "
        "optional header row of names. The rows are then used in the order given, never permuted.",
        show_default="no links"),
    seeds: int = typer.Option(5, min=1, help="Number of seeds (0..seeds-1); results are mean ± std over them."),
    epochs: int | None = typer.Option(None, min=1, help="Training epochs (early stopping may end sooner).",
                                      show_default=f"{_DEFAULTS['epochs']}, from the data set's config"),
    w_otm: float | None = typer.Option(None, help="The OTM weight (0: no mixing).",
                                       show_default=f"{_DEFAULTS['w_otm']:g}, from the data set's config"),
    mix: str | None = typer.Option(None, help="binary (the OTM) or weighted (the WB ablation).",
                                   show_default=f"{_DEFAULTS['mix']}, from the data set's config"),
    readout: str | None = typer.Option(None, help="auto, matched, fused or gw (kmeans: the former name of "
                                       "fused): how the clusters are read out.",
                                       show_default=f"{_DEFAULTS['readout']}, from the data set's config"),
    preprocess: str | None = typer.Option(None, help="zscore, l2, tfidf or none.",
                                          show_default="the data set's own: tfidf for movies, zscore otherwise"),
    config: Path | None = typer.Option(None, help="A tuned configuration (from `otmix tune`) instead of the "
                                       "data set's fixed one.",
                                       show_default="the fixed one, otmix/configs/clustering.json"),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here (a missing folder "
                                         "is created).", show_default=NOT_WRITTEN),
    plot: Path | None = typer.Option(None, help="Write a t-SNE of the fused codes (first seed) here (.png, .pdf, "
                                     ".svg).", show_default=NOT_WRITTEN),
    device: str | None = typer.Option(None, help=DEVICE_HELP, show_default="cpu"),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Cluster every view of an unaligned multi-view data set with MWAE + OTM; print and save the scores."""
    from .outputs import removed_on_failure

    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    aligned = _check_link_options(links, link_file, unaligned)
    created = check_outputs(json_out, plot, "--plot")
    with removed_on_failure(created):
        payload, runs, ds = _run_cluster(dataset, data, clusters, aligned, seeds, config, preprocess, quiet,
                                         plot is not None,
                                         {"epochs": epochs, "w_otm": w_otm, "mix": mix, "readout": readout,
                                          "device": device}, links, link_file)
        if payload["metrics"]:
            console.print(scores_table(payload))
        table = alignment_table(payload)
        if table is not None:
            console.print(table)
        console.print(f"done in {payload['seconds']:.1f} s")
        writers = {}
        if plot is not None:
            writers[plot] = figure_writer(_tsne(runs[0], ds.name), dpi=120)
        if json_out is not None:
            writers[json_out] = json_writer(payload)
        write_outputs(writers)


def _check_link_options(links: float | None, link_file: Path | None, unaligned: bool | None) -> bool:
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


def _run_cluster(dataset, data, clusters, aligned, seeds, config, preprocess, quiet, keep_estimator, options,
                 links=None, link_file=None):
    """Load, train every seed and score: the work of ``otmix cluster`` (one-line errors, exit 2)."""
    from .cluster_job import run_clustering
    from .data import load_dataset, load_path

    overrides = {k: v for k, v in options.items() if v is not None}
    try:
        check_device(options["device"])
        if clusters is not None and clusters < 1:
            raise ValueError(f"--clusters must be >= 1, got {clusters}")
        tuned = None
        if config is not None:
            from .tune import load_config, load_tuning

            overrides = {**load_config(config), **overrides}
            tuned = {"file": str(config), **load_tuning(config)}
            if tuned.get("selected_by_labels"):
                console.print(f"note: {config} was selected by LABELS (otmix tune --select-by-labels)")
        ds = load_dataset(dataset, preprocessing=preprocess) if dataset else load_path(data, preprocess or "zscore")
        console.print(f"{ds.name}: {ds.n_views} views, rows {ds.n_samples}, features "
                      f"{[X.shape[1] for X in ds.Xs]}, preprocessing {ds.preprocessing}")
        for note in ds.notes:
            console.print(f"note: {note}")
        spec = _links_spec(ds, links, link_file)

        def on_seed(run) -> None:
            if run.overall:
                console.print(f"seed {run.seed}: ACC {run.overall['acc']:.3f}  NMI {run.overall['nmi']:.3f}  "
                              f"({run.epochs_run} epochs, {run.seconds:.1f} s)")
            else:
                console.print(f"seed {run.seed}: done ({run.epochs_run} epochs, {run.seconds:.1f} s; no labels)")

        payload, runs = run_clustering(ds, seeds=range(seeds), aligned=aligned, n_clusters=clusters,
                                       overrides=overrides, verbose=not quiet, on_seed=on_seed,
                                       keep_estimators=1 if keep_estimator else 0, links=spec,
                                       rows_match=dataset is not None or links is not None)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        fail(one_line(exc))
    if tuned is not None:
        payload["tuned"] = tuned
    if link_file is not None:
        payload["links"]["file"] = str(link_file)
    return payload, runs, ds


def _links_spec(ds, links: float | None, link_file: Path | None):
    """The links of a run (a fraction, a table read from ``link_file``, or None), checked against the data.

    Raises the one-line ``ValueError`` of a bad link file, or of ``--links`` on views of different sizes.
    """
    if link_file is not None:
        from .data import read_link_file

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


def _tsne(run, name: str):
    """The t-SNE figure of one run's fused codes (colour = class, marker = view)."""
    from .report.figures import fused_codes_per_sample, fused_tsne_figure

    est = run.estimator
    codes = fused_codes_per_sample(est.plans_, est.fused_codes_)
    ys = None if run.ys is None else [y[rows] for y, rows in zip(run.ys, est.support_)]
    try:
        return fused_tsne_figure(codes, ys, title=f"{name}: fused codes, seed {run.seed}")
    except ValueError as exc:
        fail(f"the t-SNE of the fused codes failed, nothing was written: {one_line(exc)}")


@app.command()
def supervised(
    dataset: str = typer.Option("avmnist", help="avmnist (FSDD audio + MNIST image, from $OTMIX_DATA) or diabetes2."),
    fusion: str = typer.Option("late", help="late, tf, lrtf, mfm or mi."),
    otm_weight: float = typer.Option(1.0, "--otm-weight", help="β of Eq. 7 for the OTM arm (the other arm has 0)."),
    folds: int = typer.Option(5, help="Cross-validation folds of the training split (>= 2)."),
    epochs: int | None = typer.Option(None, min=1, help="Epochs per fold.", show_default=str(SUPERVISED_EPOCHS)),
    seed: int = typer.Option(0, help="Seed for the pairing, the folds and the models."),
    unaligned: bool = typer.Option(False, "--unaligned", help="Permute each modality's training rows on its own."),
    label_aware: bool | None = typer.Option(None, "--label-aware/--no-label-aware",
                                            help="Plans that mix codes only within a class (classification).",
                                            show_default="on for --unaligned classification"),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here.",
                                         show_default=NOT_WRITTEN),
    plot_noise: Path | None = typer.Option(None, "--plot-noise", help="Write the noise curves here (.png, .pdf, "
                                           ".svg).", show_default=NOT_WRITTEN),
    device: str | None = typer.Option(None, help=DEVICE_HELP, show_default="cpu"),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Train a fusion model with and without OTM augmentation; test score, one modality alone, noise curves."""
    from .outputs import removed_on_failure

    if folds < 2:
        fail(f"--folds must be >= 2, got {folds}")
    if not (math.isfinite(otm_weight) and otm_weight >= 0):
        fail(f"--otm-weight (β) must be a finite number >= 0, got {otm_weight}")
    created = check_outputs(json_out, plot_noise, "--plot-noise")
    with removed_on_failure(created):
        payload = _run_supervised(dataset, fusion, otm_weight, folds, epochs, seed, unaligned, device, quiet,
                                  label_aware)
        console.print(_supervised_table(payload))
        console.print(f"done in {payload['seconds']:.1f} s")
        writers = {}
        if plot_noise is not None:
            from .report.figures import noise_curves_figure

            writers[plot_noise] = figure_writer(noise_curves_figure(payload), dpi=110)
        if json_out is not None:
            writers[json_out] = json_writer(payload)
        write_outputs(writers)


def _run_supervised(dataset, fusion, otm_weight, folds, epochs, seed, unaligned, device, quiet,
                    label_aware=None) -> dict:
    from .data.supervised import load_supervised

    overrides: dict = {"epochs": epochs} if epochs is not None else {}
    if unaligned:
        overrides["unaligned"] = True
    if label_aware is not None:
        overrides["label_aware"] = label_aware
    if device is not None:
        overrides["device"] = device
    try:
        check_device(device)
        from .models.fusion import FUSIONS

        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        data = load_supervised(dataset, random_state=seed)
        console.print(f"{data.name}: {data.task}, modalities {data.modality_names}, train {len(data.y_train)} "
                      f"rows, test {len(data.y_test)} rows; {fusion} fusion, β = {otm_weight}, {folds} folds")
        return _run_supervised_with_bar(data, fusion, otm_weight, folds, seed, overrides, quiet)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        fail(one_line(exc))
    return {}  # not reached: fail() exits


def _supervised_table(payload: dict) -> Table:
    from .formatting import mean_std_text, spread_note

    metric, folds = payload["metric"], payload["folds"]
    table = Table(title=f"{payload['dataset']}, {payload['fusion']} fusion: test {metric.upper()} of the model "
                        f"chosen on each fold's validation split, {spread_note(folds, 'fold')}")
    table.add_column("")
    table.add_column("fused", justify="right")
    for name in payload["modalities"]:
        table.add_column(f"{name} alone", justify="right")
    for arm in ("without_otm", "with_otm"):
        block = payload[arm]
        table.add_row(arm.replace("_", " "), mean_std_text(block[metric], folds),
                      *(mean_std_text(b, folds) for b in block["single_modality"]))
    return table


def _run_supervised_with_bar(data, fusion, otm_weight, folds, seed, overrides, quiet) -> dict:
    from .supervised_job import run_supervised

    def on_fold(arm: str, fold: int, test: float) -> None:
        console.print(f"{arm.replace('_', ' ')}, fold {fold}: test {test:.4f}")

    if quiet:
        return run_supervised(data, fusion, otm_weight, folds, seed, overrides, on_fold=on_fold)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    epochs = overrides.get("epochs", SUPERVISED_EPOCHS)
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("epochs", total=2 * folds * epochs, info="")

        def progress(epoch: int, losses: dict[str, float]) -> None:
            bar.update(task, advance=1, info=f"val {losses['val']:.4f}")

        return run_supervised(data, fusion, otm_weight, folds, seed, overrides, on_fold=on_fold, progress=progress)


def _register_subcommands() -> None:
    from .cli_bench import bench_app
    from .cli_fed import fed_app
    from .cli_report import report
    from .cli_tune import tune

    app.add_typer(fed_app, name="fed")
    app.add_typer(bench_app, name="bench")
    app.command()(tune)
    app.command()(report)


_register_subcommands()
