"""`otmix fed ...`: clear one-line errors with exit code 2, key and certificate files, a simulation's JSON."""

import json
import socket

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
                                       str(tmp_path / "no" / "out.json")]), "does not exist")


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
                                 "--json", str(out), "--audit", str(tmp_path / "audit.jsonl")])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert set(payload["metrics"]) == {"acc", "purity", "nmi", "ari"}
    assert [v["view"] for v in payload["per_view"]] == [0, 1]
    assert set(payload["metrics_by_readout"]) == {"kmeans", "gw"}
    fed = payload["federated"]
    assert fed["mode"] == "simulation" and fed["rounds"] == 1 and fed["events"] == []
    assert set(fed["bytes_per_round_per_agent"]) == {"0", "1"}
    assert "ACC" in result.output and "per round" in result.output
