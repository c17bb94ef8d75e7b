"""The clustering benchmark harness: planning, resumable results, tables (on the built-in digits2)."""

import json

import numpy as np
import pytest
from scipy.stats import rankdata
from typer.testing import CliRunner

import otmix.data
import otmix.jobs.benchmark as bench
from otmix.cli import app
from otmix.data import Dataset
from otmix.jobs.benchmark import PAPER_TABLE2, cell_key, markdown, plan_cells, run_benchmark

FAST = ["kmeans-concat", "kmeans-per-view"]


def test_plan_leaves_aligned_only_methods_out_of_the_unaligned_setting():
    cells = plan_cells(["orl"], ["aligned", "unaligned"], ["mcca", "gwmac"], [0, 1])
    assert ("orl", "unaligned", "gwmac", 0, None) in cells and ("orl", "unaligned", "mcca", 0, None) not in cells
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


runner = CliRunner()


def test_cli_runs_and_reports_bad_names(tmp_path):
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
    import otmix.jobs.benchmark as bench

    def broken(n_clusters, seed, params):
        raise FloatingPointError("loss became nan")

    methods = dict(bench.METHODS)
    methods["kmeans-per-view"] = bench.Method("broken", False, broken)
    monkeypatch.setattr(bench, "METHODS", methods)
    results = tmp_path / "bench.json"
    with pytest.raises(RuntimeError, match=r"digits2\|aligned\|kmeans-per-view\|0 failed: loss became nan"):
        run_benchmark(["digits2"], ["aligned"], ["kmeans-concat", "kmeans-per-view"], [0], results)
    assert list(json.loads(results.read_text())["cells"]) == ["digits2|aligned|kmeans-concat|0"]


# ---------------------------------------------------------------- link fractions


def test_plan_with_link_fractions():
    cells = plan_cells(["orl"], ["unaligned"], ["otm", "pvc", "gwmac"], [0, 1], [0, 0.1, 0.1, 0.2])
    assert len(cells) == 2 * (2 + 3 + 3)  # repeats dropped; pvc needs links, so not at 0
    assert ("orl", "unaligned", "pvc", 1, 0.2) in cells and ("orl", "unaligned", "pvc", 0, 0.0) not in cells
    assert ("orl", "unaligned", "gwmac", 0, 0.0) in cells
    with pytest.raises(ValueError, match="the setting must be unaligned, got aligned"):
        plan_cells(["orl"], ["aligned"], ["otm"], [0], [0.1])
    with pytest.raises(ValueError, match=r"link fraction must be a number in \[0, 1\), got 1"):
        plan_cells(["orl"], ["unaligned"], ["otm"], [0], [0.1, 1])
    assert cell_key("orl", "unaligned", "otm", 3, 0.05) == "orl|unaligned|links=0.05|otm|3"
    assert cell_key("orl", "unaligned", "otm", 3) == "orl|unaligned|otm|3"  # no links: today's key


def test_a_method_whose_baseline_is_missing_is_refused_before_any_cell(monkeypatch):
    methods = dict(bench.METHODS)
    methods["later"] = bench.Method("not yet", False, lambda *a: None, takes_links=True, baseline="NotThereYet")
    monkeypatch.setattr(bench, "METHODS", methods)
    with pytest.raises(ValueError, match="method 'later' needs otmix.baselines.NotThereYet, which this otmix does "
                                         "not have"):
        plan_cells(["digits2"], ["unaligned"], ["reference", "later"], [0], [0.1])


N, K = 60, 3


def _entity_dataset(name="entities", data_dir=None, preprocessing=None):
    """Two aligned views whose first column is the entity id (view 1 adds 1000), labels entity % 3."""
    e = np.arange(N)
    rng = np.random.default_rng(0)
    Xs = [np.c_[e + 1000.0 * m, rng.normal(size=(N, 2))] for m in range(2)]
    return Dataset("entities", Xs, [e % K, e % K], ["a", "b"], ["none", "none"], "test")


class EntityMethod:
    """A link-taking stand-in (issue 14 API): every row's entity from its first column, so its plans are true."""

    fits: list = []

    def __init__(self, n_clusters, random_state=None, params=None):  # a Method's build(n_clusters, seed, params)
        self.n_clusters = n_clusters

    def fit(self, Xs, links=None):
        entities = [rankdata(X[:, 0], method="ordinal").astype(int) - 1 for X in Xs]
        for row in [] if links is None else links:
            assert entities[0][row[0]] == entities[1][row[1]], "a link joins two entities"
        type(self).fits.append(None if links is None else len(links))
        self.labels_ = [e % self.n_clusters for e in entities]
        plan = (entities[0][:, None] == entities[1][None, :]) / N
        self.pair_plans_ = {(0, 1): plan}
        self.alignability_ = [{"views": [0, 1], "score": 0.8, "alignable": True}]
        return self

    def fit_predict(self, Xs, y=None):
        return self.fit(Xs).labels_


@pytest.fixture
def entity_bench(monkeypatch):
    EntityMethod.fits = []
    monkeypatch.setattr(otmix.data, "load_dataset", _entity_dataset)
    methods = dict(bench.METHODS)
    methods["entity"] = bench.Method("entity oracle", False, EntityMethod, takes_links=True)
    methods["entity-needs"] = bench.Method("entity, links needed", False, EntityMethod, takes_links=True,
                                           needs_links=True)
    monkeypatch.setattr(bench, "METHODS", methods)
    monkeypatch.setattr(bench, "method_params", lambda dataset, method, config_dir=None: {})
    return EntityMethod


