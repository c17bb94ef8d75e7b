"""Real deployments on 127.0.0.1: a SuperLink and SuperNode processes, `flwr run`, every process stopped.

Slow (each message exchange starts a fresh ClientApp process): a few minutes in all.
"""

import json
import signal
import subprocess
import time

import pytest
from conftest import make_blob_views, require_flwr

from otmix.federated.task import FedConfig


@pytest.fixture(scope="module")
def views():
    require_flwr()
    return make_blob_views(n_rows=(90, 75, 60), widths=(6, 4, 5))[0]


def small(rounds, timeout=120.0):
    return FedConfig(n_clusters=3, rounds=rounds, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                     lr=5e-3, random_state=0, reply_timeout=timeout)


def audit(work):
    """The audit log's complete lines (it may be half-written while the run goes on)."""
    entries = []
    for line in (work / "audit.jsonl").read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return entries


def all_stopped(procs) -> bool:
    return all(p.poll() is not None for p in procs.started.values())


def test_loopback_deployment_runs_and_audits_only_codes(views, tmp_path):
    from otmix.federated.deploy import run_loopback

    seen = {}

    def during(procs, work, address):
        seen["procs"] = procs

    result = run_loopback(views[:2], small(rounds=2), tmp_path, during=during)
    assert [len(result["labels"][k]) for k in ("0", "1")] == [90, 75]
    assert [h["round"] for h in result["history"]] == [1, 2] and result["events"] == []
    entries = audit(tmp_path)
    arrays = [e for e in entries if e["record"] == "array"]
    assert {e["key"] for e in arrays} == {"codes/codes"} and {e["dtype"] for e in arrays} == {"float32"}
    assert all(e["shape"][-1] == 3 for e in arrays)
    assert {e["key"] for e in entries if e["record"] != "array"} >= {"info/modality", "metrics/rec"}
    assert all_stopped(seen["procs"])  # nothing outlives the deployment
    assert json.loads((tmp_path / "checkpoint.json").read_text())["round"] == 2


def test_tls_deployment_with_agent_authentication_refuses_an_unregistered_agent(views, tmp_path):
    from otmix.federated.deploy import free_port, run_loopback, supernode_command
    from otmix.federated.security import make_agent_key

    outcome = {}

    def intruder(procs, work, address):
        key, _ = make_agent_key(work / "intruder" / "agent.key")  # a valid key, never registered
        cmd = supernode_command(0, work / "agent-0" / "view.npz", address, free_port(), work / "certs" / "ca.crt", key)
        process = procs.start("intruder", cmd)
        try:
            outcome["code"] = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            outcome["code"] = None
        outcome["log"] = procs.log("intruder").read_text(errors="replace")

    result = run_loopback(views[:2], small(rounds=1), tmp_path, tls=True, during=intruder)
    assert result["in_readout"] == [0, 1] and result["events"] == []
    assert outcome["code"] not in (None, 0), "an unregistered agent must be refused"
    assert "Failed to activate SuperNode" in outcome["log"], outcome["log"][-500:]
    # the registered agents joined with their keys over TLS (the SuperLink refuses anything else)
    assert (tmp_path / "agent-1" / "agent.key").exists()
    assert "insecure" not in (tmp_path / "flwr-home" / "config.toml").read_text()


def test_a_killed_agent_is_dropped_and_the_run_finishes_with_the_others(views, tmp_path):
    from otmix.federated.deploy import run_loopback

    def kill_third_agent_after_round_one(procs, work, address):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if (work / "audit.jsonl").exists() and any(e["round"] >= 1 for e in audit(work)):
                procs.kill("agent-2", signal.SIGKILL)
                return
            time.sleep(0.1)

    result = run_loopback(views, small(rounds=3, timeout=45.0), tmp_path, during=kill_third_agent_after_round_one)
    assert result["in_readout"] == [0, 1]
    assert set(result["labels"]) == {"0", "1"}
    # agent 2 is reported in round 2, either as silent past the reply timeout or as failed (Flower reports a
    # SuperNode without heartbeat as "Node Unavailable" after 34-60 s, which may come first)
    assert any("agent 2" in event and "round 2" in event and "continuing with the others" in event
               for event in result["events"]), result["events"]
    rounds = result["history"]
    assert rounds[1]["missing"] == [2]
    assert [h["round"] for h in rounds] == [1, 2, 3]
    assert rounds[0]["agents"] == [0, 1, 2] and rounds[-1]["agents"] == [0, 1]
