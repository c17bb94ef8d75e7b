"""The federated protocol without Flower: agent and server work, their equivalence with the in-process step."""


import numpy as np
import pytest
import torch
from conftest import assert_agent_gradients_equal, make_blob_views

from otmix.federated.task import (
    Agent,
    FedConfig,
    load_view,
    run_protocol,
    save_view,
    server_mix,
    steps_per_round,
)
from otmix.metrics import clustering_scores
from otmix.models.wae import MWAE
from otmix.train.cluster import ClusterConfig, step_losses


def small_config(**changes):
    values = dict(n_clusters=3, rounds=2, local_epochs=1, batch_size=16, latent_dim=4, hidden_dim=16,
                  random_state=0)
    values.update(changes)
    return FedConfig(**values)


@pytest.mark.parametrize("field,value,word", [
    ("rounds", 0, "rounds"), ("batch_size", 2, "batch_size"), ("alpha", 1.5, "alpha"),
    ("mix", "soft", "mix"), ("readout", "dbscan", "readout"), ("w_otm", float("nan"), "w_otm"),
    ("reply_timeout", 0, "reply_timeout"), ("readout_points", 2, "readout_points"),
])
def test_config_validation_names_the_field(field, value, word):
    with pytest.raises(ValueError, match=word):
        small_config(**{field: value}).validate()


def test_config_from_flower_style_mapping_casts_and_ignores_unknown_keys():
    config = FedConfig.from_dict({"n-clusters": "4", "local-epochs": 2, "alpha": "0.25", "n-agents": 3,
                                  "mix": "weighted"})
    assert (config.n_clusters, config.local_epochs, config.alpha, config.mix) == (4, 2, 0.25, "weighted")
    assert FedConfig.from_dict(config.to_dict()) == config


def test_cluster_config_has_the_same_model_and_budget():
    config = small_config(rounds=5, local_epochs=3, w_clu=0.3)
    inproc = config.cluster_config()
    assert inproc.epochs == 15 and inproc.patience is None
    assert (inproc.latent_dim, inproc.batch_size, inproc.w_clu, inproc.random_state) == (4, 16, 0.3, 0)


def test_steps_per_round_is_one_pass_over_the_largest_view():
    assert steps_per_round([100, 40], 16) == 6
    assert steps_per_round([10, 5], 16) == 1


def test_agent_state_round_trip_continues_identically(blob_views):
    Xs, _ = blob_views
    config = small_config()
    a = Agent(Xs[0].shape[1], 0, config)
    codes = a.encode(Xs[0], 3)
    b = Agent.from_bytes(a.to_bytes())
    zeros = np.zeros_like(codes)
    ma = a.train(Xs[0], codes * 0.5, zeros, 2)
    mb = b.train(Xs[0], codes * 0.5, zeros, 2)
    assert ma == mb
    np.testing.assert_array_equal(a.encode(Xs[0], 2), Agent.from_bytes(b.to_bytes()).encode(Xs[0], 2))
    assert b.rounds_trained == 1


def test_agent_encode_draws_every_row_once_per_pass(blob_views):
    X = blob_views[0][0]  # 90 rows, batches of 16 -> a pass ends inside the 6th batch
    agent = Agent(X.shape[1], 0, small_config())
    codes = agent.encode(X, 5)
    assert codes.shape == (5, 16, 4) and codes.dtype == np.float32
    rows = agent.pending.ravel()
    assert len(set(rows.tolist())) == 80  # no row twice within the pass


def test_agent_refuses_bad_server_payloads(blob_views):
    X = blob_views[0][0]
    agent = Agent(X.shape[1], 0, small_config())
    with pytest.raises(ValueError, match="no pending batches"):
        agent.train(X, np.zeros((1, 16, 4)), np.zeros((1, 16, 4)), 1)
    codes = agent.encode(X, 2)
    with pytest.raises(ValueError, match="targets must have shape"):
        agent.train(X, codes[:1], codes, 1)
    bad = codes.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="grads from the server contain NaN"):
        agent.train(X, codes, bad, 1)
    with pytest.raises(ValueError, match="expects rows of 6 features"):
        agent.encode(X[:, :3], 1)