def test_linked_cells_fit_with_the_seeds_links_and_score_the_plans(tmp_path, entity_bench):
    results = tmp_path / "bench.json"
    payload = run_benchmark(["entities"], ["unaligned"], ["entity", "entity-needs", "reference"], [0, 1], results,
                            fractions=[0, 0.1])
    assert sorted(entity_bench.fits, key=str) == [6, 6, 6, 6, None, None]  # round(0.1 * 60); fraction 0: no links
    cells = json.loads(results.read_text())["cells"]
    assert len(cells) == 2 * (2 + 1 + 2) and "entities|unaligned|links=0|entity-needs|0" not in cells
    cell = cells["entities|unaligned|links=0.1|entity|1"]
    assert cell["links"] == {"fraction": 0.1, "n": 6, "used": True} and cell["fraction"] == 0.1
    assert cell["alignment"]["class_mass"] == [1.0] and cell["alignment"]["twin_rate"] == [1.0]
    assert cell["alignability"] == [{"views": [0, 1], "score": 0.8, "alignable": True}]
    assert cells["entities|unaligned|links=0.1|reference|0"]["links"]["used"] is False  # K-means takes no links
    assert "alignment" not in cells["entities|unaligned|links=0.1|reference|0"]
    summary = payload["summary"]["entities|unaligned|links=0.1|entity"]
    assert summary["fraction"] == 0.1 and summary["n_seeds"] == 2 and summary["acc"]["mean"] == 1.0
    assert summary["alignment"] == {"class_mass": {"mean": 1.0, "std": 0.0}, "twin_rate": {"mean": 1.0, "std": 0.0}}
    assert [v["nmi"]["mean"] for v in summary["per_view"]] == [1.0, 1.0]
    text = markdown(payload["summary"], ["entities"], ["unaligned"], ["entity", "entity-needs", "reference"],
                    [0, 0.1])
    assert "### Unaligned rows, 0 % of the entities linked" in text
    assert "### Unaligned rows, 10 % of the entities linked" in text
    assert "| view 0 ACC / NMI | view 1 ACC / NMI | class mass | twin rate |" in text
    assert text.count("| entity, links needed |") == 1  # only at 10 %
    assert "| K-means per view (reference) | 2 |" in text
    # a rerun only does what is missing: drop one linked cell
    stored = json.loads(results.read_text())
    del stored["cells"]["entities|unaligned|links=0.1|reference|1"]
    results.write_text(json.dumps(stored))
    ran = []
    run_benchmark(["entities"], ["unaligned"], ["entity", "entity-needs", "reference"], [0, 1], results,
                  on_cell=lambda cell, done, total: ran.append((cell["method"], cell["fraction"], cell["seed"])),
                  fractions=[0, 0.1])
    assert ran == [("reference", 0.1, 1)]


def test_the_linked_baselines_run_by_name(tmp_path):
    payload = run_benchmark(["digits2"], ["unaligned"], ["reference", "linked-kmeans", "pvc"], [0], None,
                            fractions=[0, 0.1])
    assert set(payload["cells"]) == {f"digits2|unaligned|links={f}|{m}|0" for f, m in [
        ("0", "reference"), ("0", "linked-kmeans"), ("0.1", "reference"), ("0.1", "linked-kmeans"), ("0.1", "pvc")]}
    linked = payload["summary"]["digits2|unaligned|links=0.1|linked-kmeans"]
    reference = payload["summary"]["digits2|unaligned|links=0.1|reference"]
    # the same per-view clusters, but with ids matched through the links the pooled score rises above the reference
    assert linked["acc"]["mean"] > reference["acc"]["mean"] + 0.1
    assert payload["cells"]["digits2|unaligned|links=0.1|pvc|0"]["links"] == {"fraction": 0.1, "n": 180, "used": True}


def test_cli_with_links(tmp_path, entity_bench):
    out, md = tmp_path / "b.json", tmp_path / "b.md"
    result = runner.invoke(app, ["bench", "clustering", "--datasets", "entities", "--methods", "entity,reference",
                                 "--links", "0,0.1", "--seeds", "1", "--json", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    assert "10 % of the entities linked" in md.read_text()
    assert set(json.loads(out.read_text())["cells"]) == {f"entities|unaligned|links={f}|{m}|0" for f in ("0", "0.1")
                                                         for m in ("entity", "reference")}


@pytest.mark.parametrize("args, match", [
    (["--links", "0,1"], "every fraction must be in [0, 1), got 1"),
    (["--links", "0.1,abc"], "--links takes comma-separated fractions"),
    (["--links", ","], "got none"),
    (["--links", "0.1", "--aligned", "both"], "runs the unaligned setting only"),
    (["--links", "0.1", "--aligned", "aligned"], "runs the unaligned setting only"),
    (["--links", "0.1", "--methods", "otm,nope"], "unknown method 'nope'"),
])
def test_cli_bad_links_exit_2_and_write_nothing(tmp_path, args, match):
    out = tmp_path / "new" / "b.json"
    result = runner.invoke(app, ["bench", "clustering", "--datasets", "digits2", *args, "--json", str(out)])
    assert result.exit_code == 2 and match in result.output, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "new").exists()
