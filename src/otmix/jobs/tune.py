"""Hyper-parameter search for :class:`otmix.OTMClustering` with Optuna (the ``otmix[tune]`` extra).

The search covers the paper's ranges (:data:`SEARCH_SPACE`); every other parameter
stays at the data set's fixed configuration (``base_params``). Model selection is
**unsupervised by default** (silhouette of the fused codes); labels are used only
when the caller asks for ``objective="labels"`` explicitly and passes them, and the
result then says so (``selected_by_labels=True``): such a configuration must not be
reported as an unsupervised result.

A study lives in an Optuna storage (e.g. ``sqlite:///study.db``); calling
:func:`tune_clustering` again with the same storage and study name resumes it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..params import check_int


@dataclass(frozen=True)
class Range:
    """A float search range; ``log=True`` samples log-uniformly."""

    low: float
    high: float
    log: bool = False


#: The searched parameters and their ranges (paper): ``alpha`` uniform on [0, 1];
#: ``w_rec`` and ``w_otm`` log-uniform on [1e-2, 1e2]; ``lr`` log-uniform on [1e-5, 5e-2].
#: Read-only; all other parameters keep the data set's configuration.
SEARCH_SPACE: MappingProxyType[str, Range] = MappingProxyType({
    "alpha": Range(0.0, 1.0),
    "w_rec": Range(1e-2, 1e2, log=True),
    "w_otm": Range(1e-2, 1e2, log=True),
    "lr": Range(1e-5, 5e-2, log=True),
})

#: ``objective -> optimisation direction``.
OBJECTIVES: MappingProxyType[str, str] = MappingProxyType(
    {"silhouette": "maximize", "loss": "minimize", "labels": "maximize"}
)

# Parameters the search sets itself; they may not appear in ``base_params``.
_RESERVED = ("n_clusters", "random_state", "verbose")


@dataclass
class TuneResult:
    """Outcome of :func:`tune_clustering`.

    Attributes
    ----------
    best_params : dict or None
        The searched parameters (keys of :data:`SEARCH_SPACE`) of the best complete trial;
        ``None`` when no trial of the study completed (all pruned or failed).
    best_value : float or None
        Objective value of that trial.
    direction : {"maximize", "minimize"}
    objective : {"silhouette", "loss", "labels"}
    n_trials_done : int
        Finished trials of the study (all runs of it together, any state).
    study_name, storage : str, str or None
    selected_by_labels : bool
        True only for ``objective="labels"``: the choice used the ground-truth labels.
    trials : list of dict
        ``{"number", "params", "value", "state"}`` of every trial of the study.
    seeds : list of int
        The estimator seeds every trial was scored over.
    epochs : int or None
        The epoch override used while tuning (``None``: the base configuration's).
    """

    best_params: dict[str, float] | None
    best_value: float | None
    direction: str
    objective: str
    n_trials_done: int
    study_name: str
    storage: str | None
    selected_by_labels: bool
    trials: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    epochs: int | None = None


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("hyper-parameter search needs optuna: pip install 'otmix[tune]'") from None
    return optuna


def _estimator_params() -> set[str]:
    from ..estimators import OTMClustering

    return set(OTMClustering().get_params())


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _redact(storage: str | None) -> str | None:
    """The storage URL without a password (``scheme://user:***@host``), for files and messages."""
    if storage is None:
        return None
    return re.sub(r"^([A-Za-z0-9+.\-]+://[^:/@]*):[^@/]*@", r"\1:***@", storage)


def _check_storage(storage: str | None) -> None:
    if storage is None:
        return
    if not isinstance(storage, str) or not storage:
        raise ValueError(f"storage must be an Optuna storage URL such as 'sqlite:///study.db', got {storage!r}")
    if storage.startswith("sqlite:"):
        if not storage.startswith("sqlite:///"):
            raise ValueError(f"a SQLite storage URL starts with 'sqlite:///', got {storage!r}")
        db = storage[len("sqlite:///"):].split("?", 1)[0]
        if not db or db == ":memory:":
            return
        folder = Path(db).parent
        if not folder.is_dir():
            raise ValueError(f"the folder {str(folder)!r} of the SQLite storage does not exist")


def _check_base(base_params: Any) -> dict[str, Any]:
    if not isinstance(base_params, dict):
        raise ValueError(f"base_params must be a dict of OTMClustering parameters, got {type(base_params).__name__}")
    reserved = sorted(set(base_params) & set(_RESERVED))
    if reserved:
        raise ValueError(f"base_params may not set {', '.join(reserved)}; tune_clustering sets them")
    unknown = sorted(set(base_params) - _estimator_params())
    if unknown:
        raise ValueError(f"unknown OTMClustering parameters in base_params: {', '.join(map(str, unknown))}")
    return {k: _plain(v) for k, v in base_params.items()}


def _check_labels(Xs: Sequence[Any], ys: Sequence[Any]) -> list[np.ndarray]:
    if len(ys) != len(Xs):
        raise ValueError(f"ys has {len(ys)} label vectors but there are {len(Xs)} views")
    out = []
    for m, (X, y) in enumerate(zip(Xs, ys)):
        y = np.asarray(y).ravel()
        if y.shape[0] != np.shape(X)[0]:
            raise ValueError(f"view {m} has {np.shape(X)[0]} rows but {y.shape[0]} labels")
        out.append(y)
    return out


def silhouette(codes: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score of ``codes`` under ``labels``; -1 where it is undefined (one cluster, or one per point).

    Examples
    --------
    >>> silhouette(np.zeros((4, 2)), np.zeros(4, dtype=int))
    -1.0
    """
    from sklearn.metrics import silhouette_score

    codes, labels = np.asarray(codes, dtype=np.float64), np.asarray(labels).ravel()
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels > codes.shape[0] - 1 or not np.isfinite(codes).all():
        return -1.0
    return float(silhouette_score(codes, labels))


def _trial_record(trial: Any) -> dict[str, Any]:
    value = trial.value if trial.values is not None else None
    return {"number": int(trial.number), "params": dict(trial.params), "value": value, "state": trial.state.name}


def _sampler_seed(random_state: int, n_done: int) -> int:
    # A resumed run must not replay the random start-up draws of the first run: mix in the trials done so far.
    return int(np.random.SeedSequence([int(random_state), int(n_done)]).generate_state(1)[0])


def tune_clustering(
    Xs: Sequence[np.ndarray],
    n_clusters: int,
    *,
    base_params: dict[str, Any],
    n_trials: int,
    storage: str | None,
    study_name: str,
    objective: str = "silhouette",
    ys: Sequence[np.ndarray] | None = None,
    seeds: Sequence[int] = (0,),
    epochs: int | None = None,
    random_state: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    pruner: Any = None,
) -> TuneResult:
    """Search :data:`SEARCH_SPACE` for :class:`~otmix.OTMClustering` on the views ``Xs``.

    Every trial samples ``alpha``, ``w_rec``, ``w_otm`` and ``lr`` with a TPE sampler,
    fits one estimator per seed of ``seeds`` on the views as given (unaligned; they are
    not permuted again) with the other parameters from ``base_params``, and scores it.

    Parameters
    ----------
    Xs : list of arrays (N_m, D_m)
        The views, unaligned as given.
    n_clusters : int
    base_params : dict
        The data set's fixed configuration (e.g. :func:`otmix.jobs.cluster.dataset_config`);
        keys of :data:`SEARCH_SPACE` in it are overridden by each trial. ``n_clusters``,
        ``random_state`` and ``verbose`` may not appear.
    n_trials : int >= 1
        The total number of trials the study should have. When the study already exists
        in ``storage`` (a resumed run), only ``max(0, n_trials - finished)`` new trials
        are run, where ``finished`` counts its completed, pruned and failed trials.
    storage : str or None
        Optuna storage URL, e.g. ``"sqlite:///runs/tune.db"`` (the folder must exist);
        ``None`` keeps the study in memory (nothing to resume).
    study_name : str
        The study in ``storage``; created if absent, loaded (resumed) otherwise. A study
        remembers its objective: resuming with another one is an error.
    objective : {"silhouette", "loss", "labels"}
        ``"silhouette"`` (default, maximise): silhouette score of the read-out's fused
        codes ``fused_codes_`` under ``fused_labels_`` (-1 where undefined), mean over
        seeds. It is scale free, so trials with different loss weights compare fairly.
        ``"loss"`` (minimise): the total training loss of the epoch whose weights are
        kept (``history_["total"][best_epoch]``), mean over seeds. Losses of trials with
        different ``w_rec``/``w_otm`` are **not on one scale** (larger weights, larger
        loss), so this objective favours small weights; it is offered for the paper's
        protocol and for pruning, not as the default.
        ``"labels"`` (maximise): clustering accuracy (ACC over all samples of all views)
        against ``ys``, mean over seeds. Supervised: only with ``ys`` given and this
        objective named explicitly; the result has ``selected_by_labels=True``.
    ys : list of arrays, optional
        Labels per view, aligned with ``Xs``; read only when ``objective="labels"``
        (ignored otherwise).
    seeds : sequence of int
        Estimator seeds every trial is scored over.
    epochs : int, optional
        Overrides ``base_params["epochs"]`` while tuning (shorter searches).
    random_state : int
        Seeds the TPE sampler. A fresh study with the same seed samples the same first
        trials; a resumed run seeds it from ``(random_state, finished trials)`` so that it
        does not repeat the random start-up trials of the earlier run.
    progress : callable(record), optional
        Called after every trial with ``{"number", "params", "value", "state"}``.
    pruner : optuna.pruners.BasePruner, optional
        Default: ``MedianPruner(n_warmup_steps=warmup_epochs)``. Intermediate values are
        reported only for ``objective="loss"``: the epoch's total loss of the first seed,
        at step = epoch; a trial the pruner stops is recorded as PRUNED. The other
        objectives report nothing per epoch, so no trial of theirs is pruned.

    Returns
    -------
    TuneResult

    Notes
    -----
    A trial whose training diverges (``FloatingPointError``: a non-finite loss) is
    recorded as PRUNED (Optuna's state for "stopped, no value") with the message in
    its user attribute ``"error"``; the study goes on. Other exceptions fail the trial
    (state FAIL) and propagate, as in Optuna.
    """
    optuna = _import_optuna()
    from ..estimators import OTMClustering
    from ..metrics import acc

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if objective == "labels" and ys is None:
        raise ValueError("objective 'labels' needs the labels ys; the unsupervised objectives are silhouette and loss")
    n_trials = check_int("n_trials", n_trials, low=1)
    n_clusters = check_int("n_clusters", n_clusters, low=2)
    random_state = check_int("random_state", random_state, low=0)
    if epochs is not None:
        epochs = check_int("epochs", epochs, low=1)
    if not isinstance(study_name, str) or not study_name.strip():
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}")
    seeds = [check_int("every seed", s, low=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    _check_storage(storage)
    params = _check_base(base_params)
    if epochs is not None:
        params["epochs"] = epochs
    if not isinstance(Xs, list | tuple) or len(Xs) < 1:
        raise ValueError("Xs must be a list of views (arrays of shape samples x features)")
    labels = _check_labels(Xs, ys) if objective == "labels" else None
    direction = OBJECTIVES[objective]
    y_all = np.concatenate(labels) if labels is not None else None

    def run_trial(trial: Any) -> float:
        trial_params = dict(params)
        for name, rng in SEARCH_SPACE.items():
            trial_params[name] = trial.suggest_float(name, rng.low, rng.high, log=rng.log)

        def report(epoch: int, losses: dict[str, float]) -> None:
            if math.isfinite(losses["total"]):
                trial.report(float(losses["total"]), int(epoch))
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        values = []
        for i, seed in enumerate(seeds):
            hook = report if objective == "loss" and i == 0 else None
            est = OTMClustering(n_clusters=n_clusters, random_state=seed, **trial_params)
            try:
                est.fit(list(Xs), progress=hook)
            except FloatingPointError as exc:
                trial.set_user_attr("error", " ".join(str(exc).split())[:300])
                raise optuna.TrialPruned(f"diverged: {exc}") from None
            if objective == "silhouette":
                values.append(silhouette(est.fused_codes_, est.fused_labels_))
            elif objective == "loss":
                values.append(float(est.history_["total"][est.history_["best_epoch"][0]]))
            else:
                values.append(acc(y_all, np.concatenate(est.labels_)))
        return float(np.mean(values))

    study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True, direction=direction)
    stored = study.user_attrs.get("objective")
    if stored is None:
        study.set_user_attr("objective", objective)
    elif stored != objective:
        raise ValueError(f"study {study_name!r} was run with objective {stored!r}, not {objective!r}; "
                         "choose another study_name")
    protocol = {"seeds": [int(x) for x in seeds], "epochs": epochs, "views": [list(np.shape(X)) for X in Xs],
                "base_params": {k: _plain(v) for k, v in params.items()}}
    stored_protocol = study.user_attrs.get("protocol")
    if stored_protocol is None:
        study.set_user_attr("protocol", protocol)
    elif stored_protocol != json.loads(json.dumps(protocol)):
        changed = [k for k in protocol if json.loads(json.dumps(protocol[k])) != stored_protocol.get(k)]
        raise ValueError(f"study {study_name!r} was run with other {', '.join(changed)}; its trials would not "
                         "compare: choose another study_name")
    n_done = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=_sampler_seed(random_state, n_done))
    study.pruner = pruner if pruner is not None else optuna.pruners.MedianPruner(
        n_warmup_steps=int(params.get("warmup_epochs", 0) or 0))
    remaining = max(0, n_trials - n_done)
    if remaining:
        callbacks = [lambda _study, trial: progress(_trial_record(trial))] if progress is not None else None
        study.optimize(run_trial, n_trials=remaining, callbacks=callbacks, catch=())
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if complete else None
    return TuneResult(
        best_params=dict(best.params) if best is not None else None,
        best_value=float(best.value) if best is not None else None,
        direction=direction,
        objective=objective,
        n_trials_done=sum(t.state.is_finished() for t in trials),
        study_name=study_name,
        storage=storage,
        selected_by_labels=objective == "labels",
        trials=[_trial_record(t) for t in trials],
        seeds=seeds,
        epochs=epochs,
    )


def save_best_config(result: TuneResult, base_params: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the tuned configuration of a data set as JSON (atomically).

    The file is ``{"dataset_params": base_params updated with result.best_params,
    "tuned": {"objective", "selected_by_labels", "best_value", "n_trials", "study_name",
    "storage", "seeds", "epochs"}}``; :func:`load_config` reads the parameters back.
    ``epochs`` records the tuning override; ``dataset_params`` keeps the base epochs.
    A password in the storage URL is not written.

    Raises
    ------
    ValueError
        When no trial completed (``result.best_params is None``).
    """
    if result.best_params is None:
        raise ValueError(f"study {result.study_name!r} has no completed trial; nothing to save")
    params = {k: _plain(v) for k, v in _check_base(dict(base_params)).items()}
    params.update({k: float(v) for k, v in result.best_params.items()})
    payload = {
        "dataset_params": params,
        "tuned": {
            "objective": result.objective,
            "selected_by_labels": bool(result.selected_by_labels),
            "best_value": result.best_value,
            "n_trials": int(result.n_trials_done),
            "study_name": result.study_name,
            "storage": _redact(result.storage),
            "seeds": list(result.seeds),
            "epochs": result.epochs,
        },
    }
    path = Path(path)
    write_json_atomic(path, payload)
    return path


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``dataset_params`` of a file written by :func:`save_best_config`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        One line, when the file is not JSON, lacks ``dataset_params`` or names unknown parameters.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tuned config {path} does not exist")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt tuned config {path}: {' '.join(str(exc).split())[:160]}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("dataset_params"), dict):
        raise ValueError(f"corrupt tuned config {path}: no 'dataset_params' object")
    try:
        return _check_base(payload["dataset_params"])
    except ValueError as exc:
        raise ValueError(f"corrupt tuned config {path}: {exc}") from None


def load_tuning(path: str | os.PathLike) -> dict[str, Any]:
    """The ``tuned`` block of a file written by :func:`save_best_config` (how it was chosen; ``{}`` if absent).

    Read after :func:`load_config` has validated the file.
    """
    import json

    tuned = json.loads(Path(path).read_text()).get("tuned", {})
    return tuned if isinstance(tuned, dict) else {}
