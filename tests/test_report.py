"""`otmix report`: a folder of results → one self-contained HTML page, checked in a real headless Chromium."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import make_blob_views
from typer.testing import CliRunner

from otmix.cli import app
from otmix.jobs.benchmark import run_benchmark
from otmix.report.document import collect, html_report, markdown_report

runner = CliRunner()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder as a user would have it: a benchmark, a clustering run, a figure, a stray file."""
    from matplotlib.figure import Figure

    root = tmp_path_factory.mktemp("results")
    run_benchmark(["digits2"], ["aligned", "unaligned"], ["kmeans-concat", "kmeans-per-view"], [0, 1],
                  root / "bench.json")
    Xs, ys = make_blob_views(n_rows=(60, 50), seed=1)
    np.savez(root / "views.npz", X0=Xs[0], X1=Xs[1], y0=ys[0], y1=ys[1])
    (root / "runs").mkdir()
    result = runner.invoke(app, ["cluster", "--data", str(root / "views.npz"), "--seeds", "1", "--epochs", "2",
                                 "--quiet", "--json", str(root / "runs" / "blobs.json")])
    assert result.exit_code == 0, result.output
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.scatter(*np.random.default_rng(0).normal(size=(2, 200)), c=np.arange(200) % 3)
    axes.set_title("a scatter")
    figure.savefig(root / "tsne.png", dpi=80)
    (root / "notes.json").write_text(json.dumps({"something": "else"}))
    (root / ".bench.json.tmp123.json").write_text("{half a file")  # an atomic write in progress
    (root / "configs").mkdir()
    (root / "configs" / "digits2.labels.json").write_text(json.dumps(
        {"dataset_params": {"alpha": 0.3, "w_rec": 1.0, "w_otm": 0.5, "lr": 0.001},
         "tuned": {"objective": "labels", "selected_by_labels": True, "n_trials": 4, "best_value": 0.8}}))
    return root


def test_collect_sorts_results_by_kind(results):
    found = collect(results)
    assert [n for n, _ in found.benchmarks] == ["bench.json"]
    assert [n for n, _ in found.clustering] == ["runs/blobs.json"]
    assert [n for n, _ in found.figures] == ["tsne.png"]
    assert found.skipped == ["notes.json (not an otmix result)"]  # the hidden temporary file is ignored
    assert [n for n, _ in found.tuned] == ["configs/digits2.labels.json"]
    text = markdown_report(found)
    assert "K-means concat †" in text and "view 1" in text and "![tsne.png](tsne.png)" in text
    assert "**LABELS**" in text  # a configuration chosen with the labels is marked as such


def test_report_uses_the_cells_not_a_stale_summary(results, tmp_path):
    import shutil as sh

    copy = tmp_path / "copy"
    sh.copytree(results, copy)
    bench = json.loads((copy / "bench.json").read_text())
    del bench["summary"]  # an interrupted run has cells but no summary yet
    (copy / "bench.json").write_text(json.dumps(bench))
    text = markdown_report(collect(copy))
    assert "K-means concat †" in text and "| 2 |" in text  # both seeds of every method


def test_html_is_self_contained(results):
    page = html_report(collect(results))
    assert page.count("<table>") >= 3 and "data:image/png;base64," in page
    assert "src=\"http" not in page and "href=" not in page and "<script" not in page
    assert "<strong>" in page  # the best scores


def test_cli_writes_html_and_markdown_and_reports_errors(results, tmp_path):
    out, md = tmp_path / "report.html", tmp_path / "report.md"
    result = runner.invoke(app, ["report", str(results), "--out", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>") and md.read_text().startswith("# otmix results")
    # the markdown lives outside the results folder: its image link points into it
    assert f"]({results.name}/tsne.png)" in md.read_text() or "../" in md.read_text()
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, word in (([str(empty)], "no otmix results"), ([str(tmp_path / "none")], "does not exist"),
                       ([str(results), "--out", str(tmp_path / "r.pdf")], "must end in .html or .md")):
        bad = runner.invoke(app, ["report", *args] if "--out" in args else ["report", *args, "--out",
                                                                             str(tmp_path / "x.html")])
        assert bad.exit_code == 2 and word in bad.output, bad.output
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "r.pdf").exists()


def test_report_renders_in_headless_chromium(results, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    assert runner.invoke(app, ["report", str(results), "--out", str(page)]).exit_code == 0
    profile = tmp_path / "profile"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                    "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                   check=True, timeout=120, capture_output=True)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] == 1600 and pixels.shape[1] == 1200
    # a rendered page: mostly white background, but with text, table borders and the embedded figure
    dark = (pixels[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.002 < dark < 0.5
    rgb = pixels[..., :3]
    # the embedded scatter: viridis yellow (253, 231, 37) and teal (33, 145, 140) markers, which no text has
    yellow = ((rgb[..., 0] > 0.85) & (rgb[..., 1] > 0.75) & (rgb[..., 2] < 0.35)).sum()
    teal = ((rgb[..., 0] < 0.25) & (rgb[..., 1] > 0.45) & (rgb[..., 1] < 0.7) & (rgb[..., 2] > 0.45)).sum()
    assert yellow > 200 and teal > 200, (yellow, teal)
