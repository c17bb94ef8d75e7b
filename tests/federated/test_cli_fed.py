"""`otmix fed ...`: clear one-line errors with exit code 2, key and certificate files, a simulation's JSON."""

import json
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_blob_views, require_flwr
from typer.testing import CliRunner

from otmix.cli import app

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def view_file(tmp_path):
    from otmix.federated.task import save_view

    path = tmp_path / "view0.npz"
    save_view(path, np.random.default_rng(0).normal(size=(30, 4)))
    return path


def test_simulate_needs_exactly_one_source_and_known_data(tmp_path):
    one_line_error(runner.invoke(app, ["fed", "simulate"]), "exactly one of")
    one_line_error(runner.invoke(app, ["fed", "simulate", "--dataset", "nope"]), "nope")
    one_line_error(runner.invoke(app, ["fed", "simulate", "--data", str(tmp_path / "none.npz")]), "none.npz")
    one_line_error(runner.invoke(app, ["fed", "simulate", "--dataset", "digits2", "--json",
                                       str(tmp_path)]), "is a folder")


def test_agent_reports_bad_data_and_an_unreachable_server(tmp_path, view_file):
    address = f"127.0.0.1:{closed_port()}"
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(tmp_path / "x.npz"),
                                       "--superlink", address]), "does not exist")
    (tmp_path / "bad.npz").write_text("garbage")
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(tmp_path / "bad.npz"),
                                       "--superlink", address]), "not a valid .npz")
    require_flwr()
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(view_file),
                                       "--superlink", address]), "cannot reach the SuperLink", address)
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(view_file),
                                       "--superlink", "nohostport"]), "HOST:PORT")
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(view_file),
                                       "--superlink", address, "--auth-key", str(view_file)]), "needs TLS")


def test_run_and_superlink_refuse_bad_settings(tmp_path):
    require_flwr()
    address = f"127.0.0.1:{closed_port()}"
    base = ["fed", "run", "--superlink", address, "--agents", "2", "--clusters", "3"]
    one_line_error(runner.invoke(app, [*base, "--result", str(tmp_path / "r.json")]), "cannot reach the SuperLink")
    one_line_error(runner.invoke(app, [*base, "--result", "r.json"]), "--result must be an absolute path")
    one_line_error(runner.invoke(app, ["fed", "superlink", "--auth"]), "needs TLS")
    one_line_error(runner.invoke(app, ["fed", "superlink", "--host", "0.0.0.0"]), "insecure SuperLink")
    one_line_error(runner.invoke(app, ["fed", "superlink", "--certificates", str(tmp_path)]), "lacks ca.crt")
    assert list(tmp_path.iterdir()) == []


def test_keygen_writes_an_openssh_key_pair_and_never_overwrites(tmp_path):
    from cryptography.hazmat.primitives import serialization

    result = runner.invoke(app, ["fed", "keygen", "--out", str(tmp_path / "agent.key")])
    assert result.exit_code == 0, result.output
    private = serialization.load_ssh_private_key((tmp_path / "agent.key").read_bytes(), password=None)
    public = (tmp_path / "agent.key.pub").read_text()
    assert public.startswith("ecdsa-sha2-nistp384 ")
    assert private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode() == public.strip()
    assert (tmp_path / "agent.key").stat().st_mode & 0o777 == 0o600
    one_line_error(runner.invoke(app, ["fed", "keygen", "--out", str(tmp_path / "agent.key")]), "refusing")


def test_certificates_chain_to_the_ca_and_name_the_hosts(tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    result = runner.invoke(app, ["fed", "certificates", "--out", str(tmp_path / "certs"), "--host", "fl.example.org",
                                 "--host", "10.0.0.5"])
    assert result.exit_code == 0, result.output
    ca = x509.load_pem_x509_certificate((tmp_path / "certs" / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "certs" / "server.pem").read_bytes())
    ca.public_key().verify(server.signature, server.tbs_certificate_bytes, ec.ECDSA(server.signature_hash_algorithm))
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"fl.example.org", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("10.0.0.5"), ipaddress.ip_address("127.0.0.1")} <= set(
        names.get_values_for_type(x509.IPAddress))


