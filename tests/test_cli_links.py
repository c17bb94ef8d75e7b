"""`otmix cluster --links FRACTION` and `--link-file FILE`: the links reach the fit, the JSON reports them, and
every bad input is one line, exit 2, nothing written, before any training.

Most tests run the command with a stand-in estimator that knows the true entity of every row (so its plans
are the true alignment and the known answers are exact: class mass 1, twin rate 1); the last one runs the
real estimator on digits2.
"""

import json

import numpy as np
import pytest
from conftest import write_blob_file
from scipy.stats import rankdata
from typer.testing import CliRunner

import otmix.estimators
import otmix.jobs.cluster
from otmix.cli import app

runner = CliRunner()
FAST = ["--epochs", "1", "--quiet"]
N, K = 60, 3


def _entity_file(folder, sizes=(N, N), name="entities.npz"):
    """Aligned views whose first column is the entity id (view m adds 1000 m; z-scoring keeps the order)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for m, n in enumerate(sizes):
        e = np.arange(n)
        arrays[f"X{m}"] = np.c_[e + 1000.0 * m, rng.normal(size=(n, 2))]
        arrays[f"y{m}"] = e % K
    path = folder / name
    np.savez(path, **arrays)
    return path


class EntityOTM:
    """A stand-in for OTMClustering (issue 14 API): reads each row's entity from its first column's rank."""

    fits: list = []

    def __init__(self, n_clusters, random_state=None, verbose=False, **params):
        self.n_clusters, self.random_state = n_clusters, random_state

    def fit(self, Xs, links=None):
        entities = [rankdata(X[:, 0], method="ordinal").astype(int) - 1 for X in Xs]
        if links is not None:
            for row in np.asarray(links):
                present = [entities[m][r] for m, r in enumerate(row) if r >= 0]
                assert len(set(present)) == 1, f"link {row} joins different entities {present}"
        type(self).fits.append({"links": None if links is None else np.asarray(links).copy(),
                                "sizes": [len(X) for X in Xs]})
        self.labels_ = [e % self.n_clusters for e in entities]
        self.labels_by_readout_ = {"matched": self.labels_, "fused": self.labels_, "gw": self.labels_}
        self.readout_ = "matched"
        self.pair_plans_, self.alignability_ = {}, []
        for a in range(len(Xs)):
            for b in range(a + 1, len(Xs)):
                plan = (entities[a][:, None] == entities[b][None, :]).astype(float)
                self.pair_plans_[(a, b)] = plan / plan.sum()
                self.alignability_.append({"views": [a, b], "score": 0.9 if self.random_state else 0.4,
                                           "alignable": bool(self.random_state)})
        self.history_ = {"total": [1.0]}
        return self

    def fit_predict(self, Xs, y=None):
        return self.fit(Xs).labels_


@pytest.fixture
def entity_otm(monkeypatch):
    EntityOTM.fits = []
    monkeypatch.setattr(otmix.estimators, "OTMClustering", EntityOTM)
    return EntityOTM


def _run(args, tmp_path):
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", *args, "--json", str(out), *FAST])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_simulated_links_reach_the_fit_and_the_json_reports_them(tmp_path, entity_otm):
    payload, output = _run(["--data", str(_entity_file(tmp_path)), "--links", "0.1", "--seeds", "3"], tmp_path)
    assert payload["links"] == {"fraction": 0.1, "n": 6, "source": "simulated"}
    assert payload["aligned"] is False
    assert [len(fit["links"]) for fit in entity_otm.fits] == [6, 6, 6]  # every link joins one entity (checked)
    assert not np.array_equal(entity_otm.fits[0]["links"], entity_otm.fits[1]["links"])  # drawn per seed
    alignment = payload["alignment"]
    assert alignment["pairs"] == [[0, 1]]
    assert alignment["class_mass"] == [{"mean": 1.0, "std": 0.0}]  # the true plan joins only same-class rows
    assert alignment["twin_rate"] == [{"mean": 1.0, "std": 0.0}]  # and every row to its twin
    assert alignment["chance_class_mass"] == [pytest.approx(1 / 3)]
    # seeds 1 and 2 call the pair alignable (0.9), seed 0 does not (0.4): mean score, majority verdict
    assert payload["alignability"] == [{"views": [0, 1], "score": pytest.approx(2.2 / 3), "score_std":
                                        pytest.approx(np.std([0.4, 0.9, 0.9])), "alignable": True,
                                        "alignable_seeds": 2, "seeds": 3}]
    assert [s[0]["score"] for s in payload["alignability_per_seed"]] == [0.4, 0.9, 0.9]
    assert payload["readout_used"] == ["matched"] * 3
    assert [v["view"] for v in payload["reference"]["per_view"]] == [0, 1]
    assert set(payload["reference"]["per_view"][0]) == {"view", "name", "acc", "purity", "nmi", "ari"}
    assert payload["metrics"]["acc"] == {"mean": 1.0, "std": 0.0}
    assert "10 % linked (6 links)" in output and "K-means alone (reference)" in output
    assert "alignability" in output and "2/3 seeds" in output and "matched read-out (used)" in output


def test_zero_links_is_a_fit_without_links(tmp_path, entity_otm):
    payload, _ = _run(["--data", str(_entity_file(tmp_path)), "--links", "0", "--seeds", "1"], tmp_path)
    assert payload["links"] == {"fraction": 0.0, "n": 0, "source": "simulated"}
    assert entity_otm.fits[0]["links"] is None
    assert payload["alignment"]["twin_rate"] == [{"mean": 1.0, "std": 0.0}]  # --links declares the rows aligned


def test_without_links_user_data_has_no_twin_rate_and_named_data_has_one(tmp_path, entity_otm, monkeypatch):
    payload, _ = _run(["--data", str(_entity_file(tmp_path)), "--seeds", "1"], tmp_path)
    assert payload["links"] is None and entity_otm.fits[0]["links"] is None
    assert payload["alignment"]["class_mass"] == [{"mean": 1.0, "std": 0.0}]
    assert payload["alignment"]["twin_rate"] is None  # user data: nobody said its rows match
    monkeypatch.setattr(otmix.jobs.cluster, "reference_labels", lambda Xs, k, seed: [np.zeros(len(X)) for X in Xs])
    payload, _ = _run(["--dataset", "digits2", "--seeds", "1"], tmp_path)
    assert payload["alignment"]["twin_rate"] is not None  # a named data set is aligned as loaded


def test_a_link_file_is_used_on_the_rows_as_given(tmp_path, entity_otm):
    data = _entity_file(tmp_path, sizes=(N, 50))
    links = tmp_path / "links.csv"
    links.write_text("view0,view1\n0,0\n7,7\n9,\n")  # rows as given: row i of both files is entity i
    result = runner.invoke(app, ["cluster", "--data", str(data), "--link-file", str(links), *FAST])
    assert result.exit_code == 2 and "links.csv, line 4: only 1 view present" in result.output
    links.write_text("view0,view1\n0,0\n7,7\n49,49\n")
    payload, output = _run(["--data", str(data), "--link-file", str(links), "--seeds", "1"], tmp_path)
    assert np.array_equal(entity_otm.fits[0]["links"], [[0, 0], [7, 7], [49, 49]])
    assert entity_otm.fits[0]["sizes"] == [N, 50]
    assert payload["aligned"] is True  # the rows kept as loaded
    assert payload["links"] == {"fraction": None, "n": 3, "source": "given", "file": str(links)}
    assert payload["alignment"]["twin_rate"] is None and payload["alignment"]["class_mass"][0]["mean"] == 1.0
    assert "rows as given, 3 links given" in output and "used as given" in output
    payload, _ = _run(["--data", str(data), "--link-file", str(links), "--aligned", "--seeds", "1"], tmp_path)
    assert payload["links"]["n"] == 3  # --aligned says the same: rows as loaded


# ---------------------------------------------------------------- bad input: one line, exit 2, nothing written


def _fails(args, tmp_path, match):
    out = tmp_path / "new" / "out.json"  # a missing folder: made for the output, removed again on failure
    result = runner.invoke(app, ["cluster", *args, "--json", str(out), *FAST])
    assert result.exit_code == 2, result.output
    assert match in result.output, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and match in lines[-1]
    assert not any(line.startswith("seed ") for line in lines)  # nothing was trained
    assert not (tmp_path / "new").exists()


def _link_file(tmp_path, text, name="links.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", "nan", "inf"])
def test_a_links_fraction_outside_zero_one(tmp_path, value):
    _fails(["--dataset", "digits2", f"--links={value}"], tmp_path, "--links must be a fraction in [0, 1)")


def test_options_that_contradict_each_other(tmp_path):
    links = _link_file(tmp_path, "0,1\n")
    _fails(["--dataset", "digits2", "--links", "0.1", "--link-file", links], tmp_path, "at most one of --links")
    _fails(["--dataset", "digits2", "--links", "0.1", "--aligned"], tmp_path, "cannot be combined with --aligned")
    _fails(["--dataset", "digits2", "--link-file", links, "--unaligned"], tmp_path, "drop --unaligned")


BAD_LINK_FILES = {
    "text cell": ("0,1\n2,two\n", "links.csv, line 2, column 2 (view 1): text cell 'two'"),
    "unreadable header": ("view0,1\n0,1\n", "links.csv, line 1: a header we cannot read"),
    "more columns than views": ("a,b,c\n0,1,2\n", "links.csv, line 1: 3 columns, but the data has 2 views"),
    "out of range": ("0,1\n2,60\n", "links.csv, line 2, column 2 (view 1): row 60 is out of range"),
    "duplicate rows": ("0,1\n0,2\n", "links.csv, line 2, column 1 (view 0): row 0 is already linked on line 1"),
    "not whole": ("0,1.5\n", "'1.5' is not a whole row index"),
    "empty": ("\n", "links.csv holds no links"),
}


@pytest.mark.parametrize("case", list(BAD_LINK_FILES))
def test_a_bad_link_file(tmp_path, case):
    text, match = BAD_LINK_FILES[case]
    _fails(["--data", str(write_blob_file(tmp_path)), "--link-file", _link_file(tmp_path, text)], tmp_path, match)


def test_a_missing_link_file_and_links_on_views_of_different_sizes(tmp_path):
    _fails(["--dataset", "digits2", "--link-file", str(tmp_path / "nope.csv")], tmp_path, "no such link file")
    data = str(_entity_file(tmp_path, sizes=(N, 50)))
    _fails(["--data", data, "--links", "0.1"], tmp_path, "views of [60, 50] rows (give your links with --link-file)")


# ---------------------------------------------------------------- the real estimator (issue 14 API)


def test_cluster_with_simulated_links_on_digits2_end_to_end(tmp_path):
    payload, output = _run(["--dataset", "digits2", "--links", "0.1", "--seeds", "1"], tmp_path)
    assert payload["links"] == {"fraction": 0.1, "n": 180, "source": "simulated"}  # round(0.1 * 1797)
    [entry] = payload["alignability"]
    assert entry["views"] == [0, 1] and isinstance(entry["alignable"], bool) and np.isfinite(entry["score"])
    alignment = payload["alignment"]
    assert alignment["pairs"] == [[0, 1]]
    for block in (*alignment["class_mass"], *alignment["twin_rate"]):
        assert 0.0 <= block["mean"] <= 1.0 and block["std"] == 0.0
    assert 0.0 < alignment["chance_class_mass"][0] < 0.2  # ten balanced classes: about 0.1
    assert [v["name"] for v in payload["reference"]["per_view"]] == ["pixels", "coarse"]
    reference = payload["reference"]["per_view"]  # K-means alone: the reference (view 1 NMI 0.32)
    assert reference[0]["nmi"]["mean"] == pytest.approx(0.62, abs=0.03)
    assert reference[1]["nmi"]["mean"] == pytest.approx(0.32, abs=0.03)
    assert set(payload["metrics"]) == {"acc", "purity", "nmi", "ari"} and len(payload["per_view"]) == 2
    assert payload["readout_used"][0] in payload["metrics_by_readout"]


# ---------------------------------------------------------------- scoring a plan (otmix.jobs.cluster)


def test_class_mass_and_twin_rate_of_a_known_plan_over_the_unlinked_rows():
    from otmix.jobs.cluster import alignment_scores, pair_alignment

    ys = [np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0])]
    perms = [np.array([2, 0, 3, 1]), np.arange(4), np.arange(4)]  # row i of view 0 holds entity perms[0][i]
    plan = np.array([[0, 0, .25, 0],      # linked (row 0 of view 0 = row 2 of view 1): left out
                     [.25, 0, 0, 0],      # twin (row 0), same class
                     [0, .1, 0, .15],     # twin (row 3), all mass on class 1
                     [0, .05, .2, 0]])    # heaviest on row 2, the twin is row 1; .05 on its class
    links = np.array([[0, 2, -1], [-1, 0, 1]])  # -1: absent from that view
    scores = pair_alignment(plan, 0, 1, ys, links, perms)
    assert scores == {"class_mass": pytest.approx(0.55 / 0.75), "twin_rate": pytest.approx(2 / 3), "chance": 0.5}
    assert pair_alignment(plan * 7, 0, 1, ys, links, perms) == pytest.approx(scores)  # any scale
    assert pair_alignment(plan, 0, 1, ys, links)["twin_rate"] is None  # twins unknown
    unlinked = pair_alignment(plan, 0, 1, ys, None, perms)
    assert unlinked["class_mass"] == pytest.approx(0.8) and unlinked["twin_rate"] == pytest.approx(0.75)
    everything = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    assert pair_alignment(plan, 0, 1, ys, everything, perms)["class_mass"] is None  # no unlinked row left
    with pytest.raises(ValueError, match=r"plan of views \(0, 1\) has shape \(4, 3\); the views have 4 and 4 rows"):
        pair_alignment(plan[:, :3], 0, 1, ys)
    block = alignment_scores({(0, 1): plan, (1, 2): np.eye(4) / 4}, ys, links, perms)
    assert block["pairs"] == [[0, 1], [1, 2]] and block["class_mass"][1] == pytest.approx(0.5)  # rows 1, 3
    assert block["twin_rate"] == [pytest.approx(2 / 3), pytest.approx(1.0)]


def test_docstring_examples_of_the_job_and_the_tables_run():
    import doctest

    import otmix.cli._common

    for module in (otmix.jobs.cluster, otmix.cli._common):
        failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert tried > 0 and failures == 0
