"""Links through the federated protocol: the agent's column, the server's entity ids, batches, the linked step
and the read-out, each against the in-process oracle (BatchSampler, step_losses, OTMClustering.fit)."""

import json

import numpy as np
import pytest
import torch
from conftest import aligned_blobs, assert_agent_gradients_equal, make_blob_views

from otmix.data.links import link_seed, simulate_links
from otmix.data.unalign import unalign
from otmix.federated.links import (
    agent_link_rows,
    batch_entities,
    batch_link_tables,
    batch_rows,
    link_table,
    read_agent_links,
)
from otmix.federated.task import Agent, FedConfig, federated_readout, run_protocol, server_mix
from otmix.metrics import clustering_scores
from otmix.models.wae import MWAE
from otmix.train.cluster import BatchSampler, ClusterConfig, step_losses


def linked_blobs(n_rows=120, fraction=0.2, seed=0):
    Xs, y = aligned_blobs(n_rows=n_rows)
    Xs, ys, perms = unalign(Xs, [y, y], random_state=seed)
    return Xs, ys, simulate_links(perms, fraction, random_state=link_seed(seed))


def small_config(**changes):
    values = dict(n_clusters=3, rounds=2, local_epochs=1, batch_size=32, latent_dim=3, hidden_dim=16,
                  encoder="linear", random_state=0)
    values.update(changes)
    return FedConfig(**values)


# -- the agent's column ------------------------------------------------------------------------------------


def test_an_agent_reads_its_column_of_a_table_or_its_column_alone(tmp_path):
    table = tmp_path / "links.csv"
    table.write_text("pixels,coarse,audio\n0,5,\n3,,2\n7,1,4\n")
    assert read_agent_links(table, 0, 10).tolist() == [0, 3, 7]
    assert read_agent_links(table, 2, 10).tolist() == [-1, 2, 4]
    own = tmp_path / "own.csv"
    own.write_text("5\n-1\n\n1\n")
    assert read_agent_links(own, 1, 10).tolist() == [5, -1, 1]


@pytest.mark.parametrize("text,modality,n_rows,words", [
    ("0,5\n3,1\n", 2, 10, ("2 columns", "agent 2 has no column")),
    ("0,5\n3,12\n", 1, 10, ("row 12 is out of range", "view 1 has 10 rows")),
    ("5\n12\n", 0, 10, ("row 12 is out of range", "10 rows")),
    ("5\n5\n", 0, 10, ("row 5 is already linked",)),
    ("5\nfive\n", 0, 10, ("'five' is not a row index",)),
])
def test_a_link_file_that_does_not_match_the_agent_is_one_line(tmp_path, text, modality, n_rows, words):
    path = tmp_path / "links.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        read_agent_links(path, modality, n_rows)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_the_agent_answers_the_ids_with_its_rows_or_says_why_not():
    column = np.array([4, -1, 2])
    assert agent_link_rows(column, np.arange(3), 1).tolist() == [4, -1, 2]
    with pytest.raises(ValueError, match="agent 1 has no link file"):
        agent_link_rows(None, np.arange(3), 1)
    with pytest.raises(ValueError, match="has 3 entities, but the server's run links 5"):
        agent_link_rows(column, np.arange(5), 1)
    with pytest.raises(ValueError, match="agent 0 links its row 2 to more than one entity"):
        link_table([np.array([2, 2]), np.array([0, 1])], [5, 5])
    with pytest.raises(ValueError, match=r"agent 1 links entity 1 to row 7, out of its 5 rows"):
        link_table([np.array([0, 1]), np.array([-1, 7])], [5, 5])
    with pytest.raises(ValueError, match=r"agent 0 links entity 0 to row -2, out of its 5 rows"):
        link_table([np.array([-2, 2, 2]), np.array([0, 1, 2])], [5, 5])  # range is named before a twice-linked row
    np.testing.assert_array_equal(link_table([np.array([0, -1]), np.array([3, 1])], [5, 5]), [[0, 3], [-1, 1]])


# -- batches -------------------------------------------------------------------------------------------------


