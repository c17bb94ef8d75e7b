"""The agent as a Flower ``ClientApp``: it answers the server's messages with codes, never with data.

Which modality and data an agent holds comes from its SuperNode's ``node_config``
(``flower-supernode --node-config "modality=0 data='/path/view0.npz'"``; optional
``state='/path/dir'`` keeps the agent's weights on local disk so a stopped run can
resume). In a simulation the views are handed to :func:`make_client_app` and the
virtual node's ``partition-id`` is the modality.

Messages (``RecordDict`` keys in brackets):

* ``query.encode`` [config: FedConfig fields + ``n_batches``] → [info, codes (S, B, d)];
  ``n_batches = 0`` only introduces the agent (info: modality, n_rows, in_dim).
* ``train.fit`` [config + ``local_epochs``, ``n_batches``, ``final``; mix: targets, grads] → [info,
  metrics, codes: of the next round's batches when ``n_batches > 0``, of all rows (for the
  read-out, saving one exchange) when ``final``].
* ``evaluate.assign`` [config; centers (C, d)] → [info, metrics: cluster sizes].

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
from .task import Agent, FedConfig, load_view

LOG = logging.getLogger("otmix.federated.agent")
STATE_KEY = "otmix.agent"


class _Site:
    """Where one agent's modality, data and state come from (node config, or the simulation's views)."""

    def __init__(self, context: Context, views: Sequence[np.ndarray] | None, state_dir: str | None) -> None:
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
        agent = Agent(self.X.shape[1], self.modality, config)
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
          state_dir: str | None) -> tuple[_Site, Agent, FedConfig, dict]:
    """The agent's site, its state for the message's run and config, the config and the raw config record."""
    site = _Site(context, views, state_dir)
    record = dict(message.content.config_records["config"])
    config = FedConfig.from_dict(record)
    return site, site.load(config, str(record.get("run_key", ""))), config, record


def _arrays(**arrays: np.ndarray) -> ArrayRecord:
    return ArrayRecord({key: Array(np.ascontiguousarray(value)) for key, value in arrays.items()})


def egress_guard_mod(views: Sequence[np.ndarray] | None = None, state_dir: str | None = None) -> Callable:
    """A Flower mod that checks every array of a reply against the agent's raw view before it leaves.

    Raises :class:`otmix.federated.guard.EgressViolation` (logged; Flower turns it into an
    error reply without content) when an array carries the raw data or a row or column of it.
    """

    def egress_guard(message: Message, context: Context, call_next: Callable) -> Message:
        reply = call_next(message, context)
        if reply.has_content():
            guard = EgressGuard(_Site(context, views, state_dir).X)
            for name, record in reply.content.array_records.items():
                guard.check({f"{name}/{key}": array.numpy() for key, array in record.items()})
            for attribute in ("config_records", "metric_records"):
                for name, record in getattr(reply.content, attribute).items():
                    guard.check({f"{name}/{key}": value for key, value in record.items()
                                 if isinstance(value, list)})
        return reply

    return egress_guard


def make_client_app(views: Sequence[np.ndarray] | None = None, state_dir: str | None = None) -> ClientApp:
    """A ClientApp serving one agent per node.

    Parameters
    ----------
    views : list of arrays, optional
        For a simulation: view m is the data of the virtual node with ``partition-id`` m.
        Without it (deployment), every node reads ``data`` from its node config.
    state_dir : str, optional
        Also keep every agent's state in this folder (default: only in the run's context).
    """
    app = ClientApp()
    egress_guard = egress_guard_mod(views, state_dir)

    @app.query("encode", mods=[egress_guard])
    def encode(message: Message, context: Context) -> Message:
        site, agent, _, record = _open(message, context, views, state_dir)
        n_batches = int(record.get("n_batches", 0))
        arrays = {"codes": _arrays(codes=agent.encode(site.X, n_batches))} if n_batches > 0 else {}
        site.save(agent)
        return Message(RecordDict({"info": site.info(agent), **arrays}), reply_to=message)

    @app.train("fit", mods=[egress_guard])
    def fit(message: Message, context: Context) -> Message:
        site, agent, _, record = _open(message, context, views, state_dir)
        mix = message.content.array_records["mix"]
        metrics = agent.train(site.X, mix["targets"].numpy(), mix["grads"].numpy(), int(record["local_epochs"]))
        content = RecordDict({"info": site.info(agent), "metrics": MetricRecord(metrics)})
        n_batches = int(record.get("n_batches", 0))
        if bool(record.get("final", False)):
            content["codes"] = _arrays(codes=agent.codes(site.X))
        elif n_batches > 0:
            content["codes"] = _arrays(codes=agent.encode(site.X, n_batches))
        site.save(agent)
        return Message(content, reply_to=message)

    @app.evaluate("assign", mods=[egress_guard])
    def assign(message: Message, context: Context) -> Message:
        site, agent, config, _ = _open(message, context, views, state_dir)
        labels = agent.assign(site.X, message.content.array_records["centers"]["centers"].numpy())
        sizes = np.bincount(labels, minlength=config.n_clusters).tolist()
        site.save(agent)
        return Message(RecordDict({"info": site.info(agent), "metrics": MetricRecord({"cluster_sizes": sizes})}),
                       reply_to=message)

    return app


app = make_client_app()
