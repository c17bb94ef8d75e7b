"""`otmix tune` on a small file: a resumable SQLite study, the saved config, and `otmix cluster --config`."""

import json

import pytest
from conftest import write_blob_file
from typer.testing import CliRunner

from otmix.cli import app

runner = CliRunner()


@pytest.fixture
def blob_file(tmp_path):
    return write_blob_file(tmp_path, n_rows=(60, 50))  # views with different row counts on purpose


def test_tune_saves_a_config_that_cluster_uses_and_resumes_its_study(blob_file, tmp_path):
    pytest.importorskip("optuna")
    db, config = tmp_path / "tune.db", tmp_path / "configs" / "views.json"
    args = ["tune", "--data", str(blob_file), "--trials", "2", "--epochs", "2", "--storage", f"sqlite:///{db}",
            "--config-out", str(config)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert db.exists() and "unsupervised" in result.output
    saved = json.loads(config.read_text())
    assert saved["tuned"]["objective"] == "silhouette" and saved["tuned"]["selected_by_labels"] is False
    assert 0.0 <= saved["dataset_params"]["alpha"] <= 1.0
    again = runner.invoke(app, [*args[:4], "3", *args[5:]])  # one more trial: the study resumes
    assert again.exit_code == 0, again.output
    saved = json.loads(config.read_text())
    assert saved["tuned"]["n_trials"] == 3

    out = tmp_path / "cluster.json"
    clustered = runner.invoke(app, ["cluster", "--data", str(blob_file), "--config", str(config), "--seeds", "1",
                                    "--epochs", "2", "--quiet", "--json", str(out)])
    assert clustered.exit_code == 0, clustered.output
    assert json.loads(out.read_text())["config"]["alpha"] == saved["dataset_params"]["alpha"]


def test_tune_refuses_label_objective_without_the_flag(blob_file, tmp_path):
    result = runner.invoke(app, ["tune", "--data", str(blob_file), "--objective", "labels",
                                 "--storage", f"sqlite:///{tmp_path / 't.db'}"])
    assert result.exit_code == 2 and "--select-by-labels" in result.output
    assert not (tmp_path / "t.db").exists()