def test_the_entity_stream_takes_every_entity_once_per_pass_and_is_a_function_of_the_exchange():
    k = 4  # round(0.5 * 8)
    drawn = np.concatenate([batch_entities(10, 3, j, 8, 0.5, seed=3).ravel() for j in range(5)])  # 60 = 6 passes
    for p in range(6):
        assert sorted(drawn[10 * p:10 * (p + 1)].tolist()) == list(range(10))
    np.testing.assert_array_equal(batch_entities(10, 3, 2, 8, 0.5, 3), drawn[2 * 3 * k:3 * 3 * k].reshape(3, k))
    assert not np.array_equal(batch_entities(10, 3, 2, 8, 0.5, 4), batch_entities(10, 3, 2, 8, 0.5, 3))


def test_agents_batches_and_the_servers_tables_are_the_in_process_samplers():
    """The same entities give the rows BatchSampler puts first and exactly its batch link table."""
    Xs, _, links = linked_blobs(fraction=0.3)
    links = links.copy()
    links[::5, 1] = -1  # some entities absent from view 1
    links = links[(links >= 0).sum(axis=1) >= 2]
    sampler = BatchSampler([len(X) for X in Xs], 32, np.random.default_rng(0), links, link_share=0.5)
    k = sampler.n_linked
    entities = sampler.entities.order[:k].copy()  # what the next draw takes (no pass boundary)
    rows, positions = sampler.draw()
    config = small_config()
    for m, X in enumerate(Xs):
        agent = Agent(X.shape[1], m, config, X=X)
        agent.encode(X, 1, entities[None], links[:, m])
        linked = batch_rows(links[:, m], entities)
        np.testing.assert_array_equal(agent.pending[0][:linked.size], rows[m][:linked.size])
        assert agent.pending.shape == (1, len(rows[m]))
        free = np.setdiff1d(np.arange(len(X)), links[:, m])
        assert np.isin(agent.pending[0][linked.size:], free).all()  # then unlinked rows only
    (table,) = batch_link_tables(links, [entities[None], entities[None]])
    np.testing.assert_array_equal(table, positions)


def test_a_stale_agents_batch_is_matched_by_entity_id():
    links = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    (table,) = batch_link_tables(links, [np.array([[0, 1, 2]]), np.array([[2, 3, 0]])])
    assert sorted(map(tuple, table.tolist())) == [(0, 2), (2, 0)]  # entities 0 and 2, at their own positions


# -- the linked step -------------------------------------------------------------------------------------------


def test_one_federated_linked_step_has_the_in_process_gradient():
    """S = 1, E = 1, fresh codes, a batch with linked entities: the linked barycenter gives the same gradient."""
    Xs, _, links = linked_blobs(fraction=0.3)
    config = small_config(w_clu=0.5, w_otm=0.3, link_share=0.5)
    inproc_config = ClusterConfig(**config.cluster_config().to_dict())
    model = MWAE([X.shape[1] for X in Xs], config.latent_dim, config.hidden_dim, encoder="linear")
    model.init_from_data([torch.as_tensor(X, dtype=torch.float32) for X in Xs])
    model.train()
    sampler = BatchSampler([len(X) for X in Xs], config.batch_size, np.random.default_rng(1), links, 0.5)
    rows, batch_links = sampler.draw()
    assert batch_links is not None and len(batch_links) == 16
    batches = [torch.as_tensor(X[r], dtype=torch.float32) for X, r in zip(Xs, rows)]
    losses = step_losses(model, batches, inproc_config, np.random.default_rng(7), links=batch_links)
    model.zero_grad()
    losses["total"].backward()

    with torch.no_grad():
        codes = [model.encode(m, B).numpy()[None] for m, B in enumerate(batches)]
    mixed = server_mix(codes, config, np.random.default_rng(7), links=[batch_links])
    unlinked = server_mix(codes, config, np.random.default_rng(7))
    assert not np.allclose(mixed.targets[0], unlinked.targets[0])  # the links change the step
    assert_agent_gradients_equal(model, batches, mixed, config, encoder="linear")


