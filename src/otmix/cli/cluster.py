"""``otmix cluster``: cluster every view of a multi-view data set, print the scores, save the JSON and a t-SNE."""

from __future__ import annotations

from pathlib import Path

import typer

from ..configs import clustering_config
from ._common import (
    DEVICE_HELP,
    NOT_WRITTEN,
    alignment_table,
    check_device,
    check_link_options,
    check_outputs,
    console,
    fail,
    figure_writer,
    json_writer,
    links_spec,
    one_line,
    scores_table,
    write_outputs,
)

_DEFAULTS = clustering_config()


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
    from ..outputs import removed_on_failure

    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    aligned = check_link_options(links, link_file, unaligned)
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


def _run_cluster(dataset, data, clusters, aligned, seeds, config, preprocess, quiet, keep_estimator, options,
                 links=None, link_file=None):
    """Load, train every seed and score: the work of ``otmix cluster`` (one-line errors, exit 2)."""
    from ..jobs.cluster import run_clustering
    from ..data import load_dataset, load_path

    overrides = {k: v for k, v in options.items() if v is not None}
    try:
        check_device(options["device"])
        if clusters is not None and clusters < 1:
            raise ValueError(f"--clusters must be >= 1, got {clusters}")
        tuned = None
        if config is not None:
            from ..jobs.tune import load_config, load_tuning

            overrides = {**load_config(config), **overrides}
            tuned = {"file": str(config), **load_tuning(config)}
            if tuned.get("selected_by_labels"):
                console.print(f"note: {config} was selected by LABELS (otmix tune --select-by-labels)")
        ds = load_dataset(dataset, preprocessing=preprocess) if dataset else load_path(data, preprocess or "zscore")
        console.print(f"{ds.name}: {ds.n_views} views, rows {ds.n_samples}, features "
                      f"{[X.shape[1] for X in ds.Xs]}, preprocessing {ds.preprocessing}")
        for note in ds.notes:
            console.print(f"note: {note}")
        spec = links_spec(ds, links, link_file)

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


def _tsne(run, name: str):
    """The t-SNE figure of one run's fused codes (colour = class, marker = view)."""
    from ..report.figures import fused_codes_per_sample, fused_tsne_figure

    est = run.estimator
    codes = fused_codes_per_sample(est.plans_, est.fused_codes_)
    ys = None if run.ys is None else [y[rows] for y, rows in zip(run.ys, est.support_)]
    try:
        return fused_tsne_figure(codes, ys, title=f"{name}: fused codes, seed {run.seed}")
    except ValueError as exc:
        fail(f"the t-SNE of the fused codes failed, nothing was written: {one_line(exc)}")
