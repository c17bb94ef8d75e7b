"""The agent as a Flower ``ClientApp``: it answers the server's messages with codes, never with data.

Which modality and data an agent holds comes from its SuperNode's ``node_config``
(``flower-supernode --node-config "modality=0 data='/path/view0.npz'"``; optional
``state='/path/dir'`` keeps the agent's weights on local disk so a stopped run can
resume; optional ``links='/path/links.csv'``: the agent's linked rows, its column of a
link table, :func:`otmix.federated.links.read_agent_links`). In a simulation the views
(and the link table) are handed to :func:`make_client_app` and the virtual node's
``partition-id`` is the modality.

Messages (``RecordDict`` keys in brackets):

* ``query.encode`` [config: FedConfig fields + ``n_batches``; batch: entities (S, k) with links]
  → [info, codes (S, B, d)]; ``n_batches = 0`` only introduces the agent (info: modality,
  n_rows, in_dim); with links the introduction carries the entity ids [links: ids] and the
  agent answers with its rows of them [links: rows].
* ``train.fit`` [config + ``local_epochs``, ``n_batches``, ``final``; mix: targets, grads; batch:
  entities] → [info, metrics, codes: of the next round's batches when ``n_batches > 0``, of all
  rows (for the read-out, saving one exchange) when ``final``].
* ``query.cluster`` [config; evidence: weights (k,), evidence (k, N, C)] → [info, labels: labels (N,)]:
  the agent's part of the matched read-out (K-means on its own features beside the evidence).
* ``evaluate.assign`` [config; centers (C, d), optional frame: source, rotation, target] → [info,
  metrics: cluster sizes].

Every reply passes :class:`otmix.federated.guard.EgressGuard` (a Flower mod), which
refuses an array carrying the agent's raw view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from ..atomic import atomic_path
from .guard import EgressGuard
from .links import agent_link_rows, read_agent_links
from .task import Agent, FedConfig, load_view

LOG = logging.getLogger("otmix.federated.agent")
STATE_KEY = "otmix.agent"


class _Site:
    """Where one agent's modality, data and state come from (node config, or the simulation's views)."""

    def __init__(self, context: Context, views: Sequence[np.ndarray] | None, state_dir: str | None,
                 links: np.ndarray | None = None) -> None:
        node = context.node_config
        if "modality" in node:
            self.modality = int(node["modality"])
        elif "partition-id" in node:
            self.modality = int(node["partition-id"])
        else:
            raise ValueError("the SuperNode has no 'modality' in its --node-config")
        if "data" in node:
            self.X = load_view(str(node["data"]))
        elif views is not None:
            if not 0 <= self.modality < len(views):
                raise ValueError(f"modality {self.modality} does not exist; there are {len(views)} views")
            self.X = np.asarray(views[self.modality])
        else:
            raise ValueError("the SuperNode has no 'data' file in its --node-config")
        self.link_rows: np.ndarray | None = None
        if "links" in node and str(node["links"]) != "":
            self.link_rows = read_agent_links(str(node["links"]), self.modality, self.X.shape[0])
        elif links is not None:
            if not 0 <= self.modality < np.shape(links)[1]:
                raise ValueError(f"the link table has {np.shape(links)[1]} columns: agent {self.modality} has none")
            self.link_rows = np.ascontiguousarray(np.asarray(links)[:, self.modality], dtype=np.int64)
            if self.link_rows.size and self.link_rows.max() >= self.X.shape[0]:
                raise ValueError(f"the link table names row {self.link_rows.max()} of agent {self.modality}, "
                                 f"whose view has {self.X.shape[0]} rows")
        folder = node.get("state", state_dir)
        self.state_file = None if folder in (None, "") else Path(str(folder)) / f"agent-{self.modality}.pt"
        self.context = context

    def info(self, agent: Agent | None = None) -> ConfigRecord:
        return ConfigRecord({"modality": self.modality, "n_rows": int(self.X.shape[0]),
                             "in_dim": int(self.X.shape[1]),
                             "rounds_trained": 0 if agent is None else agent.rounds_trained})

    def load(self, config: FedConfig, run_key: str = "") -> Agent:
        """The agent's saved state when it belongs to this run and model config, else a new agent."""
        blob = None
        if STATE_KEY in self.context.state.config_records:
            blob = self.context.state.config_records[STATE_KEY]["blob"]
        elif self.state_file is not None and self.state_file.exists():
            blob = self.state_file.read_bytes()
        if blob is not None:
            agent = Agent.from_bytes(blob)
            same_model = agent.config.model_key() == config.model_key() and agent.in_dim == self.X.shape[1]
            if same_model and agent.run_key == run_key:
                agent.config = config
                return agent
            LOG.info("agent %d: saved state belongs to another run or model; starting afresh", self.modality)
        agent = Agent(self.X.shape[1], self.modality, config, X=self.X)
        agent.run_key = run_key
        return agent

    def save(self, agent: Agent) -> None:
        blob = agent.to_bytes()
        self.context.state.config_records[STATE_KEY] = ConfigRecord({"blob": blob})
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.state_file) as tmp:
                Path(tmp).write_bytes(blob)


def _open(message: Message, context: Context, views: Sequence[np.ndarray] | None,
          state_dir: str | None, links: np.ndarray | None = None) -> tuple[_Site, Agent, FedConfig, dict]:
    """The agent's site, its state for the message's run and config, the config and the raw config record."""
    site = _Site(context, views, state_dir, links)
    record = dict(message.content.config_records["config"])
    config = FedConfig.from_dict(record)
    return site, site.load(config, str(record.get("run_key", ""))), config, record


