import json

import pytest
from typer.testing import CliRunner

from otmix.cli import app

runner = CliRunner()
FAST = ["--folds", "2", "--epochs", "2", "--quiet"]


def test_supervised_regression_json_and_plot(tmp_path):
    out, png = tmp_path / "out.json", tmp_path / "noise.png"
    result = runner.invoke(app, ["supervised", "--dataset", "diabetes2", "--fusion", "lrtf", "--json", str(out),
                                 "--plot-noise", str(png), *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["dataset"] == "diabetes2" and payload["fusion"] == "lrtf" and payload["metric"] == "mae"
    for arm in ("with_otm", "without_otm"):
        block = payload[arm]
        assert set(block["mae"]) == {"mean", "std"} and len(block["folds"]) == 2
        assert 0 < block["mae"]["mean"] < 200  # in the target's units (disease progression, 25..346)
        assert len(block["single_modality"]) == 2
        assert [len(row) for row in block["noise"]["mean"]] == [6, 6]
    assert payload["config"]["otm_weight"] == 1.0 and payload["seconds"] > 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.png", "out.json"]


@pytest.mark.parametrize("args,match", [
    (["--fusion", "attention"], "unknown fusion"),
    (["--otm-weight=-1"], ">= 0"),
    (["--otm-weight", "nan"], "finite"),
    (["--dataset", "mosi"], "unknown supervised dataset"),
    (["--folds", "1"], "folds must be >= 2"),
])
def test_supervised_bad_input_exits_2(tmp_path, args, match):
    out = tmp_path / "out.json"
    base = ["supervised", "--dataset", "diabetes2", "--json", str(out), "--epochs", "1", "--quiet"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert match in result.output and not out.exists()


def test_supervised_unaligned_runs(tmp_path):
    out = tmp_path / "u.json"
    result = runner.invoke(app, ["supervised", "--dataset", "diabetes2", "--unaligned", "--json", str(out), *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["config"]["unaligned"] is True and len(payload["with_otm"]["folds"]) == 2


def test_supervised_missing_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OTMIX_DATA", str(tmp_path))
    result = runner.invoke(app, ["supervised", "--dataset", "avmnist", *FAST])
    assert result.exit_code == 2 and "OTMIX_DATA" in result.output


def test_supervised_on_real_avmnist(real_data, tmp_path):
    out = tmp_path / "av.json"
    result = runner.invoke(app, ["supervised", "--dataset", "avmnist", "--folds", "2", "--epochs", "1", "--quiet",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["metric"] == "acc" and payload["modalities"] == ["image", "audio"]
    assert payload["with_otm"]["acc"]["mean"] > 0.5  # 10 classes: far above chance after one epoch
