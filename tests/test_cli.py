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


def test_demo_writes_json_atomically_into_a_new_folder(tmp_path):
    out = tmp_path / "results" / "demo.json"  # a missing output folder is created (issue 15, item 12)
    result = runner.invoke(app, ["demo", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [row["rows"] for row in payload["per_view"]] == [300, 240, 200]
    for row in payload["per_view"]:
        assert 0.0 <= row["acc_otm"] <= 1.0 and 0.0 <= row["nmi_otm"] <= 1.0
    # strong views are clustered well through the mix
    assert min(row["acc_otm"] for row in payload["per_view"][:2]) > 0.9
    assert [p.name for p in out.parent.iterdir()] == ["demo.json"]  # no temp file left behind


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "otmix", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and __version__ in proc.stdout
