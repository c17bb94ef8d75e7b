"""The server as a Flower ``ServerApp`` with its own round loop (no FedAvg): it sees only latent codes.

A run (DESIGN.md §4; the functions in :mod:`otmix.federated.task`):

0. wait for ``n_agents`` nodes, ask each who it is (``query.encode`` with no batches), then
   for the first codes (``query.encode``);
1. per round: :func:`~otmix.federated.task.server_mix` of the codes in hand, one
   ``train.fit`` per agent with its targets and gradients; the reply carries the agent's
   metrics and its next codes (one exchange per round, S·E local steps);
2. the last round's replies carry the codes of all rows; the server runs the in-process
   read-out (:func:`~otmix.federated.task.federated_readout`: alignability, the matched
   read-out with one ``query.cluster`` per agent in stability order, the fused read-outs)
   and sends the centres (``evaluate.assign``: each agent keeps them and labels its own rows).

Links (``n_links`` entities, :mod:`otmix.federated.links`): the introduction carries the
entity ids and every agent answers with its rows of them; every request for codes carries
the entities of every batch, and every batch's barycenter is the linked one.

Robustness: an agent that does not answer within ``reply_timeout`` (or answers with an
error) is left out of that round and logged; a message asking it back is kept in flight
and it rejoins the round after it answers. After every round the server state (round,
history, random state) is written atomically to ``checkpoint``; a run started with the
same checkpoint and model config resumes after the last finished round. Every array the
server receives is recorded in the ``audit`` log (JSON lines).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp

from ..atomic import write_json_atomic
from .guard import AuditLog
from .links import batch_entities, batch_link_tables, link_table
from .task import (
    FedConfig,
    evidence_arrays,
    federated_readout,
    no_mix,
    pseudo_start,
    readout_result,
    server_mix,
    start_analysis,
    steps_per_round,
    training_block,
)

LOG = logging.getLogger("otmix.federated.server")


@dataclass
class ServerSettings:
    """What a server run needs besides the model config.

    Attributes
    ----------
    config : FedConfig
    n_agents : int
        Nodes to wait for before the first round (one per modality).
    result : str, optional
        Write the result (labels per modality, history) here as JSON.
    audit : str, optional
        Append one JSON line per received array here.
    checkpoint : str, optional
        Server state after every round; resume from it when it matches.
    wait_for_agents : float
        Seconds to wait for ``n_agents`` nodes to connect, and at least as long for the first
        two exchanges (introduction, first codes), which pay the agents' start-up.
    poll_interval : float
        Seconds between two pulls of replies (Flower's own loop waits 3 s).
    stop_after : int, optional
        Stop after this round, checkpoint written (a planned interruption; resume later).
    n_links : int
        Linked entities (ids ``0..n_links-1``, the lines of the agents' link files); 0: no links.
    """

    config: FedConfig
    n_agents: int
    result: str | None = None
    audit: str | None = None
    checkpoint: str | None = None
    wait_for_agents: float = 300.0
    poll_interval: float = 0.2
    stop_after: int | None = None
    n_links: int = 0

    @classmethod
    def from_run_config(cls, run_config: dict[str, Any]) -> ServerSettings:
        """From a Flower run config: FedConfig fields plus ``n-agents``, ``result``, ``audit``, ``checkpoint``,
        ``wait-for-agents``, ``poll-interval``, ``stop-after``, ``n-links`` (empty string or 0 = unset)."""
        values = {str(k).replace("-", "_"): v for k, v in run_config.items()}
        if "n_clusters" not in values or "n_agents" not in values:
            raise ValueError("the run config needs n-clusters and n-agents")
        kwargs: dict[str, Any] = {"config": FedConfig.from_dict(values), "n_agents": int(values["n_agents"])}
        for f in fields(cls):
            if f.name in ("config", "n_agents") or f.name not in values or values[f.name] in ("", None):
                continue
            kwargs[f.name] = {"float": float, "int | None": int, "int": int}.get(str(f.type), str)(values[f.name])
        if kwargs.get("stop_after") == 0:
            kwargs["stop_after"] = None
        return cls(**kwargs)


@dataclass
class _Member:
    node: int
    modality: int
    n_rows: int
    in_dim: int


class _Rounds:
    """Message plumbing of one run: push, pull with a short poll, requests kept in flight across rounds.

    A request older than ``2 × reply_timeout`` is forgotten (Flower keeps undelivered
    messages for hours), so an agent that crashed and came back is asked again.
    """

    def __init__(self, grid: Grid, settings: ServerSettings, audit: AuditLog | None, run_key: str) -> None:
        self.grid, self.settings, self.audit, self.run_key = grid, settings, audit, run_key
        self.in_flight: dict[str, tuple[int, str, float]] = {}  # message id -> (node, kind, pushed at)

    def message(self, node: int, kind: str, extra: dict[str, Any] | None = None,
                arrays: dict[str, dict[str, np.ndarray]] | None = None) -> Message:
        record = {**self.settings.config.to_dict(), "run_key": self.run_key, **(extra or {})}
        content = RecordDict({"config": ConfigRecord(record)})
        for name, group in (arrays or {}).items():
            content[name] = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in group.items()})
        return Message(content, dst_node_id=int(node), message_type=kind)

    def push(self, messages: list[Message]) -> set[int]:
        """Send every message on its own; returns the nodes reached (a failed push is logged)."""
        reached = set()
        for message in messages:
            node, kind = message.metadata.dst_node_id, message.metadata.message_type
            try:
                (message_id,) = list(self.grid.push_messages([message]))
            except Exception as exc:  # a node that left between listing and pushing
                LOG.warning("could not send %s to node %d: %s", kind, node, str(exc).splitlines()[0])
                continue
            self.in_flight[message_id] = (node, kind, time.monotonic())
            reached.add(node)
        return reached

    def collect(self, wait_for: set[int], timeout: float) -> dict[int, Message]:
        """Pull replies until every node in ``wait_for`` answered or ``timeout`` passed (other replies too)."""
        replies: dict[int, Message] = {}
        end = time.monotonic() + timeout
        while True:
            if self.in_flight:
                for reply in self.grid.pull_messages(list(self.in_flight)):
                    node, _, _ = self.in_flight.pop(reply.metadata.reply_to_message_id, (None, None, None))
                    if node is not None:
                        replies[node] = reply
            if wait_for <= set(replies) or time.monotonic() >= end:
                return replies
            time.sleep(self.settings.poll_interval)

    def pending(self, node: int) -> bool:
        """Whether a request to ``node`` is still in flight (requests older than 2 × reply_timeout expire)."""
        oldest = time.monotonic() - 2 * self.settings.config.reply_timeout
        for key, (_, _, at) in list(self.in_flight.items()):
            if at < oldest:
                del self.in_flight[key]
        return any(n == node for n, _, _ in self.in_flight.values())

    def record(self, round_: int, modality: int | None, reply: Message) -> int:
        """Audit everything in a reply (arrays with shape and dtype, config and metric values by type);
        returns the bytes of its arrays."""
        arrays = [(f"{name}/{key}", array.numpy())
                  for name, record in reply.content.array_records.items() for key, array in record.items()]
        if self.audit is not None:
            node, kind = reply.metadata.src_node_id, reply.metadata.message_type
            self.audit.record(round_, node, modality, kind, arrays)
            for record_kind, attribute in (("config", "config_records"), ("metric", "metric_records")):
                values = [(f"{name}/{key}", value) for name, record in getattr(reply.content, attribute).items()
                          for key, value in record.items()]
                self.audit.record(round_, node, modality, kind, values, record=record_kind)
        return int(sum(a.nbytes for _, a in arrays))


def _info(reply: Message) -> tuple[int, int, int, int]:
    info = reply.content.config_records["info"]
    return int(info["modality"]), int(info["n_rows"]), int(info["in_dim"]), int(info.get("rounds_trained", 0))


def _codes(reply: Message) -> np.ndarray:
    return reply.content.array_records["codes"]["codes"].numpy()


def _entities_or_none(drawn: np.ndarray | None, n_batches: int) -> np.ndarray:
    """The entities of an agent's batches; none (an empty (S, 0) array) when they were drawn without links."""
    return np.zeros((n_batches, 0), dtype=np.int64) if drawn is None else drawn


def _start_analysis(rounds: _Rounds, members: list[_Member], config: FedConfig, timeout: float):
    """Ask every agent for the codes of its PCA start and measure their alignability (no links)."""
    sent = rounds.push([rounds.message(m.node, "query.encode", {"n_batches": 0, "start": True}) for m in members])
    replies = rounds.collect(sent, timeout)
    start = []
    for m in members:
        reply = replies.get(m.node)
        error = "no answer" if reply is None else _error(reply)
        if error is None and "start" not in reply.content.array_records:
            error = "a reply without start codes"
        if error is not None:
            raise RuntimeError(f"agent {m.modality} (node {m.node}) gave no start codes: {error}")
        rounds.record(0, m.modality, reply)
        start.append(reply.content.array_records["start"]["codes"].numpy())
    return start_analysis(start, config)


def _error(reply: Message) -> str | None:
    if reply.has_error():
        return str(reply.error.reason).strip().splitlines()[-1] if reply.error.reason else f"code {reply.error.code}"
    return None


def _seconds(value: float) -> str:
    return f"{value:.3g} s"


def _load_checkpoint(path: str | None, config: FedConfig, modalities: list[int],
                     n_links: int = 0) -> dict[str, Any] | None:
    if path is None or not Path(path).exists():
        return None
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"checkpoint {path} is corrupt: {str(exc).splitlines()[0]}") from None
    if (state.get("model_key") != json.loads(json.dumps(config.model_key())) or state.get("modalities") != modalities
            or int(state.get("n_links", 0)) != int(n_links)):
        LOG.warning("checkpoint %s is for another run config, agent set or link table; starting from round 1", path)
        return None
    if int(state["round"]) >= config.rounds:
        raise ValueError(f"checkpoint {path} already holds all {state['round']} rounds; give more rounds to "
                         "continue, or remove it to start afresh")
    return state


def run_server(grid: Grid, settings: ServerSettings, on_round: Callable[[dict], None] | None = None) -> dict:
    """The whole server side of a federated clustering run; returns the result dict (also written to ``result``)."""
    config = settings.config
    config.validate()
    start = time.perf_counter()
    audit = AuditLog(settings.audit) if settings.audit else None

    deadline = time.monotonic() + settings.wait_for_agents
    LOG.info("waiting for %d agents to connect", settings.n_agents)
    while len(list(grid.get_node_ids())) < settings.n_agents:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(grid.get_node_ids()))} of {settings.n_agents} agents connected "
                               f"within {settings.wait_for_agents:.0f} s")
        time.sleep(settings.poll_interval)

    # the run key ties agents' saved state to this run (and to its checkpoint, when it resumes)
    run_key = uuid.uuid4().hex
    if settings.checkpoint and Path(settings.checkpoint).exists():
        try:
            run_key = json.loads(Path(settings.checkpoint).read_text()).get("run_key", run_key)
        except (OSError, json.JSONDecodeError):
            pass  # reported by _load_checkpoint below
    rounds = _Rounds(grid, settings, audit, run_key)
    nodes = sorted(grid.get_node_ids())
    LOG.info("%d agents connected; asking who they are", len(nodes))
    intro = {"links": {"ids": np.arange(settings.n_links, dtype=np.int64)}} if settings.n_links else None
    reached = rounds.push([rounds.message(n, "query.encode", {"n_batches": 0}, intro) for n in nodes])
    columns: dict[int, np.ndarray] = {}
    members: dict[int, _Member] = {}
    trained: dict[int, int] = {}
    ignored: set[int] = set()
    # the first two exchanges also wait for agents' start-up (fresh processes importing torch)
    startup = max(config.reply_timeout, settings.wait_for_agents)
    for node, reply in rounds.collect(reached, startup).items():
        if (error := _error(reply)) is not None:
            LOG.warning("node %d failed to introduce itself: %s", node, error)
            continue
        modality, n_rows, in_dim, rounds_trained = _info(reply)
        if any(m.modality == modality for m in members.values()):
            LOG.warning("node %d claims modality %d, which another node holds; ignored", node, modality)
            ignored.add(node)
            continue
        if settings.n_links:
            rows = reply.content.array_records["links"]["rows"].numpy() \
                if "links" in reply.content.array_records else None
            if rows is None or rows.shape != (settings.n_links,):
                LOG.warning("node %d (modality %d) gave no rows of the %d linked entities; ignored", node, modality,
                            settings.n_links)
                continue
            rounds.record(0, modality, reply)  # the audit shows the rows' array (shape, dtype), never features
            columns[modality] = rows
        members[node] = _Member(node, modality, n_rows, in_dim)
        trained[modality] = rounds_trained
    if len(members) < settings.n_agents:
        raise RuntimeError(f"only {len(members)} of {settings.n_agents} agents introduced themselves")
    by_modality = sorted(members.values(), key=lambda m: m.modality)
    modalities = [m.modality for m in by_modality]
    LOG.info("agents: %s", ", ".join(f"modality {m.modality} (node {m.node}, {m.n_rows} rows, {m.in_dim} "
                                     f"features)" for m in by_modality))
    S = steps_per_round([m.n_rows for m in by_modality], config.batch_size)
    table = None
    if settings.n_links:
        table = link_table([columns[m.modality] for m in by_modality], [m.n_rows for m in by_modality])
        LOG.info("links: %d entities, %s", len(table), ", ".join(
            f"{int((table[:, i] >= 0).sum())} in modality {m.modality}" for i, m in enumerate(by_modality)))
    column_of = {m.modality: i for i, m in enumerate(by_modality)}
    asked: dict[int, np.ndarray | None] = {}  # node -> entities of the batches last asked of it
    drawn_of: dict[int, np.ndarray | None] = {}  # node -> entities of the batches of the codes in hand
    before, mixing, pseudo = None, True, False
    if pseudo_start(config, table is not None):
        before = _start_analysis(rounds, by_modality, config, startup)
        mixing = before.pseudo_links is not None
        if mixing:  # as in-process: the matches of alignable pairs are the training's links
            table, pseudo = before.pseudo_links, True
        LOG.info("alignability of the PCA start: %s; %s", ", ".join(
            f"{a.views[0]}-{a.views[1]} {a.score:.3f}" for a in before.alignability),
            f"training with {len(table)} pseudo-links" if mixing else "no pair alignable: reconstruction only")

    def batch_arrays(exchange: int, asked_of: list[_Member | int]) -> dict[int, dict[str, dict[str, np.ndarray]]]:
        """Per node asked: the entities of exchange ``exchange``'s batches (nothing without links; with
        pseudo-links also the agent's column, which only the server knows), noted for every node."""
        drawn = None if table is None else batch_entities(len(table), S, exchange, config.batch_size,
                                                          config.link_share, config.random_state)
        out: dict[int, dict[str, dict[str, np.ndarray]]] = {}
        for who in asked_of:
            member = who if isinstance(who, _Member) else None
            node = who.node if member is not None else int(who)
            if drawn is None or (pseudo and member is None):  # a newcomer's column is not known yet
                asked[node], out[node] = None, {}
                continue
            asked[node] = drawn
            batch = {"entities": drawn}
            if pseudo:
                batch["column"] = np.ascontiguousarray(table[:, column_of[member.modality]])
            out[node] = {"batch": batch}
        return out

    def take_codes(node: int, reply: Message) -> None:
        codes[node] = _codes(reply)
        drawn_of[node] = asked.get(node)

    rng = np.random.default_rng(config.random_state)
    history: list[dict] = []
    events: list[str] = []
    first = 1

    def note(text: str) -> None:
        LOG.warning(text)
        events.append(text)

    saved = _load_checkpoint(settings.checkpoint, config, modalities, settings.n_links)
    if saved is not None:
        history, events, first = saved["history"], saved["events"], int(saved["round"]) + 1
        rng.bit_generator.state = saved["rng"]
        LOG.info("resuming from checkpoint %s after round %d", settings.checkpoint, first - 1)
        for m in by_modality:
            if trained[m.modality] != first - 1:
                note(f"agent {m.modality} holds {trained[m.modality]} trained rounds of this run, the checkpoint "
                     f"{first - 1}: it continues from {'fresh weights' if trained[m.modality] == 0 else 'its own'}")

    codes: dict[int, np.ndarray] = {}
    unavailable: set[int] = set()
    first_batches = batch_arrays(first - 1, by_modality)
    reached = rounds.push([rounds.message(m.node, "query.encode", {"n_batches": S}, first_batches[m.node])
                           for m in by_modality])
    first_codes = rounds.collect(reached, startup)
    for m in by_modality:
        reply = first_codes.get(m.node)
        error = "no answer" if reply is None else _error(reply)
        if error is None:
            rounds.record(first - 1, m.modality, reply)
            take_codes(m.node, reply)
        else:
            note(f"agent {m.modality} (node {m.node}) gave no codes before round {first}: {error}")
    for r in range(first, config.rounds + 1):
        t_round = time.perf_counter()
        live = [m for m in by_modality if m.node in codes]
        if not live:
            raise RuntimeError(f"no agent answered before round {r}; stopping")
        LOG.info("round %d/%d started: %d agents", r, config.rounds, len(live))
        tables = None if table is None else batch_link_tables(
            table[:, [column_of[m.modality] for m in live]],
            [_entities_or_none(drawn_of.get(m.node), S) for m in live])
        if mixing:
            mixed = server_mix([codes[m.node] for m in live], config, rng, links=tables)
        else:
            mixed = no_mix([codes[m.node] for m in live])
        t_mixed = time.perf_counter()
        last = r == config.rounds
        batches = {} if last else batch_arrays(r, live)
        messages = [rounds.message(m.node, "train.fit", {"local_epochs": config.local_epochs,
                                                          "n_batches": 0 if last else S, "final": last,
                                                          "mixing": mixing},
                                   {"mix": {"targets": mixed.targets[i], "grads": mixed.grads[i]},
                                    **batches.get(m.node, {})})
                    for i, m in enumerate(live)]
        sent = {str(m.modality): int(mixed.targets[i].nbytes + mixed.grads[i].nbytes) for i, m in enumerate(live)}
        newcomers: list[int] = []
        if not last:
            absent = [m for m in by_modality if m.node not in codes and not rounds.pending(m.node)]
            messages += [rounds.message(m.node, "query.encode", {"n_batches": S},
                                        batch_arrays(r, [m])[m.node]) for m in absent]
            # a restarted SuperNode comes back with a new node id: ask it who it is, with codes
            known = {m.node for m in by_modality} | ignored
            newcomers = [n for n in sorted(grid.get_node_ids()) if n not in known and not rounds.pending(n)]
            messages += [rounds.message(n, "query.encode", {"n_batches": S}, batch_arrays(r, [n])[n])
                         for n in newcomers]
        reached = rounds.push(messages)
        replies = rounds.collect({m.node for m in live} & reached, config.reply_timeout)
        codes = {}
        metrics, received, missing = {}, {}, []
        for node in [n for n in replies if n not in {m.node for m in by_modality}]:
            reply = replies.pop(node)
            if _error(reply) is not None or last:
                continue
            modality = _info(reply)[0]
            holder = next((m for m in by_modality if m.modality == modality), None)
            if holder is None or holder in live:
                note(f"node {node} claims modality {modality}, which {'no agent' if holder is None else 'a live agent'}"
                     " holds; ignored")
                ignored.add(node)
                continue
            note(f"agent {modality} is back as node {node} (was {holder.node}); it rejoins in round {r + 1}")
            unavailable.discard(holder.node)
            holder.node = node
            received[str(modality)] = rounds.record(r, modality, reply)
            take_codes(node, reply)
        for m in by_modality:
            reply = replies.get(m.node)
            if reply is None:
                if m in live:
                    missing.append(m.modality)
                    note(f"agent {m.modality} (node {m.node}) did not answer round {r} within "
                         f"{_seconds(config.reply_timeout)}; continuing with the others")
                continue
            if (error := _error(reply)) is not None:
                if m in live:
                    missing.append(m.modality)
                    note(f"agent {m.modality} (node {m.node}) failed in round {r}: {error}; "
                         "continuing with the others")
                elif m.node not in unavailable:
                    note(f"agent {m.modality} (node {m.node}) is unavailable: {error}")
                unavailable.add(m.node)
                continue
            unavailable.discard(m.node)
            received[str(m.modality)] = rounds.record(r, m.modality, reply)
            if m not in live:
                if last:
                    continue  # a late answer: too late for the read-out
                note(f"agent {m.modality} (node {m.node}) is back; it rejoins in round {r + 1}")
            elif reply.metadata.message_type.startswith("train"):
                metrics[str(m.modality)] = {k: float(v) for k, v in reply.content.metric_records["metrics"].items()}
            if "codes" in reply.content.array_records:
                take_codes(m.node, reply)
        entry = {"round": r, "agents": [m.modality for m in live], "missing": missing, "otm": mixed.otm,
                 "clu": mixed.clu, "metrics": metrics, "bytes_sent": sent, "bytes_received": received,
                 "seconds": time.perf_counter() - t_round, "seconds_mixing": t_mixed - t_round,
                 "seconds_exchange": time.perf_counter() - t_mixed}
        history.append(entry)
        LOG.info("round %d/%d: %d agents, otm %.4f, clu %.4f, %.2f s (mixing %.2f s, exchange %.2f s)", r,
                 config.rounds, len(live), mixed.otm, mixed.clu, entry["seconds"], entry["seconds_mixing"],
                 entry["seconds_exchange"])
        if on_round is not None:
            on_round(entry)
        if settings.checkpoint:
            write_json_atomic(settings.checkpoint, {
                "round": r, "history": history, "events": events, "rng": rng.bit_generator.state,
                "model_key": config.model_key(), "modalities": modalities, "run_key": run_key,
                "n_links": int(settings.n_links)})
        if settings.stop_after is not None and r >= settings.stop_after and not last:
            LOG.info("stopping after round %d as asked (stop-after); resume with the same checkpoint", r)
            result = {"stopped_after": r, "history": history, "events": events}
            if settings.result:
                write_json_atomic(settings.result, result)
            return result

    # read-out: the last round's replies carried every agent's codes of all its rows
    final = [(m, codes[m.node]) for m in by_modality if m.node in codes]
    for m in by_modality:
        if m.node not in codes:
            note(f"agent {m.modality} (node {m.node}) left out of the read-out: no answer in the last round")
    if not final:
        raise RuntimeError("no agent answered in the last round; nothing to read out")
    LOG.info("read-out: fusing and clustering the codes of %d agents", len(final))
    t_readout = time.perf_counter()

    def cluster_on_agent(i: int, blocks: list[tuple[float, np.ndarray]]) -> np.ndarray:
        """The agent's part of the matched read-out: one ``query.cluster`` exchange."""
        m = final[i][0]
        weights, evidence = evidence_arrays(blocks, m.n_rows, config.n_clusters)
        LOG.info("matched clusters: agent %d clusters its own features beside %d evidence blocks", m.modality,
                 len(blocks))
        sent = rounds.push([rounds.message(m.node, "query.cluster",
                                           arrays={"evidence": {"weights": weights, "evidence": evidence}})])
        reply = rounds.collect(sent, config.reply_timeout).get(m.node)
        error = "no answer" if reply is None else _error(reply)
        if error is None and "labels" not in reply.content.array_records:
            error = "a reply without labels"
        if error is not None:
            raise RuntimeError(f"agent {m.modality} (node {m.node}) failed in the matched read-out: {error}")
        rounds.record(config.rounds + 1, m.modality, reply)
        return reply.content.array_records["labels"]["labels"].numpy()

    sub_table = None if table is None or pseudo else table[:, [column_of[m.modality] for m, _ in final]]
    # without mixing the codes are the start's: its analysis is the read-out's, as in-process (all agents there)
    at_start = before if not mixing and len(final) == len(by_modality) else None
    read = federated_readout([Z for _, Z in final], config, sub_table, cluster_on_agent, analysis=at_start)
    LOG.info("read-out took %.1f s; sending the cluster centres to the agents", time.perf_counter() - t_readout)
    reached = rounds.push([rounds.message(m.node, "evaluate.assign", arrays={
        "centers": {"centers": read.centers},
        "frame": dict(zip(("source", "rotation", "target"), read.frames[i]))}) for i, (m, _) in enumerate(final)])
    assigned = rounds.collect(reached, config.reply_timeout)
    for m, _ in final:
        if m.node in assigned and _error(assigned[m.node]) is None:
            rounds.record(config.rounds + 1, m.modality, assigned[m.node])
        else:
            note(f"agent {m.modality} did not confirm the cluster centres")
    result = {
        "modalities": modalities, **readout_result(read, [str(m.modality) for m, _ in final]),
        "agents": {str(m.modality): {"node": m.node, "n_rows": m.n_rows, "in_dim": m.in_dim} for m in by_modality},
        "in_readout": [m.modality for m, _ in final], "n_links": int(settings.n_links),
        **training_block(before, mixing, np.zeros((settings.n_links, 1)) if settings.n_links else None),
        "history": history, "events": events, "steps_per_round": S, "config": config.to_dict(),
        "run_key": run_key, "seconds": time.perf_counter() - start,
    }
    if settings.result:
        write_json_atomic(settings.result, result)
    return result


def _ensure_log_handler(level: int = logging.INFO) -> None:
    if not LOG.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s otmix server: %(message)s"))
        LOG.addHandler(handler)
    LOG.setLevel(level)


def make_server_app(settings: ServerSettings | None = None, on_round: Callable[[dict], None] | None = None,
                    log_level: int = logging.INFO) -> ServerApp:
    """A ServerApp running :func:`run_server` with ``settings`` (default: read from the run config).

    ``on_round`` gets every round's history entry (in-process runs only: the simulation);
    ``log_level``: of the server's log (WARNING: only the events, such as a dropped agent).
    """
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        _ensure_log_handler(log_level)
        chosen = settings if settings is not None else ServerSettings.from_run_config(dict(context.run_config))
        run_server(grid, chosen, on_round=on_round)

    return app


app = make_server_app()
