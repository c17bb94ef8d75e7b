"""Command line of otmix (thin: parsing and printing; the work lives in the modules)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .atomic import write_json_atomic

app = typer.Typer(
    name="otmix",
    help="Robust multi-modal learning on unaligned, distributed data with an optimal-transport mixer.",
    no_args_is_help=True,
    add_completion=False,
)
# Piped output (logs, CI) gets 120 columns instead of rich's 80, so the score tables do not wrap.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


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


def fail(message: str) -> None:
    from rich.text import Text

    # one line, never wrapped, message taken literally (paths may hold [brackets])
    err_console.print(Text("error: ", style="red") + Text(message), soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def demo(
    seed: int = typer.Option(0, help="Random seed for the data and the solvers."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON here."),
) -> None:
    """Mix three unaligned synthetic views (one weak) and cluster them; no files needed."""
    from dataclasses import asdict

    from .demo import DemoConfig, run_demo

    if json_out is not None and not json_out.parent.exists():
        fail(f"folder {json_out.parent} does not exist")
    config = DemoConfig(random_state=seed)
    console.print(
        f"3 unaligned views of sizes {config.n_samples}, codes of width {config.dim}, "
        f"{config.n_clusters} clusters; view 2 is weak (noise {config.noise[2]})."
    )
    with console.status("FGW barycenter...") as status:
        def progress(it: int, value: float) -> None:
            status.update(f"FGW barycenter: outer iteration {it}, objective {value:.4f}")

        try:
            result = run_demo(config, progress=progress)
        except ValueError as exc:
            fail(str(exc))
    console.print(
        f"Barycenter of {config.n_points} points: objective {result.barycenter_value:.4f} after "
        f"{result.n_outer} outer iterations; binary stochastic mix; GW clustering of the mix "
        f"(paper Eq. 6); labels carried back to each view through its plan."
    )
    table = Table(title="Clustering accuracy per view (labels used only to score)")
    for column in ("view", "rows", "noise", "ACC otm", "NMI otm", "ACC k-means alone", "NMI k-means alone"):
        table.add_column(column, justify="right")
    for row in result.per_view:
        table.add_row(str(row["view"]), str(row["rows"]), f"{row['noise']:.1f}", f"{row['acc_otm']:.3f}",
                      f"{row['nmi_otm']:.3f}", f"{row['acc_kmeans_alone']:.3f}", f"{row['nmi_kmeans_alone']:.3f}")
    console.print(table)
    console.print(f"done in {result.seconds:.1f} s")
    if json_out is not None:
        write_json_atomic(json_out, {"config": asdict(result.config), "barycenter_value": result.barycenter_value,
                                     "n_outer": result.n_outer, "seconds": result.seconds,
                                     "per_view": result.per_view})
        console.print(f"wrote {json_out}")


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _check_outputs(json_out: Path | None, plot: Path | None, plot_flag: str) -> None:
    """Fail before any work when an output cannot be written where asked."""
    for out in (json_out, plot):
        if out is not None and not out.parent.exists():
            fail(f"folder {out.parent} does not exist")
        if out is not None and out.is_dir():
            fail(f"{out} is a folder; give a file name")
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        fail(f"{plot_flag} must end in one of {', '.join(PLOT_SUFFIXES)}, got {plot.name}")


DEVICE_HELP = "Where the networks train: cpu (default), cuda, cuda:1, mps, or auto (cuda when available)."


def _check_device(device: str | None) -> None:
    """Raise the trainers' one-line ValueError for an unknown or unavailable --device, before any work."""
    if device is not None:
        from .train.device import resolve_device

        resolve_device(device)


def _fmt(block: dict[str, float]) -> str:
    return f"{block['mean']:.3f} ± {block['std']:.3f}"