def test_server_mix_shapes_and_checks(blob_views):
    Xs, _ = blob_views
    config = small_config()
    codes = [Agent(X.shape[1], m, config).encode(X, 2) for m, X in enumerate(Xs)]
    mixed = server_mix(codes, config, np.random.default_rng(0))
    assert [t.shape for t in mixed.targets] == [c.shape for c in codes]
    assert [g.shape for g in mixed.grads] == [c.shape for c in codes]
    assert mixed.otm > 0 and mixed.clu > 0
    assert all(np.abs(g).sum() > 0 for g in mixed.grads)
    no_clu = server_mix(codes, small_config(w_clu=0.0), np.random.default_rng(0))
    assert all(np.all(g == 0) for g in no_clu.grads) and no_clu.clu == 0
    with pytest.raises(ValueError, match="same number of batches"):
        server_mix([codes[0], codes[1][:1]], config, np.random.default_rng(0))
    with pytest.raises(ValueError, match="width latent_dim=4"):
        server_mix([codes[0], codes[1][..., :3]], config, np.random.default_rng(0))
    bad = codes[1].copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="agent 1 contain NaN"):
        server_mix([codes[0], bad], config, np.random.default_rng(0))


def test_one_federated_step_has_the_in_process_gradient(blob_views):
    """S = 1, E = 1, fresh codes: targets + linearised clustering term give exactly step_losses' gradient."""
    Xs, _ = blob_views
    config = small_config(w_clu=0.5, w_otm=0.3)
    torch.manual_seed(0)
    model = MWAE([X.shape[1] for X in Xs], config.latent_dim, config.hidden_dim)
    model.train()
    batches = [torch.as_tensor(X[:16], dtype=torch.float32) for X in Xs]
    inproc_config = ClusterConfig(**{**config.cluster_config().to_dict()})
    losses = step_losses(model, batches, inproc_config, np.random.default_rng(7))
    model.zero_grad()
    losses["total"].backward()

    with torch.no_grad():
        codes = [model.encode(m, B).numpy()[None] for m, B in enumerate(batches)]
    mixed = server_mix(codes, config, np.random.default_rng(7))
    assert_agent_gradients_equal(model, batches, mixed, config)


def test_run_protocol_clusters_separated_blobs_and_counts_bytes():
    Xs, ys = make_blob_views()  # 90 and 75 rows, 3 clusters, as the estimator's test
    config = small_config(rounds=5, local_epochs=3, batch_size=32, latent_dim=3, hidden_dim=32, lr=5e-3)
    result = run_protocol(Xs, config)
    S = result["steps_per_round"]
    assert S == 90 // 32
    labels = [np.asarray(result["labels"][str(m)]) for m in range(2)]
    assert [len(lab) for lab in labels] == [90, 75]
    for y, lab in zip(ys, labels):
        assert clustering_scores(y, lab)["acc"] >= 0.95
    # (one cluster map for both views is not asserted: over seeds 0-11 the pooled ACC of the in-process
    # trainer on these blobs is 0.53-0.99 and the federated one 0.52-0.81; see benchmarks/RESULTS.md)
    # the agents' own nearest-centre labels are the k-means read-out's labels
    assert all(result["agent_labels"][k] == result["labels"][k] for k in ("0", "1"))
    first = result["history"][0]
    assert first["bytes_sent"]["1"] == 2 * S * 32 * 3 * 4  # targets + gradients, float32
    assert first["bytes_received"]["0"] == S * 32 * 3 * 4
    assert result["history"][-1]["bytes_received"] == {"0": 90 * 3 * 4, "1": 75 * 3 * 4}  # all rows, for the read-out
    assert len(result["history"]) == 5


def test_view_files_round_trip_and_errors(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    save_view(tmp_path / "v.npz", X)
    np.testing.assert_array_equal(load_view(tmp_path / "v.npz"), X)
    np.save(tmp_path / "v.npy", X)
    np.testing.assert_array_equal(load_view(tmp_path / "v.npy"), X)
    np.savetxt(tmp_path / "v.csv", X, delimiter=",")
    np.testing.assert_array_equal(load_view(tmp_path / "v.csv"), X)
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a valid .npz"):
        load_view(tmp_path / "bad.npz")
    np.savez(tmp_path / "two.npz", a=X, b=X)
    with pytest.raises(ValueError, match="array named X"):
        load_view(tmp_path / "two.npz")
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        load_view(tmp_path / "nan.npy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_view(tmp_path / "none.npz")
    (tmp_path / "v.txt").write_text("1")
    with pytest.raises(ValueError, match="unsupported"):
        load_view(tmp_path / "v.txt")
