"""Flower simulation end to end: one virtual SuperNode per modality, the real ServerApp loop."""

import json

import numpy as np
import pytest
import torch
from conftest import make_blob_views, require_flwr

from otmix.federated.task import FedConfig, run_protocol


@pytest.fixture(scope="module")
def sim_setup():
    require_flwr()
    Xs, ys = make_blob_views(n_rows=(90, 75))
    config = FedConfig(n_clusters=3, rounds=2, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                       lr=5e-3, random_state=3, reply_timeout=120)
    return Xs, ys, config


def test_simulation_runs_scores_and_audits_only_codes(sim_setup, tmp_path):
    from otmix.federated.server_app import ServerSettings
    from otmix.federated.simulation import simulate

    Xs, ys, config = sim_setup
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in Ray's one-CPU actors: the same float sums on both sides
    try:
        result = simulate(Xs, ServerSettings(config, n_agents=2, audit=str(tmp_path / "audit.jsonl")))
        reference = run_protocol(Xs, config)
    finally:
        torch.set_num_threads(threads)
    assert [len(result["labels"][k]) for k in ("0", "1")] == [90, 75]
    assert [h["round"] for h in result["history"]] == [1, 2] and result["events"] == []
    # Flower adds transport, not arithmetic: the same labels as the protocol run in one process
    assert result["labels"] == reference["labels"]
    assert result["history"][1]["otm"] == pytest.approx(reference["history"][1]["otm"], rel=1e-6)

    everything = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    entries = [e for e in everything if e["record"] == "array"]
    assert {e["record"] for e in everything} == {"array", "config", "metric"}
    assert len(entries) == 2 * 3  # first codes + one reply per round, per agent
    assert {e["key"] for e in entries} == {"codes/codes"}
    assert {e["dtype"] for e in entries} == {"float32"}
    assert all(e["shape"][-1] == config.latent_dim for e in entries)
    # the last round's reply holds all rows (read-out), the others S batches of B rows
    assert sorted(tuple(e["shape"]) for e in entries if e["round"] == 2) == [(75, 3), (90, 3)]
    assert {tuple(e["shape"]) for e in entries if e["round"] < 2} == {(2, 32, 3)}


def test_stopped_simulation_resumes_from_its_checkpoint(sim_setup, tmp_path):
    from dataclasses import replace

    from otmix.federated.server_app import ServerSettings
    from otmix.federated.simulation import simulate

    Xs, _, config = sim_setup
    config = replace(config, rounds=3)
    settings = ServerSettings(config, n_agents=2, checkpoint=str(tmp_path / "server.json"), stop_after=1)
    first = simulate(Xs, settings, state_dir=str(tmp_path / "agents"))
    assert first["stopped_after"] == 1 and len(first["history"]) == 1
    saved = json.loads((tmp_path / "server.json").read_text())
    assert saved["round"] == 1
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == ["agent-0.pt", "agent-1.pt"]

    resumed = simulate(Xs, replace(settings, stop_after=None), state_dir=str(tmp_path / "agents"))
    assert [h["round"] for h in resumed["history"]] == [1, 2, 3]
    assert resumed["run_key"] == json.loads((tmp_path / "server.json").read_text())["run_key"]
    assert resumed["events"] == []  # every agent held exactly the checkpoint's rounds
    from otmix.federated.task import Agent

    agent = Agent.from_bytes((tmp_path / "agents" / "agent-0.pt").read_bytes())
    assert agent.rounds_trained == 3  # weights carried over the stop: 1 + 2 rounds of training
    assert np.asarray(resumed["centers"]).shape == (3, 3)