def _scores_table(payload: dict) -> Table:
    title = (f"{payload['dataset']} ({'aligned' if payload['aligned'] else 'unaligned'}), "
             f"{len(payload['seeds'])} seed(s), mean ± std; labels used only to score")
    table = Table(title=title)
    for column in ("samples", "ACC", "purity", "NMI", "ARI"):
        table.add_column(column, justify="right")
    rows = [("all views", payload["metrics"])]
    rows += [(f"view {v['view']} ({v['name']})", v) for v in payload["per_view"]]
    rows += [(f"all, {name} read-out", block) for name, block in payload["metrics_by_readout"].items()]
    for name, block in rows:
        table.add_row(name, *(_fmt(block[k]) for k in ("acc", "purity", "nmi", "ari")))
    return table


@app.command()
def cluster(
    dataset: str | None = typer.Option(
        None, help="A named data set: digits2 (built in), prokaryotic, movies, orl, orl4."),
    data: Path | None = typer.Option(
        None, help="A user file (.mat with cell X, .npz with X0..Xk) or a folder of .npy/.csv views."),
    clusters: int | None = typer.Option(None, help="Number of clusters (default: number of label classes)."),
    unaligned: bool = typer.Option(
        True, "--unaligned/--aligned", help="Permute every view independently (default) or keep rows as loaded."),
    seeds: int = typer.Option(5, min=1, help="Number of seeds (0..seeds-1); results are mean ± std over them."),
    epochs: int | None = typer.Option(None, min=1, help="Override the configured number of epochs."),
    w_otm: float | None = typer.Option(None, help="Override the OTM weight (0: no mixing)."),
    mix: str | None = typer.Option(None, help="binary (the OTM) or weighted (the WB ablation)."),
    readout: str | None = typer.Option(None, help="kmeans or gw: how the fused codes are clustered."),
    preprocess: str | None = typer.Option(None, help="zscore, l2, tfidf or none (default: the data set's own)."),
    config: Path | None = typer.Option(None, help="A tuned configuration (from `otmix tune`) instead of the "
                                       "data set's fixed one."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
    plot: Path | None = typer.Option(None, help="Write a t-SNE of the fused codes (first seed) here (.png)."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Cluster every view of an unaligned multi-view data set with MWAE + OTM; print and save the scores."""
    from .cluster_job import run_clustering
    from .data import load_dataset, load_path

    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    _check_outputs(json_out, plot, "--plot")
    overrides = {k: v for k, v in {"epochs": epochs, "w_otm": w_otm, "mix": mix, "readout": readout,
                                   "device": device}.items() if v is not None}
    try:
        _check_device(device)
        tuned = None
        if config is not None:
            from .tune import load_config, load_tuning

            overrides = {**load_config(config), **overrides}
            tuned = {"file": str(config), **load_tuning(config)}
            if tuned.get("selected_by_labels"):
                console.print(f"note: {config} was selected by LABELS (otmix tune --select-by-labels)")
        ds = load_dataset(dataset, preprocessing=preprocess) if dataset else load_path(data, preprocess or "zscore")
        if clusters is not None and clusters < 1:
            raise ValueError(f"--clusters must be >= 1, got {clusters}")
        console.print(f"{ds.name}: {ds.n_views} views, rows {ds.n_samples}, features "
                      f"{[X.shape[1] for X in ds.Xs]}, preprocessing {ds.preprocessing}")

        def on_seed(run) -> None:
            if run.overall:
                console.print(f"seed {run.seed}: ACC {run.overall['acc']:.3f}  NMI {run.overall['nmi']:.3f}  "
                              f"({run.epochs_run} epochs, {run.seconds:.1f} s)")
            else:
                console.print(f"seed {run.seed}: done ({run.epochs_run} epochs, {run.seconds:.1f} s; no labels)")

        payload, runs = run_clustering(ds, seeds=range(seeds), aligned=not unaligned, n_clusters=clusters,
                                       overrides=overrides, verbose=not quiet, on_seed=on_seed,
                                       keep_estimators=1 if plot is not None else 0)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if tuned is not None:
        payload["tuned"] = tuned
    if payload["metrics"]:
        console.print(_scores_table(payload))
    console.print(f"done in {payload['seconds']:.1f} s")
    if plot is not None:
        from .report.figures import fused_codes_per_sample, plot_fused_tsne

        est = runs[0].estimator
        codes = fused_codes_per_sample(est.plans_, est.fused_codes_)
        ys = None if runs[0].ys is None else [y[rows] for y, rows in zip(runs[0].ys, est.support_)]
        plot_fused_tsne(codes, ys, plot, title=f"{ds.name}: fused codes, seed {runs[0].seed}")
        console.print(f"wrote {plot}")
    if json_out is not None:
        write_json_atomic(json_out, payload)
        console.print(f"wrote {json_out}")


@app.command()
def supervised(
    dataset: str = typer.Option("avmnist", help="avmnist (FSDD audio + MNIST image, from $OTMIX_DATA) or diabetes2."),
    fusion: str = typer.Option("late", help="late, tf, lrtf, mfm or mi."),
    otm_weight: float = typer.Option(1.0, "--otm-weight", help="β of Eq. 7 for the OTM arm (the other arm has 0)."),
    folds: int = typer.Option(5, help="Cross-validation folds of the training split."),
    epochs: int | None = typer.Option(None, min=1, help="Epochs per fold (default 20)."),
    seed: int = typer.Option(0, help="Seed for the pairing, the folds and the models."),
    unaligned: bool = typer.Option(False, "--unaligned", help="Permute each modality's training rows on its own."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
    plot_noise: Path | None = typer.Option(None, "--plot-noise", help="Write the noise curves here (.png)."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Train a fusion model with and without OTM augmentation; test score, one modality alone, noise curves."""
    from .data.supervised import load_supervised

    _check_outputs(json_out, plot_noise, "--plot-noise")
    overrides: dict = {"epochs": epochs} if epochs is not None else {}
    if unaligned:
        overrides["unaligned"] = True
    if device is not None:
        overrides["device"] = device
    try:
        _check_device(device)
        from .models.fusion import FUSIONS

        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        if not (math.isfinite(otm_weight) and otm_weight >= 0):
            raise ValueError(f"--otm-weight (β) must be a finite number >= 0, got {otm_weight}")
        data = load_supervised(dataset, random_state=seed)
        console.print(f"{data.name}: {data.task}, modalities {data.modality_names}, train {len(data.y_train)} "
                      f"rows, test {len(data.y_test)} rows; {fusion} fusion, β = {otm_weight}, {folds} folds")
        payload = _run_supervised_with_bar(data, fusion, otm_weight, folds, seed, overrides, quiet)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    metric = payload["metric"]
    table = Table(title=f"{payload['dataset']}, {fusion} fusion: test {metric.upper()} of the model chosen on each "
                        f"fold's validation split, mean ± std over {folds} folds")
    table.add_column("")
    table.add_column("fused", justify="right")
    for name in payload["modalities"]:
        table.add_column(f"{name} alone", justify="right")
    for arm in ("without_otm", "with_otm"):
        block = payload[arm]
        table.add_row(arm.replace("_", " "), _fmt(block[metric]), *(_fmt(b) for b in block["single_modality"]))
    console.print(table)
    console.print(f"done in {payload['seconds']:.1f} s")
    if plot_noise is not None:
        from .report.figures import plot_noise_curves

        plot_noise_curves(payload, plot_noise)
        console.print(f"wrote {plot_noise}")
    if json_out is not None:
        write_json_atomic(json_out, payload)
        console.print(f"wrote {json_out}")


def _run_supervised_with_bar(data, fusion, otm_weight, folds, seed, overrides, quiet) -> dict:
    from .supervised_job import run_supervised

    def on_fold(arm: str, fold: int, test: float) -> None:
        console.print(f"{arm.replace('_', ' ')}, fold {fold}: test {test:.4f}")

    if quiet:
        return run_supervised(data, fusion, otm_weight, folds, seed, overrides, on_fold=on_fold)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    epochs = overrides.get("epochs", 20)
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
