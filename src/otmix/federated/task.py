r"""The federated protocol's work, without Flower: what an agent does with its data, what the server mixes.

One round (DESIGN.md §4), for agents m = 1..M each holding one view :math:`X_m`:

1. every agent draws S batches of its own rows (local indices, never sent) and
   replies their codes :math:`Z_{m,s} = f_m(X_m[I_{m,s}])` — :func:`agent_encode`;
2. the server pairs batch s of every agent (the views are unaligned: any pairing is
   as good as another), solves the FGW barycenter, mixes it and returns per agent the
   push-back targets :math:`\tilde Z_{m,s}` and the gradient
   :math:`G_{m,s} = \partial\,\mathrm{GW}(K(\tilde Z_{B,s}), I_C) / \partial Z_{m,s}` —
   :func:`server_mix` (the same :func:`otmix.train.cluster.mixing_terms` as the
   in-process trainer);
3. every agent runs E local epochs over its S batches, minimising

   .. math::

       w_{rec}\,\overline{\|X_{m,s} - g_m(Z_{m,s})\|^2}
       + w_{otm}\,\overline{\|Z_{m,s} - \tilde Z_{m,s}\|^2}
       + w_{clu}\,\langle G_{m,s}, Z_{m,s}\rangle

   (the clustering term linearised at the round's codes: with fresh codes, E = 1 and
   S = 1 its gradient is exactly the in-process one) — :func:`agent_train` — and
   replies its metrics and the next round's codes.

Amortisation: one message exchange per round carries S·E local steps, so the ≈ 10 s a
deployment exchange costs is paid once per S·E steps, not once per step. The price is
staleness: targets are computed from codes at the start of the round.

Only codes (float32, width d), gradients/targets of the same shape, cluster centres
and scalar metrics cross the wire; :mod:`otmix.federated.guard` checks every reply.
"""

from __future__ import annotations

import io
import math
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..data.views import check_views
from ..models.wae import MWAE
from ..train.index_stream import IndexStream

if TYPE_CHECKING:
    from ..readout import FusedClusters
    from ..train.cluster import ClusterConfig

# The agent's side imports only numpy and torch (a deployed agent starts a fresh process for every
# message); the solvers, scikit-learn and the trainer are imported by the server's functions when called.


@dataclass
class FedConfig:
    """Hyper-parameters of a federated clustering run (shared by the server and every agent).

    The model and loss fields mean what they mean in :class:`otmix.train.cluster.ClusterConfig`;
    the budget is ``rounds × local_epochs`` epochs (one epoch = ``max_m N_m // batch_size``
    steps, as in-process). ``reply_timeout`` is how long the server waits for agents in a
    round before it continues with those that answered.
    """

    n_clusters: int
    rounds: int = 20
    local_epochs: int = 3
    latent_dim: int = 16
    hidden_dim: int = 128
    alpha: float = 0.5
    structure: str = "euclidean"
    batch_size: int = 256
    lr: float = 1e-3
    w_rec: float = 1.0
    w_otm: float = 0.1
    w_clu: float = 0.1
    mix: str = "binary"
    max_outer: int = 5
    readout: str = "kmeans"
    readout_points: int = 2048
    reply_timeout: float = 600.0
    random_state: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        from ..readout import READOUTS
        from ..train.cluster import MIX_MODES, STRUCTURES

        for name in ("n_clusters", "rounds", "local_epochs", "latent_dim", "hidden_dim", "max_outer"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.batch_size) < max(2, int(self.n_clusters)):
            raise ValueError(f"batch_size must be >= max(2, n_clusters), got {self.batch_size}")
        if int(self.readout_points) < int(self.n_clusters):
            raise ValueError(f"readout_points must be >= n_clusters, got {self.readout_points}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {self.structure!r}")
        if self.mix not in MIX_MODES:
            raise ValueError(f"mix must be one of {MIX_MODES}, got {self.mix!r}")
        federated_readouts = tuple(r for r in READOUTS if r not in ("auto", "matched"))
        if self.readout not in federated_readouts:
            raise ValueError(f"readout must be one of {federated_readouts} (the server's fused read-outs), "
                             f"got {self.readout!r}")
        for name in ("lr", "reply_timeout"):
            if not (float(getattr(self, name)) > 0 and math.isfinite(float(getattr(self, name)))):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)}")
        for name in ("w_rec", "w_otm", "w_clu"):
            value = float(getattr(self, name))
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FedConfig:
        """Build from a flat mapping (a Flower run config or ConfigRecord); unknown keys are ignored,
        ``-`` in keys is read as ``_``, values are cast to the field's type."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name in known:
                kind = known[name].type
                kwargs[name] = {"int": int, "float": float, "str": str}.get(str(kind), lambda v: v)(value)
        return cls(**kwargs)

    def model_key(self) -> dict[str, Any]:
        """The fields that define the model and its training; a run may be resumed with others changed
        (more rounds or local epochs, another timeout or read-out)."""
        return {k: v for k, v in self.to_dict().items()
                if k not in ("rounds", "local_epochs", "reply_timeout", "readout", "readout_points")}

    def cluster_config(self) -> ClusterConfig:
        """The in-process trainer's config with the same model, loss and budget."""
        from ..train.cluster import ClusterConfig

        shared = {f.name: getattr(self, f.name) for f in fields(ClusterConfig) if hasattr(self, f.name)}
        return ClusterConfig(**shared, epochs=self.rounds * self.local_epochs, patience=None)


