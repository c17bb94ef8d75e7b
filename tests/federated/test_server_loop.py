"""The ServerApp's round loop against an in-process grid with scripted delays: timeouts and take-back.

The grid delivers every message to the real ClientApp at once but releases its reply only
after a scripted delay, so an agent can miss a round and answer later, fast and without
Flower's runtime.
"""

import time

import pytest
from conftest import make_blob_views

from otmix.federated.task import FedConfig

pytestmark = pytest.mark.usefixtures("flower_task")


HOLD = float("inf")


class ScriptedGrid:
    """Minimal Grid: ``delay(node, message_type, n_sent_to_node)`` seconds before a reply is visible;
    ``HOLD``: visible once the server sends its next message (an agent that answers one round late)."""

    def __init__(self, app, n_nodes, delay):
        from flwr.app import Context, RecordDict

        self.app, self.delay = app, delay
        self.contexts = {100 + m: Context(run_id=1, node_id=100 + m, node_config={"partition-id": m},
                                          state=RecordDict(), run_config={}) for m in range(n_nodes)}
        self.sent = {node: 0 for node in self.contexts}
        self.ready: dict[str, tuple[float, object]] = {}
        self.counter = 0

    def get_node_ids(self):
        return list(self.contexts)

    def push_messages(self, messages):
        for key, (at, reply) in list(self.ready.items()):
            if at == HOLD:
                self.ready[key] = (time.monotonic(), reply)
        ids = []
        for message in messages:
            self.counter += 1
            message_id = f"m{self.counter}"
            message.metadata.__dict__["_message_id"] = message_id
            node = message.metadata.dst_node_id
            reply = self.app(message, self.contexts[node])
            reply.metadata.__dict__["_src_node_id"] = node
            wait = self.delay(node, message.metadata.message_type, self.sent[node])
            self.sent[node] += 1
            self.ready[message_id] = (time.monotonic() + wait, reply)
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids):
        now = time.monotonic()
        out = [self.ready.pop(i)[1] for i in list(message_ids) if i in self.ready and self.ready[i][0] <= now]
        return out


def test_a_late_agent_is_left_out_then_taken_back(tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = make_blob_views()
    config = FedConfig(n_clusters=3, rounds=4, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                       random_state=0, reply_timeout=1.0)
    # agent 1 (node 101) answers its 4th message (the train message of round 2) only during round 3
    grid = ScriptedGrid(make_client_app(Xs), 2, lambda node, kind, k: HOLD if (node, k) == (101, 3) else 0.0)
    settings = ServerSettings(config, n_agents=2, audit=str(tmp_path / "audit.jsonl"),
                              checkpoint=str(tmp_path / "server.json"), poll_interval=0.05)
    result = run_server(grid, settings)

    agents = [h["agents"] for h in result["history"]]
    assert agents == [[0, 1], [0, 1], [0], [0, 1]]
    assert result["history"][1]["missing"] == [1]
    assert any("agent 1" in e and "did not answer round 2" in e for e in result["events"])
    assert any("agent 1" in e and "is back; it rejoins in round 4" in e for e in result["events"])
    assert result["in_readout"] == [0, 1]
    assert [len(result["labels"][k]) for k in ("0", "1")] == [90, 75]


def test_an_agent_silent_in_the_last_round_is_left_out_of_the_read_out(tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = make_blob_views()
    config = FedConfig(n_clusters=3, rounds=2, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                       random_state=0, reply_timeout=0.5)
    # messages per node: introduce, first codes, round 1, round 2 (k = 3): agent 0 is late for the last one
    grid = ScriptedGrid(make_client_app(Xs), 2, lambda node, kind, k: 5.0 if (node, k) == (100, 3) else 0.0)
    result = run_server(grid, ServerSettings(config, n_agents=2, poll_interval=0.05))
    assert result["in_readout"] == [1] and set(result["labels"]) == {"1"}
    assert any("agent 0" in e and "left out of the read-out" in e for e in result["events"])


def test_too_few_agents_is_a_clear_error():
    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = make_blob_views()
    grid = ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0)
    with pytest.raises(TimeoutError, match="only 2 of 3 agents connected"):
        run_server(grid, ServerSettings(FedConfig(n_clusters=3), n_agents=3, wait_for_agents=0.3,
                                        poll_interval=0.05))


def small_config(rounds):
    return FedConfig(n_clusters=3, rounds=rounds, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                     random_state=0, reply_timeout=5.0)


def test_resume_notes_agents_without_state_and_a_finished_checkpoint_is_refused(tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = make_blob_views()
    checkpoint = str(tmp_path / "server.json")
    stopped = run_server(ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0),
                         ServerSettings(small_config(2), n_agents=2, checkpoint=checkpoint, poll_interval=0.05,
                                        stop_after=1))
    assert stopped["stopped_after"] == 1
    # the agents lost their state (a new context, no state folder): the server resumes and says so
    resumed = run_server(ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0),
                         ServerSettings(small_config(2), n_agents=2, checkpoint=checkpoint, poll_interval=0.05))
    assert [h["round"] for h in resumed["history"]] == [1, 2]
    assert sum("holds 0 trained rounds of this run, the checkpoint 1" in e for e in resumed["events"]) == 2
    with pytest.raises(ValueError, match="already holds all 2 rounds"):
        run_server(ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0),
                   ServerSettings(small_config(2), n_agents=2, checkpoint=checkpoint, poll_interval=0.05))


def test_a_new_run_does_not_continue_from_an_old_runs_agent_state(tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server
    from otmix.federated.task import Agent

    Xs, _ = make_blob_views()
    for _ in range(2):  # two separate runs sharing the agents' state folder
        run_server(ScriptedGrid(make_client_app(Xs, state_dir=str(tmp_path)), 2, lambda *a: 0.0),
                   ServerSettings(small_config(2), n_agents=2, poll_interval=0.05))
    assert Agent.from_bytes((tmp_path / "agent-0.pt").read_bytes()).rounds_trained == 2  # not 4


def test_the_server_log_tells_the_progress_display_every_stage_in_order(caplog):
    """The demo's progress comes from the ServerApp's log lines (streamed by flwr run): read the real ones."""
    import logging

    from otmix.federated.client_app import make_client_app
    from otmix.federated.deploy import server_stage
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = make_blob_views()
    rounds_seen = []
    with caplog.at_level(logging.INFO, logger="otmix.federated.server"):
        run_server(ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0),
                   ServerSettings(small_config(2), n_agents=2, poll_interval=0.05),
                   on_round=lambda entry: rounds_seen.append(entry["round"]))
    stages = [server_stage(f"INFO otmix server: {record.getMessage()}") for record in caplog.records]
    assert [s for s in stages if s is not None] == [
        "waiting for 2 agents to connect",
        "2 agents connected, introducing themselves (each message starts a ClientApp process)",
        "agents known; waiting for their first codes",
        "round 1 of 2: mixing, then local training",
        "round 2 of 2: mixing, then local training",
        "read-out: fusing and clustering the codes of all rows",
        "sending the cluster centres to the agents",
    ]
    assert rounds_seen == [1, 2]
