"""The agent's ClientApp at handler level: messages in, payloads out, no Flower runtime."""

import numpy as np
import pytest

from otmix.federated.task import FedConfig

pytestmark = pytest.mark.usefixtures("flower_task")


def config():
    return FedConfig(n_clusters=3, batch_size=16, latent_dim=4, hidden_dim=8, local_epochs=2, random_state=0)


def context(node_config, state=None):
    from flwr.app import Context, RecordDict

    return Context(run_id=1, node_id=7, node_config=node_config, state=state or RecordDict(), run_config={})


def message(kind, extra=None, arrays=None):
    from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict

    content = RecordDict({"config": ConfigRecord({**config().to_dict(), **(extra or {})})})
    for name, group in (arrays or {}).items():
        content[name] = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in group.items()})
    return Message(content, dst_node_id=7, message_type=kind)


def arrays_of(reply):
    return {f"{name}/{key}": a.numpy() for name, rec in reply.content.array_records.items() for key, a in rec.items()}


@pytest.fixture
def views(blob_views):
    return blob_views[0]  # (90, 6) and (75, 4)


def test_encode_then_fit_then_assign(views):
    from otmix.federated.client_app import make_client_app

    app = make_client_app(views)
    ctx = context({"partition-id": 1, "num-partitions": 2})
    intro = app(message("query.encode", {"n_batches": 0}), ctx)
    assert dict(intro.content.config_records["info"]) == {"modality": 1, "n_rows": 75, "in_dim": 4, "rounds_trained": 0}
    assert arrays_of(intro) == {}  # introducing carries no array

    reply = app(message("query.encode", {"n_batches": 3}), ctx)
    codes = arrays_of(reply)["codes/codes"]
    assert codes.shape == (3, 16, 4) and codes.dtype == np.float32

    mix = {"targets": np.zeros_like(codes), "grads": np.zeros_like(codes)}
    fitted = app(message("train.fit", {"local_epochs": 2, "n_batches": 2}, {"mix": mix}), ctx)
    assert not fitted.has_error()
    metrics = dict(fitted.content.metric_records["metrics"])
    assert set(metrics) == {"total", "rec", "otm", "clu_linear"} and metrics["clu_linear"] == 0.0
    assert arrays_of(fitted)["codes/codes"].shape == (2, 16, 4)

    zeros = np.zeros((2, 16, 4), np.float32)
    last = app(message("train.fit", {"local_epochs": 1, "n_batches": 0, "final": True},
                       {"mix": {"targets": zeros, "grads": zeros}}), ctx)
    full = arrays_of(last)["codes/codes"]
    assert full.shape == (75, 4)  # every row, for the read-out
    np.testing.assert_allclose(full.mean(axis=0), 0, atol=1e-5)  # calibrated code normalisation

    centers = np.random.default_rng(0).normal(size=(3, 4))
    assigned = app(message("evaluate.assign", arrays={"centers": {"centers": centers}}), ctx)
    sizes = dict(assigned.content.metric_records["metrics"])["cluster_sizes"]
    assert len(sizes) == 3 and sum(sizes) == 75


def test_agent_state_survives_messages_and_a_restart_from_disk(views, tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.task import Agent

    app = make_client_app(views, state_dir=str(tmp_path))
    ctx = context({"partition-id": 0})
    app(message("query.encode", {"n_batches": 2}), ctx)
    saved = Agent.from_bytes((tmp_path / "agent-0.pt").read_bytes())
    assert saved.pending.shape == (2, 16)
    # a new run (empty context) picks the agent up from disk, pending batches included
    fresh = context({"partition-id": 0})
    zeros = np.zeros((2, 16, 4), np.float32)
    reply = app(message("train.fit", {"local_epochs": 1, "n_batches": 1}, {"mix": {"targets": zeros, "grads": zeros}}),
                fresh)
    assert not reply.has_error()
    assert Agent.from_bytes((tmp_path / "agent-0.pt").read_bytes()).rounds_trained == 1


def test_node_config_names_modality_and_data_file(views, tmp_path):
    from otmix.federated.client_app import make_client_app
    from otmix.federated.task import save_view

    save_view(tmp_path / "mine.npz", views[1])
    app = make_client_app()  # deployment: no views in memory
    reply = app(message("query.encode", {"n_batches": 1}),
                context({"modality": 4, "data": str(tmp_path / "mine.npz")}))
    assert dict(reply.content.config_records["info"])["modality"] == 4
    assert arrays_of(reply)["codes/codes"].shape == (1, 16, 4)
    with pytest.raises(ValueError, match="no 'data' file"):
        app(message("query.encode", {"n_batches": 1}), context({"modality": 0}))


def test_guard_blocks_a_leaky_handler(views):
    from flwr.app import Array, ArrayRecord, Message, RecordDict

    from otmix.federated.client_app import egress_guard_mod, make_client_app
    from otmix.federated.guard import EgressViolation

    app = make_client_app(views)  # the real app answers through the guard
    app(message("query.encode", {"n_batches": 1}), context({"partition-id": 0}))

    guard = egress_guard_mod(views, None)

    def leaky(msg, ctx):
        X = views[0]
        return Message(RecordDict({"codes": ArrayRecord({"codes": Array(X[10:20].astype(np.float32))})}),
                       reply_to=msg)

    with pytest.raises(EgressViolation, match="rows of the raw data"):
        guard(message("query.encode", {"n_batches": 1}), context({"partition-id": 0}), leaky)

    def honest(msg, ctx):
        return Message(RecordDict({"codes": ArrayRecord({"codes": Array(np.zeros((3, 4), np.float32))})}),
                       reply_to=msg)

    assert not guard(message("query.encode", {"n_batches": 1}), context({"partition-id": 0}), honest).has_error()