def test_an_agent_starts_at_the_in_process_pca_start():
    Xs, _, _ = linked_blobs()
    model = MWAE([X.shape[1] for X in Xs], 3, 16, encoder="linear")
    model.init_from_data([torch.as_tensor(X, dtype=torch.float32) for X in Xs])
    for m, X in enumerate(Xs):
        agent = Agent(X.shape[1], m, small_config(), X=X)
        for a, b in zip(agent.model.views[0].state_dict().values(), model.views[m].state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- the read-out ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("readout", ["auto", "fused"])
def test_the_federated_read_out_is_the_estimators_on_the_same_codes(readout):
    """Server (analysis, evidence, ids, fused) + agents (K-means beside the evidence) = OTMClustering.fit's read-out."""
    from otmix.estimators import OTMClustering, _encode

    Xs, _, links = linked_blobs(fraction=0.2)
    params = dict(n_clusters=3, latent_dim=3, batch_size=32, encoder="linear", readout=readout, random_state=4)
    est = OTMClustering(epochs=1, **params).fit(Xs, links=links)
    codes = [_encode(est.model_, X, m) for m, X in enumerate(Xs)]
    config = FedConfig(**params)
    agents = [Agent(X.shape[1], m, config, X=X) for m, X in enumerate(Xs)]
    asked = []

    def cluster_on_agent(m, blocks):
        asked.append(m)
        weights = np.array([w for w, _ in blocks])
        evidence = np.stack([V for _, V in blocks]) if blocks else np.zeros((0, len(Xs[m]), 3))
        return agents[m].cluster(Xs[m], weights, evidence)

    read = federated_readout(codes, config, links, cluster_on_agent)
    assert read.readout == est.readout_
    assert set(read.labels_by_readout) == set(est.labels_by_readout_) - ({"matched"} if readout == "fused" else set())
    for name, labels in read.labels_by_readout.items():
        for ours, theirs in zip(labels, est.labels_by_readout_[name]):
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
    np.testing.assert_allclose(read.centers, est.cluster_centers_)
    if readout == "auto":
        assert sorted(asked) == [0, 1] and read.alignability == est.alignability_
        assert read.transfer_weights == est.transfer_weights_
    else:
        assert asked == [] and read.alignability is None


def test_run_protocol_with_links_clusters_and_reports_the_analysis():
    Xs, ys, links = linked_blobs(fraction=0.2)
    result = run_protocol(Xs, small_config(readout="auto"), links=links)
    assert result["n_links"] == len(links) and result["readout_used"] in ("matched", "fused")
    assert set(result["labels_by_readout"]) == {"matched", "fused", "gw"}
    for m in range(2):
        assert clustering_scores(ys[m], np.asarray(result["labels"][str(m)]))["acc"] >= 0.95
    assert [a["views"] for a in result["alignability"]] == [[0, 1]]
    json.dumps(result)  # the server's result is JSON
    assert result["pair_plans"][0]["shape"] == [120, 120]


def test_batches_that_cannot_be_filled_alike_are_refused_in_one_line():
    X = make_blob_views(n_rows=(40, 40))[0][0]
    column = np.r_[np.arange(36), -np.ones(4, dtype=np.int64)]  # 36 of 40 rows linked: 4 unlinked rows
    agent = Agent(X.shape[1], 0, small_config(batch_size=16), X=X)
    entities = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [36, 37, 38, 39, 8, 9, 10, 11]])
    with pytest.raises(ValueError, match="too few unlinked rows"):
        agent.encode(X, 2, entities, column)


# -- the Flower apps (in-process grid) -------------------------------------------------------------------------


def test_the_server_and_agents_apps_with_links_give_the_protocols_labels(flower_task, tmp_path):
    """The ServerApp's loop with the real ClientApp: the entity ids go out once, the rows come back (audited as
    an id array, never features), and the labels are those of the Flower-free protocol."""
    from test_server_loop import ScriptedGrid

    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _, links = linked_blobs(fraction=0.2)
    config = small_config(readout="auto")
    reference = run_protocol(Xs, config, links=links)
    grid = ScriptedGrid(make_client_app(Xs, links=links), 2, lambda *a: 0.0)
    result = run_server(grid, ServerSettings(config, n_agents=2, poll_interval=0.01, n_links=len(links),
                                             audit=str(tmp_path / "audit.jsonl")))
    assert result["labels"] == reference["labels"] and result["readout_used"] == reference["readout_used"]
    assert result["labels_by_readout"] == reference["labels_by_readout"]
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    rows = [e for e in entries if e["key"] == "links/rows"]
    assert [(e["modality"], e["shape"], e["dtype"]) for e in rows] == [(0, [24], "int64"), (1, [24], "int64")]
    arrays = {e["key"] for e in entries if e["record"] == "array"}
    assert arrays == {"codes/codes", "links/rows", "labels/labels"}  # codes, ids' rows and matched labels only