def _arrays(**arrays: np.ndarray) -> ArrayRecord:
    return ArrayRecord({key: Array(np.ascontiguousarray(value)) for key, value in arrays.items()})


def _entities(message: Message) -> np.ndarray | None:
    """The linked entities of the batches asked for (None without links)."""
    if "batch" in message.content.array_records:
        return message.content.array_records["batch"]["entities"].numpy()
    return None


def _new_codes(site: _Site, agent: Agent, message: Message, n_batches: int) -> np.ndarray:
    """The codes of the batches asked for; with pseudo-links the server sends the agent's column with them."""
    column = site.link_rows
    if "batch" in message.content.array_records and "column" in message.content.array_records["batch"]:
        column = message.content.array_records["batch"]["column"].numpy()
    return agent.encode(site.X, n_batches, _entities(message), column)


def egress_guard_mod(views: Sequence[np.ndarray] | None = None, state_dir: str | None = None,
                     links: np.ndarray | None = None) -> Callable:
    """A Flower mod that checks every array of a reply against the agent's raw view before it leaves.

    Raises :class:`otmix.federated.guard.EgressViolation` (logged; Flower turns it into an
    error reply without content) when an array carries the raw data or a row or column of it.
    """

    def egress_guard(message: Message, context: Context, call_next: Callable) -> Message:
        reply = call_next(message, context)
        if reply.has_content():
            guard = EgressGuard(_Site(context, views, state_dir, links).X)
            for name, record in reply.content.array_records.items():
                guard.check({f"{name}/{key}": array.numpy() for key, array in record.items()})
            for attribute in ("config_records", "metric_records"):
                for name, record in getattr(reply.content, attribute).items():
                    guard.check({f"{name}/{key}": value for key, value in record.items()
                                 if isinstance(value, list)})
        return reply

    return egress_guard


def make_client_app(views: Sequence[np.ndarray] | None = None, state_dir: str | None = None,
                    links: np.ndarray | None = None) -> ClientApp:
    """A ClientApp serving one agent per node.

    Parameters
    ----------
    views : list of arrays, optional
        For a simulation: view m is the data of the virtual node with ``partition-id`` m.
        Without it (deployment), every node reads ``data`` from its node config.
    state_dir : str, optional
        Also keep every agent's state in this folder (default: only in the run's context).
    links : int array (n_links, M), optional
        For a simulation: the link table; the agent of modality m holds its column m (a
        node config's ``links`` file takes precedence).
    """
    app = ClientApp()
    egress_guard = egress_guard_mod(views, state_dir, links)

    @app.query("encode", mods=[egress_guard])
    def encode(message: Message, context: Context) -> Message:
        site, agent, _, record = _open(message, context, views, state_dir, links)
        n_batches = int(record.get("n_batches", 0))
        arrays = {"codes": _arrays(codes=_new_codes(site, agent, message, n_batches))} if n_batches > 0 else {}
        if bool(record.get("start", False)):  # a run without links: the codes of the PCA start, for alignability
            arrays["start"] = _arrays(codes=agent.start_codes(site.X))
        if "links" in message.content.array_records:  # the introduction of a run with links
            ids = message.content.array_records["links"]["ids"].numpy()
            arrays["links"] = _arrays(rows=agent_link_rows(site.link_rows, ids, site.modality))
        site.save(agent)
        return Message(RecordDict({"info": site.info(agent), **arrays}), reply_to=message)

    @app.train("fit", mods=[egress_guard])
    def fit(message: Message, context: Context) -> Message:
        site, agent, _, record = _open(message, context, views, state_dir, links)
        mix = message.content.array_records["mix"]
        metrics = agent.train(site.X, mix["targets"].numpy(), mix["grads"].numpy(), int(record["local_epochs"]),
                              mixing=bool(record.get("mixing", True)))
        content = RecordDict({"info": site.info(agent), "metrics": MetricRecord(metrics)})
        n_batches = int(record.get("n_batches", 0))
        if bool(record.get("final", False)):
            content["codes"] = _arrays(codes=agent.codes(site.X))
        elif n_batches > 0:
            content["codes"] = _arrays(codes=_new_codes(site, agent, message, n_batches))
        site.save(agent)
        return Message(content, reply_to=message)

    @app.query("cluster", mods=[egress_guard])
    def cluster(message: Message, context: Context) -> Message:
        site, agent, _, _ = _open(message, context, views, state_dir, links)
        evidence = message.content.array_records["evidence"]
        labels = agent.cluster(site.X, evidence["weights"].numpy(), evidence["evidence"].numpy())
        site.save(agent)
        return Message(RecordDict({"info": site.info(agent), "labels": _arrays(labels=labels)}), reply_to=message)

    @app.evaluate("assign", mods=[egress_guard])
    def assign(message: Message, context: Context) -> Message:
        site, agent, config, _ = _open(message, context, views, state_dir, links)
        frame = None
        if "frame" in message.content.array_records:
            record = message.content.array_records["frame"]
            frame = (record["source"].numpy(), record["rotation"].numpy(), record["target"].numpy())
        labels = agent.assign(site.X, message.content.array_records["centers"]["centers"].numpy(), frame)
        sizes = np.bincount(labels, minlength=config.n_clusters).tolist()
        site.save(agent)
        return Message(RecordDict({"info": site.info(agent), "metrics": MetricRecord({"cluster_sizes": sizes})}),
                       reply_to=message)

    return app


app = make_client_app()