def test_simulate_writes_the_cluster_json_plus_a_federated_block(tmp_path):
    require_flwr()
    Xs, ys = make_blob_views(n_rows=(60, 50), seed=1)
    data = tmp_path / "views.npz"
    np.savez(data, X0=Xs[0], X1=Xs[1], y0=ys[0], y1=ys[1])
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["fed", "simulate", "--data", str(data), "--rounds", "1", "--local-epochs", "1",
                                 "--seeds", "1", "--quiet", "--json", str(out), "--audit",
                                 str(tmp_path / "new" / "audit.jsonl")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "audit.jsonl").stat().st_size > 0  # its missing folder was created
    (per_round,) = [line for line in result.output.splitlines() if "per round" in line and "rounds" in line]
    assert "±" not in per_round, per_round  # one round: the value alone
    payload = json.loads(out.read_text())
    assert set(payload["metrics"]) == {"acc", "purity", "nmi", "ari"}
    assert [v["view"] for v in payload["per_view"]] == [0, 1]
    assert set(payload["metrics_by_readout"]) == {"matched", "fused", "gw"}  # readout auto, as `otmix cluster`
    assert payload["links"] is None and payload["readout_used"][0] in ("matched", "fused")
    fed = payload["federated"]
    assert fed["mode"] == "simulation" and fed["rounds"] == 1 and fed["events"] == []
    assert set(fed["bytes_per_round_per_agent"]) == {"0", "1"}
    assert "ACC" in result.output and "per round" in result.output


def test_simulate_with_links_has_the_links_alignability_and_alignment_blocks_of_cluster(tmp_path):
    require_flwr()
    from conftest import aligned_blobs

    Xs, y = aligned_blobs(n_rows=100, seed=2)
    data = tmp_path / "views.npz"
    np.savez(data, X0=Xs[0], X1=Xs[1], y0=y, y1=y)
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["fed", "simulate", "--data", str(data), "--links", "0.2", "--rounds", "1",
                                 "--local-epochs", "1", "--seeds", "1", "--quiet", "--json", str(out),
                                 "--audit", str(tmp_path / "audit.jsonl")])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["links"] == {"fraction": 0.2, "n": 20, "source": "simulated"}
    (pair,) = payload["alignability"]
    assert pair["views"] == [0, 1] and pair["seeds"] == 1
    assert payload["alignment"]["pairs"] == [[0, 1]] and payload["alignment"]["twin_rate"] is not None
    assert [v["view"] for v in payload["reference"]["per_view"]] == [0, 1]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {(e["key"], tuple(e["shape"])) for e in audit if e["key"] == "links/rows"} == {("links/rows", (20,))}


def test_bad_links_are_one_line_before_any_work(tmp_path, view_file):
    require_flwr()
    one_line_error(runner.invoke(app, ["fed", "simulate", "--dataset", "digits2", "--links", "0.1", "--aligned"]),
                   "--links", "--aligned")
    one_line_error(runner.invoke(app, ["fed", "simulate", "--dataset", "digits2", "--links", "1.5"]), "--links")
    one_line_error(runner.invoke(app, ["fed", "demo", "--links", "-0.1"]), "--links")
    table = tmp_path / "links.csv"
    table.write_text("0,5\n3,40\n")  # row 40 of a 30-row view
    args = ["fed", "agent", "--data", str(view_file), "--superlink", f"127.0.0.1:{closed_port()}", "--links"]
    one_line_error(runner.invoke(app, [*args, str(table), "--modality", "1"]), "row 40 is out of range")
    one_line_error(runner.invoke(app, [*args, str(table), "--modality", "2"]), "agent 2 has no column")
    one_line_error(runner.invoke(app, [*args, str(tmp_path / "none.csv"), "--modality", "0"]), "no such link file")


# -- outputs proven writable before any work ------------------------------------------------------------------

UNWRITABLE = "/proc/otmix-test/out.json"  # /proc takes no new files, not even from root


@pytest.mark.parametrize("args", [
    ["fed", "simulate", "--dataset", "digits2", "--json", UNWRITABLE],
    ["fed", "simulate", "--dataset", "digits2", "--audit", UNWRITABLE],
    ["fed", "simulate", "--dataset", "digits2", "--checkpoint", UNWRITABLE],
    ["fed", "simulate", "--dataset", "digits2", "--state-dir", "/proc/otmix-test"],
    ["fed", "demo", "--json", UNWRITABLE],
    ["fed", "demo", "--work", "/proc/otmix-test"],
    ["fed", "certificates", "--out", "/proc/otmix-test"],
    ["fed", "keygen", "--out", UNWRITABLE],
    ["fed", "superlink", "--database", UNWRITABLE],
], ids=lambda args: f"{args[1]} {args[4] if args[1] == 'simulate' else args[2]}")
def test_an_unwritable_output_fails_first_in_one_line(args):
    require_flwr()
    start = time.perf_counter()
    one_line_error(runner.invoke(app, args), "/proc/otmix-test")
    assert time.perf_counter() - start < 10  # before any data is loaded or process started
    assert not Path("/proc/otmix-test").exists()