def test_an_agent_whose_link_file_does_not_match_is_logged_and_nothing_is_written(flower_task, tmp_path, caplog):
    import logging

    from test_server_loop import ScriptedGrid

    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _, links = linked_blobs(fraction=0.2)
    bad = tmp_path / "links.csv"
    bad.write_text("".join(f"{r}\n" for r in np.r_[links[:-1, 1], 500]))  # row 500 of a 120-row view
    grid = ScriptedGrid(make_client_app(Xs, links=links), 2, lambda *a: 0.0)
    grid.contexts[101].node_config["links"] = str(bad)
    result = tmp_path / "result.json"
    with caplog.at_level(logging.WARNING, logger="otmix.federated.server"), \
            pytest.raises(RuntimeError, match="only 1 of 2 agents introduced themselves"):
        run_server(grid, ServerSettings(small_config(), n_agents=2, poll_interval=0.01, n_links=len(links),
                                        result=str(result), wait_for_agents=5))
    # (Flower turns the agent's exception into an error reply; this grid raises it at the push: logged alike)
    assert any("node 101" in r.getMessage() and "row 500 is out of range" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert not result.exists()
    grid.contexts[101].node_config["links"] = ""  # no link file at all: the agent says so
    grid.contexts[101].node_config["partition-id"] = 1
    app = make_client_app(Xs)  # a simulation without the table
    grid.app = app
    with caplog.at_level(logging.WARNING, logger="otmix.federated.server"), pytest.raises(RuntimeError):
        run_server(grid, ServerSettings(small_config(), n_agents=2, poll_interval=0.01, n_links=len(links),
                                        result=str(result), wait_for_agents=5))
    assert any("has no link file" in r.getMessage() for r in caplog.records)
    assert not result.exists()


# -- without links: the in-process estimator's start analysis ---------------------------------------------------


def _unaligned_blobs():
    Xs, y = aligned_blobs(n_rows=120)
    return unalign(Xs, [y, y], random_state=0)[:2]


@pytest.mark.parametrize("views,kind", [(make_blob_views, "pseudo"), (_unaligned_blobs, None)])
def test_without_links_the_start_decides_mixing_as_in_process(views, kind):
    """No links, linear agents: alignability of the PCA start (pseudo-links, or reconstruction only), exactly
    OTMClustering.fit's decision; without mixing the matched read-out is the estimator's, label for label."""
    from otmix.estimators import OTMClustering, _pca_codes

    Xs, _ = views()
    params = dict(n_clusters=3, latent_dim=3, batch_size=32, encoder="linear", readout="auto", random_state=4)
    est = OTMClustering(epochs=2, patience=None, **params).fit(Xs)
    config = FedConfig(rounds=2, local_epochs=1, **params)
    starts = [Agent(X.shape[1], m, config, X=X).start_codes(X) for m, X in enumerate(Xs)]
    for ours, theirs in zip(starts, _pca_codes(Xs, 3)):
        np.testing.assert_array_equal(ours.astype(np.float64), theirs)
    result = run_protocol(Xs, config)
    assert result["training"] == est.training_ and est.training_["links"] == kind
    assert result["readout_used"] == est.readout_
    if kind is None:
        for m, labels in enumerate(est.labels_by_readout_["matched"]):
            np.testing.assert_array_equal(result["labels_by_readout"]["matched"][str(m)], labels)


@pytest.mark.parametrize("views", [make_blob_views, _unaligned_blobs])
def test_the_apps_without_links_give_the_protocols_labels(flower_task, views):
    from test_server_loop import ScriptedGrid

    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _ = views()
    config = small_config(readout="auto")
    reference = run_protocol(Xs, config)
    grid = ScriptedGrid(make_client_app(Xs), 2, lambda *a: 0.0)
    result = run_server(grid, ServerSettings(config, n_agents=2, poll_interval=0.01))
    assert result["training"] == reference["training"]
    assert result["labels_by_readout"] == reference["labels_by_readout"]


# -- config and deployment plumbing -----------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [("encoder", "cnn"), ("link_share", 1.5), ("align_restarts", 0)])
def test_the_new_config_fields_are_checked_in_one_line(field, value):
    with pytest.raises(ValueError, match=field):
        small_config(**{field: value}).validate()


def test_the_data_set_config_reaches_the_agents_as_in_process():
    """encoder, latent width, link share and read-out come from configs/clustering.json, as `otmix cluster` uses."""
    from types import SimpleNamespace

    from otmix.jobs.cluster import dataset_config
    from otmix.jobs.federated import fed_config

    config = fed_config(SimpleNamespace(name="digits2"), 10, 3, {"link_share": 0.25})
    expected = dataset_config("digits2")
    assert (config.encoder, config.latent_dim, config.readout) == (expected["encoder"], expected["latent_dim"],
                                                                   expected["readout"])
    assert config.link_share == 0.25 and config.readout_points == 1024 and config.random_state == 3
    assert config.cluster_config().encoder == config.encoder


def test_a_supernode_names_its_link_file_in_its_node_config(tmp_path):
    from otmix.federated.deploy import supernode_command
    from otmix.federated.task import save_view

    save_view(tmp_path / "view.npz", np.zeros((3, 2)))
    (tmp_path / "links.csv").write_text("0\n2\n")
    cmd = supernode_command(1, tmp_path / "view.npz", "127.0.0.1:9092", 9094, links=tmp_path / "links.csv")
    assert f"links='{(tmp_path / 'links.csv').resolve()}'" in cmd[cmd.index("--node-config") + 1]
    with pytest.raises(FileNotFoundError, match="link file"):
        supernode_command(1, tmp_path / "view.npz", "127.0.0.1:9092", 9094, links=tmp_path / "none.csv")


def test_the_run_config_carries_the_number_of_linked_entities():
    from otmix.federated.deploy import run_config
    from otmix.federated.server_app import ServerSettings

    values = run_config(small_config(), 2, n_links=24)
    settings = ServerSettings.from_run_config(values)
    assert settings.n_links == 24 and settings.config == small_config()
    assert ServerSettings.from_run_config(run_config(small_config(), 2)).n_links == 0


def test_a_stopped_linked_run_resumes_and_a_run_of_other_links_is_refused(flower_task, tmp_path, caplog):
    import logging

    from test_server_loop import ScriptedGrid

    from otmix.federated.client_app import make_client_app
    from otmix.federated.server_app import ServerSettings, run_server

    Xs, _, links = linked_blobs(fraction=0.2)
    config = small_config(rounds=3)
    checkpoint = str(tmp_path / "checkpoint.json")

    def grid():
        return ScriptedGrid(make_client_app(Xs, links=links, state_dir=str(tmp_path / "state")), 2, lambda *a: 0.0)

    settings = ServerSettings(config, n_agents=2, poll_interval=0.01, n_links=len(links), checkpoint=checkpoint)
    stopped = run_server(grid(), ServerSettings(**{**settings.__dict__, "stop_after": 1}))
    assert stopped["stopped_after"] == 1
    resumed = run_server(grid(), settings)
    assert [e["round"] for e in resumed["history"]] == [1, 2, 3] and resumed["events"] == []
    with caplog.at_level(logging.WARNING, logger="otmix.federated.server"):
        other = ServerSettings(config, n_agents=2, poll_interval=0.01, n_links=len(links) - 1, checkpoint=checkpoint)
        with pytest.raises(RuntimeError):  # the agents' link files hold 24 entities, not 23
            run_server(grid(), other)
    assert any("the link files do not belong to this run" in r.getMessage() for r in caplog.records)


def test_without_links_the_fused_read_out_is_framed_by_the_pseudo_links_as_in_process():
    from otmix.estimators import OTMClustering, _encode

    Xs, _ = make_blob_views()  # an alignable pair: pseudo-links
    params = dict(n_clusters=3, latent_dim=3, batch_size=32, encoder="linear", readout="fused", random_state=4)
    est = OTMClustering(epochs=1, **params).fit(Xs)
    assert est.training_["links"] == "pseudo"
    codes = [_encode(est.model_, X, m) for m, X in enumerate(Xs)]
    read = federated_readout(codes, FedConfig(**params))
    assert read.alignability == est.alignability_ and "matched" not in read.labels_by_readout
    for name in ("fused", "gw"):
        for ours, theirs in zip(read.labels_by_readout[name], est.labels_by_readout_[name]):
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
