"""``otmix supervised``: train a fusion model with and without OTM augmentation and print the test scores."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from ._common import (
    DEVICE_HELP,
    NOT_WRITTEN,
    check_device,
    check_outputs,
    console,
    fail,
    figure_writer,
    json_writer,
    one_line,
    write_outputs,
)

SUPERVISED_EPOCHS = 20  # SupervisedConfig's default (a test holds them equal; this module must not import torch)


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
    from ..outputs import removed_on_failure

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
            from ..report.figures import noise_curves_figure

            writers[plot_noise] = figure_writer(noise_curves_figure(payload), dpi=110)
        if json_out is not None:
            writers[json_out] = json_writer(payload)
        write_outputs(writers)


def _run_supervised(dataset, fusion, otm_weight, folds, epochs, seed, unaligned, device, quiet,
                    label_aware=None) -> dict:
    from ..data.supervised import load_supervised

    overrides: dict = {"epochs": epochs} if epochs is not None else {}
    if unaligned:
        overrides["unaligned"] = True
    if label_aware is not None:
        overrides["label_aware"] = label_aware
    if device is not None:
        overrides["device"] = device
    try:
        check_device(device)
        from ..models.fusion import FUSIONS

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
    from ..formatting import mean_std_text, spread_note

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
    from ..jobs.supervised import run_supervised

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