def test_agent_refuses_an_unwritable_state_folder(view_file):
    require_flwr()
    one_line_error(runner.invoke(app, ["fed", "agent", "--modality", "0", "--data", str(view_file), "--superlink",
                                       f"127.0.0.1:{closed_port()}", "--state", "/proc/otmix-test"]),
                   "/proc/otmix-test")


def as_nobody() -> list[str]:
    """A command prefix that runs as the unprivileged user nobody (root ignores folder permissions)."""
    import shutil

    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    pytest.skip("neither setpriv nor runuser to run as an unprivileged user")


def test_a_read_only_folder_fails_before_any_work_for_an_unprivileged_user():
    """A folder without write permission (chmod 555): one line, exit code 2, nothing written, no data loaded."""
    import shutil
    import subprocess
    import sys
    import tempfile

    require_flwr()
    prefix = as_nobody()
    folder = Path(tempfile.mkdtemp(prefix="otmix-readonly-"))  # under /tmp: reachable by nobody
    try:
        folder.chmod(0o555)
        otmix = str(Path(sys.executable).parent / "otmix")
        probe = subprocess.run([*prefix, otmix, "--version"], capture_output=True, text=True, timeout=60, cwd="/",
                               env={**os.environ, "HOME": "/tmp"})
        if probe.returncode != 0:  # e.g. the checkout lies under a folder only its owner may enter
            pytest.skip(f"the unprivileged user cannot run this otmix ({probe.stderr.strip()[:80]})")
        for args in (["simulate", "--dataset", "digits2", "--json", str(folder / "out.json")],
                     ["certificates", "--out", str(folder / "certs")]):
            done = subprocess.run([*prefix, otmix, "fed", *args], capture_output=True, text=True, timeout=120,
                                  cwd="/", env={**os.environ, "HOME": "/tmp"})
            lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
            assert done.returncode == 2, (done.returncode, lines)
            assert len(lines) == 1 and lines[0].startswith("error: ") and str(folder) in lines[0], lines
            assert "Permission denied" in lines[0], lines
            assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_every_fed_option_shows_its_default_and_simulate_runs_five_seeds_like_cluster():
    import click
    import typer.main

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    cluster_seeds = next(p for p in group.commands["cluster"].params if p.name == "seeds").default
    fed = group.commands["fed"]
    simulate_params = {p.name: p for p in fed.commands["simulate"].params}
    assert simulate_params["seeds"].default == cluster_seeds == 5
    assert "quiet" in simulate_params
    for name, command in fed.commands.items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.required or param.name == "help":
                continue
            record = param.get_help_record(ctx)
            assert record is not None and "default" in record[1], (name, param.name, record)


# -- without the fl extra ---------------------------------------------------------------------------------------


def test_without_flower_fed_commands_say_pip_install_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "flwr", None)  # `import flwr` raises ModuleNotFoundError(name="flwr")
    for args in (["fed", "simulate", "--dataset", "digits2"], ["fed", "demo"],
                 ["fed", "superlink"], ["fed", "run", "--superlink", "127.0.0.1:1", "--agents", "2", "--clusters",
                                        "2", "--result", "/tmp/r.json"]):
        one_line_error(runner.invoke(app, args), "pip install 'otmix[fl]'", "flwr is not installed")
    monkeypatch.setitem(sys.modules, "cryptography", None)
    one_line_error(runner.invoke(app, ["fed", "keygen", "--out", "/tmp/k"]), "pip install 'otmix[fl]'")


FAKE_FLWR = 'raise ModuleNotFoundError("No module named \'flwr\'", name="flwr")\n'


def test_without_flower_in_a_fresh_interpreter_the_rest_of_otmix_works(tmp_path):
    """A `flwr` on PYTHONPATH that fails to import, as if the fl extra were missing: `otmix fed ...` is one
    line with exit code 2; `otmix --help`, `otmix fed simulate --help` and `otmix demo` still work."""
    import subprocess
    import sys

    (tmp_path / "flwr").mkdir()
    (tmp_path / "flwr" / "__init__.py").write_text(FAKE_FLWR)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    otmix = str(Path(sys.executable).parent / "otmix")

    def run(*args):
        return subprocess.run([otmix, *args], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)

    done = run("fed", "simulate", "--dataset", "digits2")
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines == ["error: otmix fed needs the federated extra (flwr is not installed): pip install 'otmix[fl]'"]
    for args in (["--help"], ["fed", "simulate", "--help"], ["demo"]):
        done = run(*args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr
    assert "ACC" in done.stdout  # otmix demo ran its clustering
