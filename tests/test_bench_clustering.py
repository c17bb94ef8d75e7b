"""The clustering benchmark harness: planning, resumable results, tables (on the built-in digits2)."""

import json

import pytest
from typer.testing import CliRunner

from otmix.bench_clustering import PAPER_TABLE2, markdown, plan_cells, run_benchmark
from otmix.cli import app

FAST = ["kmeans-concat", "kmeans-per-view"]


def test_plan_leaves_aligned_only_methods_out_of_the_unaligned_setting():
    cells = plan_cells(["orl"], ["aligned", "unaligned"], ["mcca", "gwmac"], [0, 1])
    assert ("orl", "unaligned", "mcca", 0) not in cells
    assert len(cells) == 2 * 2 + 2  # mcca and gwmac aligned, gwmac unaligned
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        plan_cells(["orl"], ["aligned"], ["nope"], [0])
    with pytest.raises(ValueError, match="unknown setting"):
        plan_cells(["orl"], ["sideways"], ["mcca"], [0])


def test_results_are_written_per_cell_and_a_rerun_only_does_what_is_missing(tmp_path):
    results = tmp_path / "bench.json"
    seen = []
    payload = run_benchmark(["digits2"], ["aligned", "unaligned"], FAST, [0, 1], results,
                            on_cell=lambda cell, done, total: seen.append((done, total)))
    assert seen[-1] == (6, 6) and len(payload["cells"]) == 6
    stored = json.loads(results.read_text())
    assert set(stored["cells"]) == set(payload["cells"])
    cell = stored["cells"]["digits2|aligned|kmeans-concat|0"]
    assert 0.0 <= cell["scores"]["acc"] <= 1.0 and len(cell["per_view"]) == 2
    # an interrupted run: drop one finished cell, run again — only that cell is computed
    del stored["cells"]["digits2|unaligned|kmeans-per-view|1"]
    results.write_text(json.dumps(stored))
    again = []
    rerun = run_benchmark(["digits2"], ["aligned", "unaligned"], FAST, [0, 1], results,
                          on_cell=lambda cell, done, total: again.append(cell["method"]))
    assert again == ["kmeans-per-view"] and len(rerun["cells"]) == 6
    summary = rerun["summary"]["digits2|aligned|kmeans-concat"]
    assert summary["n_seeds"] == 2 and set(summary["acc"]) == {"mean", "std"}
    # K-means per view labels each view alone: its pooled score is below its per-view mean
    per_view = rerun["summary"]["digits2|aligned|kmeans-per-view"]
    assert per_view["acc"]["mean"] < per_view["per_view_mean"]["acc"]["mean"]


def test_markdown_marks_aligned_only_methods_and_the_best_score(tmp_path):
    payload = run_benchmark(["digits2"], ["aligned"], FAST, [0], None)
    text = markdown(payload["summary"], ["digits2"], ["aligned"], FAST)
    assert "K-means concat †" in text and "K-means per view |" in text
    assert text.count("| **") == 5  # one bold best in each of ACC, purity, NMI, ARI and per-view NMI
    assert PAPER_TABLE2[("orl", "unaligned", "gwmac")] == 0.5118


def test_corrupt_results_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bench.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        run_benchmark(["digits2"], ["aligned"], FAST, [0], bad)


def test_cli_runs_and_reports_bad_names(tmp_path):
    runner = CliRunner()
    out, md = tmp_path / "b.json", tmp_path / "b.md"
    result = runner.invoke(app, ["bench", "clustering", "--datasets", "digits2", "--methods", "kmeans-concat",
                                 "--seeds", "1", "--aligned", "aligned", "--json", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    assert "K-means concat †" in md.read_text() and json.loads(out.read_text())["cells"]
    result = runner.invoke(app, ["bench", "clustering", "--datasets", "nope", "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "nope" in result.output and not (tmp_path / "c.json").exists()


def test_a_cell_run_with_other_parameters_is_run_again(tmp_path, monkeypatch):

    results = tmp_path / "bench.json"
    run_benchmark(["digits2"], ["aligned"], ["kmeans-concat"], [0], results)
    stored = json.loads(results.read_text())
    stored["cells"]["digits2|aligned|kmeans-concat|0"]["params"] = {"n_init": 3}  # ran with other settings
    results.write_text(json.dumps(stored))
    ran = []
    run_benchmark(["digits2"], ["aligned"], ["kmeans-concat"], [0], results,
                  on_cell=lambda cell, done, total: ran.append(cell["method"]))
    assert ran == ["kmeans-concat"]


def test_a_failing_cell_names_itself_and_keeps_finished_cells(tmp_path, monkeypatch):
    import otmix.bench_clustering as bench

    def broken(n_clusters, seed, params):
        raise FloatingPointError("loss became nan")

    methods = dict(bench.METHODS)
    methods["kmeans-per-view"] = bench.Method("broken", False, broken)
    monkeypatch.setattr(bench, "METHODS", methods)
    results = tmp_path / "bench.json"
    with pytest.raises(RuntimeError, match=r"digits2\|aligned\|kmeans-per-view\|0 failed: loss became nan"):
        run_benchmark(["digits2"], ["aligned"], ["kmeans-concat", "kmeans-per-view"], [0], results)
    assert list(json.loads(results.read_text())["cells"]) == ["digits2|aligned|kmeans-concat|0"]
