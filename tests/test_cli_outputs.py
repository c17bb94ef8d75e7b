"""Every command that writes proves each output writable before any work, and writes them all at the end.

Issue 15, item 1: ``otmix cluster --json /proc/x.json`` trained to the end and then died with a long
traceback, after the PNG of ``--plot`` was already written. Now an unwritable output fails at once,
in one line, with exit code 2, and nothing is written.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_blob_views
from typer.testing import CliRunner

import otmix.cli.cluster
from otmix.cli import app

runner = CliRunner()
UNWRITABLE = "/proc/otmix-cannot-write-here"  # nothing can be created under /proc, not even by root


def _inputs(folder):
    """A user file and a results folder holding one clustering result (what a real run would read)."""
    Xs, ys = make_blob_views(n_rows=(60, 50), seed=1)
    np.savez(folder / "views.npz", X0=Xs[0], X1=Xs[1], y0=ys[0], y1=ys[1])
    (folder / "results").mkdir()
    block = {"mean": 0.5, "std": 0.1}
    payload = {"dataset": "views", "aligned": False, "seeds": [0, 1], "metrics": {k: block for k in
               ("acc", "purity", "nmi", "ari")}, "per_view": [], "metrics_by_readout": {}}
    (folder / "results" / "run.json").write_text(json.dumps(payload))
    for path in (folder, folder / "results"):
        path.chmod(0o755)  # readable by the non-root user of the permission test
    for path in (folder / "views.npz", folder / "results" / "run.json"):
        path.chmod(0o644)


# (command line with {bad}, {ok}, {data}, {results} placeholders, the option that is unwritable).
# No --epochs / --seeds / --trials: run in full, every one of these would take minutes, so finishing in
# seconds with nothing printed but the error shows that it failed before any work.
CASES = {
    "cluster --json": (["cluster", "--data", "{data}", "--json", "{bad}/out.json", "--plot", "{ok}/tsne.png"],
                       "--json"),
    "cluster --plot": (["cluster", "--data", "{data}", "--plot", "{bad}/tsne.png", "--json", "{ok}/out.json"],
                       "--plot"),
    "supervised --json": (["supervised", "--dataset", "diabetes2", "--json", "{bad}/s.json", "--plot-noise",
                           "{ok}/noise.png"], "--json"),
    "supervised --plot-noise": (["supervised", "--dataset", "diabetes2", "--plot-noise", "{bad}/noise.png",
                                 "--json", "{ok}/s.json"], "--plot-noise"),
    "bench --json": (["bench", "clustering", "--datasets", "digits2", "--json", "{bad}/b.json", "--markdown",
                      "{ok}/b.md"], "--json"),
    "bench --markdown": (["bench", "clustering", "--datasets", "digits2", "--json", "{ok}/b.json", "--markdown",
                          "{bad}/b.md"], "--markdown"),
    "tune --storage": (["tune", "--data", "{data}", "--storage", "sqlite:///{bad}/t.db", "--config-out",
                        "{ok}/c.json"], "--storage"),
    "tune --config-out": (["tune", "--data", "{data}", "--storage", "sqlite:///{ok}/t.db", "--config-out",
                           "{bad}/c.json"], "--config-out"),
    "report --out": (["report", "{results}", "--out", "{bad}/r.html", "--markdown", "{ok}/r.md"], "--out"),
    "report --markdown": (["report", "{results}", "--out", "{ok}/r.html", "--markdown", "{bad}/r.md"],
                          "--markdown"),
    "demo --json": (["demo", "--json", "{bad}/demo.json"], "--json"),
}


def _args(case, folder, bad):
    template, flag = CASES[case]
    values = {"bad": str(bad), "ok": str(folder / "out"), "data": str(folder / "views.npz"),
              "results": str(folder / "results")}
    return [part.format(**values) for part in template], flag


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _needs(case):
    if case.startswith("tune"):
        pytest.importorskip("optuna")


def _assert_refused(output, flag, path_part, seconds):
    lines = output.strip().splitlines()
    assert len(lines) == 1, output  # the error alone: no data summary, no seed, no traceback
    assert lines[0].startswith(f"error: {flag}: cannot ") and path_part in lines[0], output
    assert seconds < 30, f"took {seconds:.1f} s: the work ran before the check"


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_output_under_proc_fails_at_once_in_one_line_and_nothing_is_written(case, tmp_path):
    _needs(case)
    _inputs(tmp_path)
    before = _files(tmp_path)
    args, flag = _args(case, tmp_path, UNWRITABLE)
    start = time.perf_counter()
    result = runner.invoke(app, args)
    seconds = time.perf_counter() - start
    assert result.exit_code == 2, result.output
    _assert_refused(result.output, flag, UNWRITABLE, seconds)
    assert _files(tmp_path) == before  # not even the folder out/ made for the other, writable output


def _as_other_user():
    """The prefix that runs a command as a non-root user (root ignores folder permissions)."""
    if os.geteuid() != 0:
        return []
    for prefix in (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], ["runuser", "-u", "nobody", "--"]):
        if shutil.which(prefix[0]):
            return prefix
    pytest.skip("running as root without setpriv or runuser: cannot test folder permissions")


@pytest.fixture
def open_folder():
    """A folder every user may enter (pytest's own tmp_path lies under a folder only its owner may search)."""
    folder = Path(tempfile.mkdtemp(prefix="otmix-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("case", ["cluster --json", "supervised --plot-noise", "bench --markdown",
                                  "tune --config-out", "report --out", "demo --json"])
def test_a_read_only_folder_fails_at_once_for_a_non_root_user(case, open_folder):
    _needs(case)
    prefix = _as_other_user()
    folder = open_folder
    _inputs(folder)
    (folder / "out").mkdir(mode=0o777)
    (folder / "out").chmod(0o777)  # the writable outputs' folder, writable by that user too
    readonly = folder / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    command = [*prefix, sys.executable, "-m", "otmix"]
    env = {**os.environ, "HOME": str(folder), "MPLCONFIGDIR": str(folder / "out"), "NUMBA_CACHE_DIR": str(folder)}
    probe = subprocess.run([*command, "--version"], capture_output=True, text=True, env=env, cwd=folder)
    if probe.returncode != 0:
        pytest.skip(f"the other user cannot run this interpreter ({probe.stderr.strip()[:80]})")
    before = _files(folder)
    args, flag = _args(case, folder, readonly)
    start = time.perf_counter()
    proc = subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=folder)
    seconds = time.perf_counter() - start
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _assert_refused(proc.stdout + proc.stderr, flag, str(readonly), seconds)
    assert "Permission denied" in proc.stderr
    assert _files(folder) == before


def test_two_options_naming_one_file_are_refused(tmp_path):
    _inputs(tmp_path)
    same = tmp_path / "same.md"
    result = runner.invoke(app, ["report", str(tmp_path / "results"), "--out", str(same), "--markdown", str(same)])
    assert result.exit_code == 2 and "--markdown: " in result.output and "its own file" in result.output
    assert not same.exists()


def test_no_output_is_written_when_writing_one_of_them_fails(tmp_path, monkeypatch):
    """Outputs are written together at the end: a failure while writing the JSON leaves no PNG behind."""
    _inputs(tmp_path)

    def broken_json(payload):
        def write(tmp):
            raise OSError(28, "No space left on device")
        return write

    monkeypatch.setattr(otmix.cli.cluster, "json_writer", broken_json)
    plot, out = tmp_path / "tsne.png", tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", "--data", str(tmp_path / "views.npz"), "--seeds", "1", "--epochs", "2",
                                 "--quiet", "--plot", str(plot), "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == ("error: could not write the outputs, none was written: "
                                                      "No space left on device")
    assert not plot.exists() and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left either
