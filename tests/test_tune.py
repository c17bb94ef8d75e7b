import json
import sys

import numpy as np
import pytest
from conftest import make_blob_views

from otmix.jobs.cluster import dataset_config
from otmix.jobs.tune import SEARCH_SPACE, TuneResult, _redact, load_config, save_best_config, tune_clustering

optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def views():
    return make_blob_views(n_rows=(60, 50))


@pytest.fixture
def base():
    config = dataset_config(None)
    config.update(latent_dim=3, hidden_dim=16, batch_size=32)
    return config


def sqlite(tmp_path, name="tune.db"):
    return f"sqlite:///{tmp_path / name}"


def in_space(params):
    assert set(params) == set(SEARCH_SPACE)
    for name, value in params.items():
        assert SEARCH_SPACE[name].low <= value <= SEARCH_SPACE[name].high


class PruneAfterEpoch1(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return trial.last_step is not None and trial.last_step >= 1


def test_sqlite_study_is_created_and_resumed_without_extra_trials(views, base, tmp_path):
    Xs, _ = views
    storage = sqlite(tmp_path)
    seen = []
    kwargs = dict(base_params=base, storage=storage, study_name="blobs", epochs=3, ys=None)
    first = tune_clustering(Xs, 3, n_trials=2, progress=seen.append, **kwargs)
    assert (tmp_path / "tune.db").is_file()
    assert first.n_trials_done == 2 and [r["number"] for r in seen] == [0, 1]
    assert first.objective == "silhouette" and first.direction == "maximize" and not first.selected_by_labels
    assert -1.0 <= first.best_value <= 1.0
    in_space(first.best_params)

    second = tune_clustering(Xs, 3, n_trials=3, **kwargs)  # resumes: one more trial
    assert second.n_trials_done == 3 and [t["number"] for t in second.trials] == [0, 1, 2]
    assert all(t["state"] == "COMPLETE" for t in second.trials)
    # the resumed sampler does not replay the first run's random draws
    assert second.trials[2]["params"] not in (second.trials[0]["params"], second.trials[1]["params"])
    for t in second.trials:
        in_space(t["params"])

    third = tune_clustering(Xs, 3, n_trials=2, **kwargs)  # already done: no new trial
    assert third.n_trials_done == 3
    assert len(optuna.load_study(study_name="blobs", storage=storage).trials) == 3

    with pytest.raises(ValueError, match="objective 'silhouette'"):
        tune_clustering(Xs, 3, n_trials=4, **{**kwargs, "objective": "loss"})


def test_labels_objective_needs_labels_and_is_flagged(views, base):
    Xs, ys = views
    with pytest.raises(ValueError, match="needs the labels"):
        tune_clustering(Xs, 3, base_params=base, n_trials=1, storage=None, study_name="s", objective="labels")
    result = tune_clustering(Xs, 3, base_params=base, n_trials=1, storage=None, study_name="s",
                             objective="labels", ys=ys, epochs=3)
    assert result.selected_by_labels and result.direction == "maximize"
    assert 1 / 3 <= result.best_value <= 1.0


def test_unsupervised_objectives_ignore_labels(views, base, monkeypatch):
    import otmix.metrics

    def no_labels(*args, **kwargs):
        raise AssertionError("labels were scored")

    monkeypatch.setattr(otmix.metrics, "acc", no_labels)
    Xs, ys = views
    result = tune_clustering(Xs, 3, base_params=base, n_trials=1, storage=None, study_name="s",
                             objective="loss", ys=ys, epochs=3)
    assert not result.selected_by_labels and result.direction == "minimize"
    assert np.isfinite(result.best_value) and result.best_value > 0


def test_tpe_is_deterministic_for_a_seed(views, base):
    Xs, _ = views

    def first_params(seed):
        result = tune_clustering(Xs, 3, base_params=base, n_trials=1, storage=None, study_name="d",
                                 epochs=1, random_state=seed)
        return result.trials[0]["params"]

    assert first_params(7) == first_params(7)
    assert first_params(7) != first_params(8)


def test_pruner_stops_loss_trials_after_the_reported_epoch(views, base, tmp_path):
    Xs, _ = views
    storage = sqlite(tmp_path)
    result = tune_clustering(Xs, 3, base_params={**base, "patience": None}, n_trials=2, storage=storage,
                             study_name="p", objective="loss", epochs=5, pruner=PruneAfterEpoch1())
    assert [t["state"] for t in result.trials] == ["PRUNED", "PRUNED"]
    assert result.best_params is None and result.best_value is None
    for trial in optuna.load_study(study_name="p", storage=storage).trials:
        assert sorted(trial.intermediate_values) == [0, 1]  # training stopped at epoch 1 of 5
    with pytest.raises(ValueError, match="no completed trial"):
        save_best_config(result, base, tmp_path / "best.json")


def test_silhouette_reports_nothing_to_prune(views, base):
    Xs, _ = views
    result = tune_clustering(Xs, 3, base_params=base, n_trials=1, storage=None, study_name="s",
                             epochs=3, pruner=PruneAfterEpoch1())
    assert result.trials[0]["state"] == "COMPLETE"


def test_diverged_trial_is_pruned_and_the_study_goes_on(views, base, monkeypatch):
    from otmix.estimators import OTMClustering

    def diverge(self, Xs, y=None, progress=None):
        raise FloatingPointError("the training loss became nan at epoch 0; lower lr")

    monkeypatch.setattr(OTMClustering, "fit", diverge)
    Xs, _ = views
    result = tune_clustering(Xs, 3, base_params=base, n_trials=2, storage=None, study_name="nan")
    assert [t["state"] for t in result.trials] == ["PRUNED", "PRUNED"] and result.n_trials_done == 2


def test_save_and_load_config_round_trip(base, tmp_path):
    best = {"alpha": 0.25, "w_rec": 3.0, "w_otm": 0.05, "lr": 2e-3}
    result = TuneResult(best_params=best, best_value=0.7, direction="maximize", objective="silhouette",
                        n_trials_done=4, study_name="s", storage="postgresql://me:secret@host/db",
                        selected_by_labels=False, seeds=[0], epochs=3)
    path = save_best_config(result, {**base, "epochs": np.int64(60)}, tmp_path / "best.json")
    payload = json.loads(path.read_text())
    assert payload["tuned"]["objective"] == "silhouette" and payload["tuned"]["selected_by_labels"] is False
    assert payload["tuned"]["n_trials"] == 4 and payload["tuned"]["best_value"] == 0.7
    assert "secret" not in path.read_text() and payload["tuned"]["storage"] == "postgresql://me:***@host/db"
    loaded = load_config(path)
    assert loaded == {**base, **best, "epochs": 60}
    assert not list(tmp_path.glob(".best.json.*"))  # no temporary file left


@pytest.mark.parametrize("text, match", [
    ("{not json", "corrupt tuned config"),
    ('{"tuned": {}}', "no 'dataset_params'"),
    ('{"dataset_params": {"bogus": 1}}', "unknown OTMClustering parameters"),
])
def test_load_config_rejects_corrupt_files_in_one_line(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.json")


@pytest.mark.parametrize("kwargs, match", [
    ({"objective": "acc"}, "objective must be one of"),
    ({"n_trials": 0}, "n_trials must be an integer >= 1"),
    ({"storage": "sqlite:///no/such/folder/t.db"}, "does not exist"),
    ({"storage": "sqlite://t.db"}, "sqlite:///"),
    ({"base_params": {"n_clusters": 3}}, "may not set n_clusters"),
    ({"base_params": {"bogus": 3}}, "unknown OTMClustering parameters"),
    ({"seeds": ()}, "at least one seed"),
    ({"study_name": ""}, "study_name"),
])
def test_bad_arguments_raise_one_line_value_errors(views, base, kwargs, match):
    Xs, _ = views
    args = dict(base_params=base, n_trials=1, storage=None, study_name="s")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        tune_clustering(Xs, 3, **args)
    assert "\n" not in str(info.value)


def test_search_space_is_the_papers_and_read_only():
    assert (SEARCH_SPACE["alpha"].low, SEARCH_SPACE["alpha"].high, SEARCH_SPACE["alpha"].log) == (0.0, 1.0, False)
    assert all((SEARCH_SPACE[k].low, SEARCH_SPACE[k].high, SEARCH_SPACE[k].log) == (1e-2, 1e2, True)
               for k in ("w_rec", "w_otm"))
    assert (SEARCH_SPACE["lr"].low, SEARCH_SPACE["lr"].high, SEARCH_SPACE["lr"].log) == (1e-5, 5e-2, True)
    with pytest.raises(TypeError):
        SEARCH_SPACE["alpha"] = None
    with pytest.raises(AttributeError):
        SEARCH_SPACE["alpha"].low = 0.5


def test_missing_optuna_says_which_extra(views, base, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"otmix\[tune\]"):
        tune_clustering(views[0], 3, base_params=base, n_trials=1, storage=None, study_name="s")


def test_redact_keeps_urls_without_password():
    assert _redact("sqlite:///runs/t.db") == "sqlite:///runs/t.db"
    assert _redact("mysql://user:pw@localhost/db") == "mysql://user:***@localhost/db"
    assert _redact(None) is None


def test_resuming_a_study_under_another_protocol_is_refused(views, base, tmp_path):
    Xs, _ = views
    kwargs = dict(base_params=base, storage=sqlite(tmp_path), study_name="proto", n_trials=1)
    tune_clustering(Xs, 3, epochs=2, **kwargs)
    with pytest.raises(ValueError, match="other epochs"):
        tune_clustering(Xs, 3, epochs=3, **kwargs)
    with pytest.raises(ValueError, match="other views"):
        tune_clustering([Xs[0][:40], Xs[1]], 3, epochs=2, **kwargs)
