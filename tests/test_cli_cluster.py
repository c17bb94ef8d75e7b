import json

import numpy as np
from conftest import make_blob_views
from typer.testing import CliRunner

from otmix.cli import app

runner = CliRunner()
FAST = ["--epochs", "3", "--quiet"]


def test_cluster_writes_the_documented_json(blob_file, tmp_path):
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", "--data", str(blob_file), "--seeds", "2", "--json", str(out), *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["aligned"] is False and payload["n_views"] == 2 and payload["seeds"] == [0, 1]
    assert payload["config"]["n_clusters"] == 3 and payload["config"]["epochs"] == 3
    assert set(payload["metrics"]) == {"acc", "purity", "nmi", "ari"}
    for block in payload["metrics"].values():
        assert set(block) == {"mean", "std"} and 0.0 <= block["std"] <= 1.0
    assert [v["view"] for v in payload["per_view"]] == [0, 1]
    assert {"fused", "gw"} <= set(payload["metrics_by_readout"])  # and "matched" (issue 14)
    assert payload["seconds"] > 0
    assert "ACC" in result.output and "all views" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "views.npz"]


def test_cluster_plot(blob_file, tmp_path):
    plot = tmp_path / "tsne.png"
    result = runner.invoke(app, ["cluster", "--data", str(blob_file), "--seeds", "1", "--plot", str(plot), *FAST])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_aligned_flag_keeps_rows_and_clusters_override(blob_file, tmp_path):
    out = tmp_path / "out.json"
    args = ["cluster", "--data", str(blob_file), "--aligned", "--clusters", "4", "--seeds", "1", "--json", str(out)]
    result = runner.invoke(app, [*args, *FAST])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["aligned"] is True and payload["config"]["n_clusters"] == 4


def _fails(args, tmp_path, match):
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", *args, "--json", str(out), *FAST])
    assert result.exit_code == 2, result.output
    assert match in result.output
    assert not out.exists()
    assert len(result.output.strip().splitlines()) <= 3  # a short error, no traceback
    return result


def test_bad_input_exits_2_and_writes_nothing(tmp_path, blob_file):
    _fails(["--dataset", "nope"], tmp_path, "unknown dataset")
    _fails([], tmp_path, "exactly one of")
    _fails(["--dataset", "digits2", "--data", str(blob_file)], tmp_path, "exactly one of")
    _fails(["--data", str(tmp_path / "missing.npz")], tmp_path, "missing.npz")
    Xs, ys = make_blob_views(n_rows=(60, 60), seed=1)
    bad = Xs[0].copy()
    bad[3, 1] = np.inf
    np.savez(tmp_path / "inf.npz", X0=bad, X1=Xs[1], y0=ys[0], y1=ys[1])
    _fails(["--data", str(tmp_path / "inf.npz")], tmp_path, "NaN or Inf")
    np.savez(tmp_path / "short.npz", X0=Xs[0], X1=Xs[1], y0=ys[0][:10], y1=ys[1])
    _fails(["--data", str(tmp_path / "short.npz")], tmp_path, "length")
    _fails(["--data", str(blob_file), "--clusters", "500"], tmp_path, "fewer than n_clusters")
    (tmp_path / "corrupt.mat").write_bytes(b"\x00garbage" * 20)
    _fails(["--data", str(tmp_path / "corrupt.mat")], tmp_path, "corrupt.mat")


def test_errors_after_loading_exit_2(tmp_path, blob_file):
    _fails(["--data", str(blob_file), "--mix", "bogus"], tmp_path, "mix")
    _fails(["--data", str(blob_file), "--plot", str(tmp_path / "out.xyz")], tmp_path, "--plot")
    assert not (tmp_path / "out.xyz").exists()


def test_a_missing_output_folder_is_created_and_removed_again_when_the_run_fails(blob_file, tmp_path):
    out = tmp_path / "new" / "deeper" / "x.json"
    result = runner.invoke(app, ["cluster", "--data", str(blob_file), "--seeds", "1", "--json", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    failed = tmp_path / "other" / "x.json"
    result = runner.invoke(app, ["cluster", "--dataset", "nope", "--json", str(failed), *FAST])
    assert result.exit_code == 2 and "unknown dataset" in result.output
    assert not (tmp_path / "other").exists()  # the folder made for the output went with the failed run


def test_cluster_on_real_prokaryotic(real_data, tmp_path):
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["cluster", "--dataset", "prokaryotic", "--seeds", "1", "--epochs", "2", "--quiet",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["data"]["n_samples"] == [551, 551, 551] and payload["config"]["n_clusters"] == 4
    assert 0.0 < payload["metrics"]["acc"]["mean"] <= 1.0


def test_csv_views_with_a_header_row_are_read_and_the_skipped_header_is_said(tmp_path):
    Xs, _ = make_blob_views(n_rows=(60, 50), seed=1)
    folder = tmp_path / "views"
    folder.mkdir()
    for name, X in (("a", Xs[0]), ("b", Xs[1])):
        header = ",".join(f"{name}{j}" for j in range(X.shape[1]))
        np.savetxt(folder / f"{name}.csv", X, delimiter=",", header=header, comments="")
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", "--data", str(folder), "--clusters", "3", "--seeds", "1", "--json",
                                 str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert "note: a.csv: skipped its header row (a0, a1, a2, a3, a4, ...)" in result.output
    assert "note: b.csv: skipped its header row (b0, b1, b2, b3)" in result.output
    payload = json.loads(out.read_text())
    assert payload["data"]["n_features"] == [6, 4] and payload["data"]["n_samples"] == [60, 50]
    assert len(payload["data"]["notes"]) == 2
