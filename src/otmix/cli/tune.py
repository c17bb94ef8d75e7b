"""``otmix tune``: optuna search of the clustering hyper-parameters, unsupervised unless asked otherwise."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import check_outputs, console, fail, one_line


def tune(
    dataset: str | None = typer.Option(None, help="A named data set (digits2, prokaryotic, movies, orl, orl4). Give "
                                       "it or --data.", show_default=False),
    data: Path | None = typer.Option(None, help="A user file or folder of views, as `otmix cluster`.",
                                     show_default=False),
    trials: int = typer.Option(20, min=1, help="Trials the study should hold (a resumed study runs the rest)."),
    storage: str = typer.Option("sqlite:///results/tune.db", help="optuna storage; a SQLite file makes the "
                                "search resumable."),
    study: str | None = typer.Option(None, help="Study name.",
                                     show_default="otmix-<data set>-<objective>-<setting>"),
    objective: str = typer.Option("silhouette", help="silhouette (of the fused codes) or loss (training loss); "
                                  "both unsupervised."),
    select_by_labels: bool = typer.Option(False, "--select-by-labels", help="Choose by clustering accuracy on "
                                          "the labels instead (marked as such in the saved config)."),
    seeds: int = typer.Option(1, min=1, help="Seeds per trial (the objective is their mean)."),
    epochs: int | None = typer.Option(None, min=1, help="Epochs per trial.", show_default="the data set's config"),
    unaligned: bool = typer.Option(True, "--unaligned/--aligned", help="Permute every view on its own first."),
    config_out: Path | None = typer.Option(None, "--config-out", help="Where to save the best configuration; use "
                                           "it with otmix cluster --config or otmix bench clustering --config-dir.",
                                           show_default="configs/<data set>.json, or .labels.json when selected "
                                           "by labels"),
    seed: int = typer.Option(0, help="Seed of the sampler and of the permutation."),
) -> None:
    """Search α, w_rec, w_otm and lr (the paper's ranges) with optuna TPE and pruning; save the best config."""
    import importlib.util

    from ..outputs import removed_on_failure

    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    if objective not in ("silhouette", "loss"):
        fail(f"--objective must be silhouette or loss, got {objective!r} (labels only with --select-by-labels)")
    if select_by_labels and objective != "silhouette":
        fail("--select-by-labels chooses by the labels; it cannot be combined with --objective")
    if importlib.util.find_spec("optuna") is None:
        fail("otmix tune needs optuna: pip install 'otmix[tune]'")
    chosen = "labels" if select_by_labels else objective
    # the data set's name is known before loading it (a user file is named after its stem), so both outputs,
    # the saved config and a SQLite study, are proven writable before any work
    name = dataset.lower() if dataset else Path(data).expanduser().stem
    out = config_out or Path("configs") / (f"{name}.labels.json" if select_by_labels else f"{name}.json")
    db = storage.removeprefix("sqlite:///").split("?", 1)[0] if storage.startswith("sqlite:///") else ""
    created = check_outputs(None, None, "", {"--config-out": out,
                                             "--storage": Path(db) if db and db != ":memory:" else None})
    with removed_on_failure(created):
        _tune(dataset, data, trials, storage, study, chosen, select_by_labels, seeds, epochs, unaligned, out, seed)


def _tune(dataset, data, trials, storage, study, chosen, select_by_labels, seeds, epochs, unaligned, out,
          seed) -> None:
    """The search itself, once its outputs are proven writable."""
    import logging

    from ..jobs.cluster import dataset_config
    from ..data import load_dataset, load_path
    from ..data.unalign import unalign
    from ..jobs.tune import save_best_config, tune_clustering

    try:
        ds = load_dataset(dataset) if dataset else load_path(data)
        for note in ds.notes:
            console.print(f"note: {note}")
        if ds.n_clusters is None:
            raise ValueError(f"{ds.name} has no labels to count clusters from")
        Xs, ys = list(ds.Xs), list(ds.ys)
        if unaligned:
            Xs, ys, _ = unalign(Xs, ys, random_state=seed)
        name = study or f"otmix-{ds.name}-{chosen}-{'unaligned' if unaligned else 'aligned'}"
        base = dataset_config(ds.name)
        logging.getLogger("optuna").setLevel(logging.WARNING)

        def progress(trial: dict) -> None:
            value = "pruned" if trial.get("value") is None else f"{trial['value']:.4f}"
            console.print(f"trial {trial['number']}: {value} {trial.get('params', {})}")

        console.print(f"{ds.name}: tuning {chosen} over {trials} trials in {storage} (study {name})"
                      + (" — selecting by LABELS" if select_by_labels else " — unsupervised"))
        result = tune_clustering(Xs, ds.n_clusters, base_params=base, n_trials=trials, storage=storage,
                                 study_name=name, objective=chosen, ys=ys if select_by_labels else None,
                                 seeds=range(seeds), epochs=epochs, random_state=seed, progress=progress)
        path = save_best_config(result, base, out)
    except (ValueError, FileNotFoundError, ImportError, OSError) as exc:
        fail(one_line(exc))
    console.print(f"best {chosen} {result.best_value:.4f} with {result.best_params}; "
                  f"{result.n_trials_done} trials in the study")
    console.print(f"wrote {path} (use: otmix cluster --dataset {ds.name} --config {path})")
