import json
import subprocess
import sys

from typer.testing import CliRunner

from otmix import __version__
from otmix.cli import app

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output


def test_demo_shows_what_joining_does_and_writes_json_atomically(tmp_path):
    out = tmp_path / "results" / "demo.json"  # a missing output folder is created (issue 15, item 12)
    result = runner.invoke(app, ["demo", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    alone, unaligned, linked = (payload["arms"][k] for k in ("alone", "unaligned", "linked"))
    assert linked["n_links"] == 180 and unaligned["n_links"] == 0
    # the product's promise on its own demo: the strong view is exactly what it is alone, the weak view not worse
    assert linked["per_view"][0] == alone["per_view"][0] == unaligned["per_view"][0]
    assert linked["per_view"][1]["nmi"] >= alone["per_view"][1]["nmi"] - 0.01
    assert not unaligned["mixing"] and unaligned["alignability"][0]["alignable"] is False
    # the printed story follows the numbers
    strong_line = next(line for line in payload["summary"] if line.startswith("The strong view"))
    assert "is unchanged" in strong_line
    assert [p.name for p in out.parent.iterdir()] == ["demo.json"]  # no temp file left behind


def test_demo_refuses_a_link_share_outside_the_open_interval():
    result = runner.invoke(app, ["demo", "--links", "1.5"])
    assert result.exit_code == 2 and "--links must lie in (0, 1)" in result.output


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "otmix", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and __version__ in proc.stdout