def steps_per_round(n_rows: Sequence[int], batch_size: int) -> int:
    """S: batches per agent and round, one pass over the largest view (as one in-process epoch)."""
    return max(1, max(int(n) for n in n_rows) // int(batch_size))


def agent_seed(config: FedConfig, modality: int) -> int:
    """Every agent's own seed, derived from the run's seed and its modality."""
    return int(np.random.SeedSequence([int(config.random_state), 104729, int(modality)]).generate_state(1)[0])


def load_view(path: str | Path) -> np.ndarray:
    """One agent's view from a file: ``.npy``, ``.npz`` (array ``X``, or its only array) or ``.csv`` (numbers only).

    Raises ValueError/FileNotFoundError with one line naming the problem (missing or
    corrupt file, not 2-D, empty, NaN/Inf).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise ValueError(f"unsupported data file {path.name}: use .npy, .npz or .csv")
    try:
        if suffix == ".csv":
            X = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            loaded = np.load(path, allow_pickle=False)
            if suffix == ".npy":
                X = loaded
            else:
                with loaded as archive:
                    keys = list(archive.keys())
                    X = archive["X"] if "X" in keys else archive[keys[0]] if len(keys) == 1 else None
                if X is None:
                    raise LookupError(f"it must hold an array named X (it has {keys})")
    except (OSError, EOFError, ValueError, LookupError, zipfile.BadZipFile) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickled" in detail:
            detail = f"not a valid {suffix} file"
        raise ValueError(f"cannot read {path}: {detail}") from None
    (X,), _ = check_views([X])
    return X


def save_view(path: str | Path, X: np.ndarray) -> None:
    """Write one view as ``.npz`` (array ``X``) atomically: what an agent's ``data`` file holds."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, X=np.asarray(X))


# -- the agent -----------------------------------------------------------------------------------------


def agent_losses(
    model: MWAE, batch: torch.Tensor, target: torch.Tensor, grad: torch.Tensor, config: FedConfig,
) -> dict[str, torch.Tensor]:
    r"""One local step's loss of an agent (a one-view :class:`MWAE`):
    :math:`w_{rec}\overline{\|X - g(Z)\|^2} + w_{otm}\overline{\|Z - \tilde Z\|^2} + w_{clu}\langle G, Z\rangle`.

    With ``target`` and ``grad`` from :func:`server_mix` on this batch's current codes,
    its gradient in the agent's weights equals the in-process gradient of
    :func:`otmix.train.cluster.step_losses` (detached targets).
    """
    Z = model.encode(0, batch)
    rec = torch.mean((model.decode(0, Z) - batch) ** 2)
    otm = torch.mean((Z - target) ** 2)
    clu = torch.sum(grad * Z)
    total = config.w_rec * rec + config.w_otm * otm + config.w_clu * clu
    return {"total": total, "rec": rec, "otm": otm, "clu_linear": clu}


class Agent:
    """One modality's autoencoder, optimiser, batch stream and pending batches.

    It holds no data: every method takes the agent's view ``X`` (rows = its own
    samples), as a Flower ClientApp loads it afresh for every message. The state
    round-trips through :meth:`to_bytes` / :meth:`from_bytes` (``torch.load`` with
    ``weights_only=True``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    >>> config = FedConfig(n_clusters=2, batch_size=8, latent_dim=3, hidden_dim=8)
    >>> agent = Agent(in_dim=5, modality=0, config=config)
    >>> agent.encode(X, n_batches=2).shape
    (2, 8, 3)
    """

    def __init__(self, in_dim: int, modality: int, config: FedConfig) -> None:
        self.in_dim, self.modality, self.config = int(in_dim), int(modality), config
        seed = agent_seed(config, modality)
        self.rng = np.random.default_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = MWAE([self.in_dim], config.latent_dim, config.hidden_dim)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.stream: IndexStream | None = None
        self.pending: np.ndarray | None = None  # (S, B) local row indices of the batches last encoded
        self.centers: np.ndarray | None = None
        self.rounds_trained = 0
        self.run_key = ""  # the server's run this state belongs to

    # state -------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        state = {
            "in_dim": self.in_dim, "modality": self.modality, "config": self.config.to_dict(),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state, "rounds_trained": self.rounds_trained, "run_key": self.run_key,
            "stream": None if self.stream is None else {
                "order": torch.as_tensor(self.stream.order), "pos": self.stream.pos},
            "pending": None if self.pending is None else torch.as_tensor(self.pending),
            "centers": None if self.centers is None else torch.as_tensor(self.centers),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Agent:
        state = torch.load(io.BytesIO(blob), weights_only=True)
        agent = cls(state["in_dim"], state["modality"], FedConfig.from_dict(state["config"]))
        agent.model.load_state_dict(state["model"])
        agent.optimizer.load_state_dict(state["optimizer"])
        agent.rounds_trained = int(state["rounds_trained"])
        agent.run_key = str(state.get("run_key", ""))
        if state["stream"] is not None:  # the stream draws from the agent's own generator
            agent.stream = IndexStream(int(state["stream"]["order"].numel()), agent.rng)
            agent.stream.order, agent.stream.pos = state["stream"]["order"].numpy(), int(state["stream"]["pos"])
        agent.rng.bit_generator.state = state["rng"]  # after the stream's construction drew from it
        agent.pending = None if state["pending"] is None else state["pending"].numpy()
        agent.centers = None if state["centers"] is None else state["centers"].numpy()
        return agent

    # work --------------------------------------------------------------------------------------------
    def _check(self, X: np.ndarray) -> torch.Tensor:
        if X.ndim != 2 or X.shape[1] != self.in_dim:
            raise ValueError(f"agent {self.modality} expects rows of {self.in_dim} features, got shape {X.shape}")
        return torch.as_tensor(np.asarray(X), dtype=torch.float32)

    def encode(self, X: np.ndarray, n_batches: int) -> np.ndarray:
        """Draw ``n_batches`` batches of own rows and return their codes, shape (S, B_m, d), float32.

        Codes are computed as in training (batch statistics), so with unchanged weights
        :meth:`train` sees the same codes the server mixed.
        """
        data = self._check(X)
        if self.stream is None:
            self.stream = IndexStream(data.shape[0], self.rng)
        size = min(int(self.config.batch_size), data.shape[0])
        self.pending = np.stack([self.stream.take(size) for _ in range(int(n_batches))])
        self.model.train()
        with torch.no_grad():
            codes = [self.model.encode(0, data[rows]) for rows in self.pending]
        return torch.stack(codes).numpy().astype(np.float32)

    def train(self, X: np.ndarray, targets: np.ndarray, grads: np.ndarray, local_epochs: int) -> dict[str, float]:
        """E local epochs over the pending batches against the server's targets; mean losses of the last epoch."""
        data = self._check(X)
        if self.pending is None:
            raise ValueError(f"agent {self.modality} has no pending batches: the server must ask for codes first")
        expected = (*self.pending.shape, self.config.latent_dim)
        for name, array in (("targets", targets), ("grads", grads)):
            if tuple(array.shape) != expected:
                raise ValueError(f"{name} must have shape {expected} (the codes sent), got {tuple(array.shape)}")
            if not np.isfinite(array).all():
                raise ValueError(f"{name} from the server contain NaN or Inf")
        targets_t = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
        grads_t = torch.as_tensor(np.asarray(grads), dtype=torch.float32)
        cfg = self.config
        self.model.train()
        sums: dict[str, float] = {}
        for _ in range(int(local_epochs)):
            sums = dict.fromkeys(("total", "rec", "otm", "clu_linear"), 0.0)
            for s, rows in enumerate(self.pending):
                losses = agent_losses(self.model, data[rows], targets_t[s], grads_t[s], cfg)
                self.optimizer.zero_grad()
                losses["total"].backward()
                self.optimizer.step()
                for key in sums:
                    sums[key] += float(losses[key].detach()) / len(self.pending)
        if not math.isfinite(sums["total"]):
            raise FloatingPointError(f"agent {self.modality}: the local loss became {sums['total']}; lower lr")
        self.pending = None
        self.rounds_trained += 1
        return sums

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Codes of all rows with the code normalisation calibrated on the full view (eval mode), float32."""
        data = self._check(X)
        self.model.calibrate_codes([data])
        with torch.no_grad():
            return self.model.encode(0, data).numpy().astype(np.float32)

    def assign(self, X: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """Keep the fused cluster centres and return the cluster of every own row (its nearest centre)."""
        from ..readout import nearest_center

        self.centers = np.asarray(centers, dtype=np.float64)
        return nearest_center(self.codes(X), self.centers)


# -- the server ----------------------------------------------------------------------------------------


@dataclass
class MixResult:
    """What the server sends back after mixing one round's codes.

    Attributes
    ----------
    targets, grads : list of ndarray (S, B_m, d), float32
        Per agent (in the order of the codes given): push-back targets and the
        clustering gradient w.r.t. the agent's codes.
    otm : float
        Mean over batches of :math:`\\sum_m \\overline{\\|Z_m - \\tilde Z_m\\|^2}` at the sent codes.
    clu : float
        Mean over batches of the clustering loss.
    """

    targets: list[np.ndarray]
    grads: list[np.ndarray]
    otm: float
    clu: float


def server_mix(codes: Sequence[np.ndarray], config: FedConfig, rng: np.random.Generator) -> MixResult:
    """Mix one round's codes: per batch s, the stochastic FGW barycenter of ``codes[m][s]`` over agents m.

    Parameters
    ----------
    codes : list of arrays (S, B_m, d)
        The codes every agent sent this round (same S for all).
    config : FedConfig
    rng : numpy Generator
        Server randomness (barycenter start, masks, clustering start).
    """
    from ..train.cluster import mixing_terms

    if len(codes) == 0:
        raise ValueError("no codes to mix")
    n_batches = {int(np.shape(Z)[0]) for Z in codes}
    if len(n_batches) != 1:
        raise ValueError(f"every agent must send the same number of batches, got {sorted(n_batches)}")
    widths = {int(np.shape(Z)[-1]) for Z in codes}
    if widths != {int(config.latent_dim)}:
        raise ValueError(f"codes must have width latent_dim={config.latent_dim}, got {sorted(widths)}")
    for m, Z in enumerate(codes):
        if not np.isfinite(Z).all():
            raise ValueError(f"the codes of agent {m} contain NaN or Inf")
    cluster_config = config.cluster_config()
    targets: list[list[np.ndarray]] = [[] for _ in codes]
    grads: list[list[np.ndarray]] = [[] for _ in codes]
    otm_sum = clu_sum = 0.0
    S = n_batches.pop()
    for s in range(S):
        Zs = [torch.tensor(np.asarray(Z[s]), dtype=torch.float32, requires_grad=True) for Z in codes]
        batch_targets, clu = mixing_terms(Zs, cluster_config, rng)
        if clu.requires_grad:
            batch_grads = torch.autograd.grad(clu, Zs, allow_unused=True)
        else:
            batch_grads = [None] * len(Zs)
        for m, (Z, target, grad) in enumerate(zip(Zs, batch_targets, batch_grads)):
            targets[m].append(target.detach().numpy().astype(np.float32))
            grads[m].append(np.zeros(Z.shape, np.float32) if grad is None else grad.numpy().astype(np.float32))
            otm_sum += float(torch.mean((Z.detach() - target.detach()) ** 2)) / S
        clu_sum += float(clu.detach()) / S
    return MixResult([np.stack(t) for t in targets], [np.stack(g) for g in grads], otm_sum, clu_sum)


def server_readout(codes: Sequence[np.ndarray], config: FedConfig) -> FusedClusters:
    """Fuse every agent's full codes into one barycenter and cluster it (:func:`otmix.readout.fuse_and_cluster`)."""
    from ..readout import fuse_and_cluster

    return fuse_and_cluster(
        [np.asarray(Z, dtype=np.float64) for Z in codes], config.n_clusters, readout=config.readout,
        alpha=config.alpha, structure=config.structure, max_points=config.readout_points,
        random_state=int(config.random_state) + 7919, n_jobs=1,
    )


# -- the whole protocol in one process -----------------------------------------------------------------


def run_protocol(Xs: Sequence[np.ndarray], config: FedConfig) -> dict[str, Any]:
    """Run the federated protocol with every agent in this process (no Flower, no network).

    The reference for the Flower apps: same functions, same order, same seeds, so a
    simulation in which every agent answers gives the same labels (with the same number
    of torch threads). Returns a dict of the shape :func:`otmix.federated.server_app.run_server`
    returns: ``labels`` / ``labels_by_readout`` per modality (keys ``"0"``, ``"1"``, ...),
    ``history`` (per round: otm, clu, agents' metrics, bytes each way), ``centers``...
    """
    config.validate()
    start = time.perf_counter()
    agents = [Agent(X.shape[1], m, config) for m, X in enumerate(Xs)]
    rng = np.random.default_rng(config.random_state)
    S = steps_per_round([len(X) for X in Xs], config.batch_size)
    codes = [agent.encode(X, S) for agent, X in zip(agents, Xs)]
    history = []
    for r in range(1, config.rounds + 1):
        t_round = time.perf_counter()
        mixed = server_mix(codes, config, rng)
        t_mixed = time.perf_counter()
        metrics = {str(m): agent.train(X, mixed.targets[m], mixed.grads[m], config.local_epochs)
                   for m, (agent, X) in enumerate(zip(agents, Xs))}
        sent = {str(m): int(mixed.targets[m].nbytes + mixed.grads[m].nbytes) for m in range(len(Xs))}
        if r < config.rounds:
            codes = [agent.encode(X, S) for agent, X in zip(agents, Xs)]
        else:  # the last reply carries all rows' codes for the read-out
            codes = [agent.codes(X) for agent, X in zip(agents, Xs)]
        received = {str(m): int(Z.nbytes) for m, Z in enumerate(codes)}
        history.append({"round": r, "agents": list(range(len(Xs))), "missing": [], "otm": mixed.otm,
                        "clu": mixed.clu, "metrics": metrics, "bytes_sent": sent, "bytes_received": received,
                        "seconds": time.perf_counter() - t_round, "seconds_mixing": t_mixed - t_round,
                        "seconds_exchange": time.perf_counter() - t_mixed})
    fused = server_readout(codes, config)
    own = [agent.assign(X, fused.centers) for agent, X in zip(agents, Xs)]
    keys = [str(m) for m in range(len(Xs))]
    return {
        "modalities": list(range(len(Xs))), "in_readout": list(range(len(Xs))),
        "labels": {k: labels.tolist() for k, labels in zip(keys, fused.labels)},
        "labels_by_readout": {name: {k: lab.tolist() for k, lab in zip(keys, labels)}
                              for name, labels in fused.labels_by_readout.items()},
        "agent_labels": {k: labels.tolist() for k, labels in zip(keys, own)},
        "centers": fused.centers.tolist(), "history": history, "events": [], "steps_per_round": S,
        "config": config.to_dict(), "seconds": time.perf_counter() - start,
    }
