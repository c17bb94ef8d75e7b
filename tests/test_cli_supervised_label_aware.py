"""``otmix supervised --label-aware``: recorded in the JSON; refused in one line without class labels."""

import json

from typer.testing import CliRunner

from otmix.cli import app

runner = CliRunner()


def test_label_aware_on_a_regression_data_set_exits_2_and_writes_nothing(tmp_path):
    out, png = tmp_path / "out.json", tmp_path / "noise.png"
    result = runner.invoke(app, ["supervised", "--dataset", "diabetes2", "--unaligned", "--label-aware", "--json",
                                 str(out), "--plot-noise", str(png), "--folds", "2", "--epochs", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "label-aware plans need class labels" in result.output
    assert "fold 0" not in result.output  # refused before any training
    assert list(tmp_path.iterdir()) == []


def test_no_label_aware_is_recorded(tmp_path):
    out = tmp_path / "u.json"
    result = runner.invoke(app, ["supervised", "--dataset", "diabetes2", "--unaligned", "--no-label-aware", "--json",
                                 str(out), "--folds", "2", "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["config"]["label_aware"] is False
