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

With links (:mod:`otmix.federated.links`), every batch holds the linked entities the
server drew and the barycenter of step 2 is the linked one; without links, linear agents
first send the codes of their PCA start, on which the server measures alignability as
the in-process estimator does (pseudo-links, or no mixing). The read-out is
``OTMClustering.fit``'s (:func:`federated_readout`): the server's part on codes, the
agents' K-means on their own features (the matched read-out).

Only codes (float32, width d), gradients/targets of the same shape, cluster centres,
entity ids and row indices of linked records, cluster labels, evidence derived from
other views' labels and scalar metrics cross the wire; :mod:`otmix.federated.guard`
checks every reply.
"""

from __future__ import annotations

import io
import math
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..data.views import check_views
from ..models.wae import MWAE
from ..train.index_stream import IndexStream, fill_batch

if TYPE_CHECKING:
    from ..train.cluster import ClusterConfig

# The agent's side imports only numpy and torch (a deployed agent starts a fresh process for every
# message); the solvers, scikit-learn and the trainer are imported by the server's functions when called.


@dataclass
class FedConfig:
    """Hyper-parameters of a federated clustering run (shared by the server and every agent).

    The model and loss fields mean what they mean in :class:`otmix.train.cluster.ClusterConfig`
    (``encoder="linear"``: every agent's encoder starts at its own view's PCA, as in-process;
    ``link_share``: the share of every batch drawn from the linked entities), the read-out
    fields what they mean in :class:`otmix.estimators.OTMClustering` (``readout="auto"`` or
    ``"matched"``: the server measures alignability and runs the matched read-out with the
    agents, :func:`federated_readout`); the budget is ``rounds × local_epochs`` epochs (one epoch = ``max_m N_m // batch_size``
    steps, as in-process). ``reply_timeout`` is how long the server waits for agents in a
    round before it continues with those that answered.
    """

    n_clusters: int
    rounds: int = 20
    local_epochs: int = 3
    latent_dim: int = 16
    hidden_dim: int = 128
    encoder: str = "mlp"
    alpha: float = 0.5
    structure: str = "euclidean"
    batch_size: int = 256
    lr: float = 1e-3
    w_rec: float = 1.0
    w_otm: float = 0.1
    w_clu: float = 0.1
    mix: str = "binary"
    max_outer: int = 5
    link_share: float = 0.5
    readout: str = "kmeans"
    readout_points: int = 1024
    align_restarts: int = 8
    reply_timeout: float = 600.0
    random_state: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        from ..readout import READOUTS
        from ..train.cluster import ENCODERS, MIX_MODES, STRUCTURES

        for name in ("n_clusters", "rounds", "local_epochs", "latent_dim", "hidden_dim", "max_outer",
                     "align_restarts"):
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
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if not 0.0 <= float(self.link_share) <= 1.0:
            raise ValueError(f"link_share must lie in [0, 1], got {self.link_share}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
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
                if k not in ("rounds", "local_epochs", "reply_timeout", "readout", "readout_points", "align_restarts")}

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

    def __init__(self, in_dim: int, modality: int, config: FedConfig, X: np.ndarray | None = None) -> None:
        self.in_dim, self.modality, self.config = int(in_dim), int(modality), config
        seed = agent_seed(config, modality)
        self.rng = np.random.default_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = MWAE([self.in_dim], config.latent_dim, config.hidden_dim, encoder=config.encoder)
        if X is not None:  # a linear encoder starts at the view's PCA (the in-process start, bit for bit)
            self.model.init_from_data([self._check(X)])
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

    def encode(self, X: np.ndarray, n_batches: int, entities: np.ndarray | None = None,
               link_rows: np.ndarray | None = None) -> np.ndarray:
        """Draw ``n_batches`` batches of own rows and return their codes, shape (S, B_m, d), float32.

        Codes are computed as in training (batch statistics), so with unchanged weights
        :meth:`train` sees the same codes the server mixed. With ``entities`` (S, k), the
        server's linked entities of every batch, and ``link_rows`` (the agent's row of every
        entity, ``-1`` absent), every batch holds first the rows of the entities the agent
        holds, then unlinked rows from a stream over those, up to ``min(batch_size, N_m)``
        rows: the in-process :class:`otmix.train.cluster.BatchSampler`'s batches.
        """
        from .links import batch_rows

        data = self._check(X)
        size = min(int(self.config.batch_size), data.shape[0])
        if entities is None:
            if self.stream is None:
                self.stream = IndexStream(data.shape[0], self.rng)
            self.pending = np.stack([self.stream.take(size) for _ in range(int(n_batches))])
        else:
            if link_rows is None:
                raise ValueError(f"agent {self.modality} got linked entities but has no link rows")
            entities = np.asarray(entities, dtype=np.int64)
            if entities.ndim != 2 or entities.shape[0] != int(n_batches):
                raise ValueError(f"the server's batch entities must have shape ({n_batches}, k), got "
                                 f"{entities.shape}")
            if entities.size and (entities.min() < 0 or entities.max() >= len(link_rows)):
                raise ValueError(f"the server's batch entities lie outside agent {self.modality}'s "
                                 f"{len(link_rows)} linked entities")
            free = np.setdiff1d(np.arange(data.shape[0]), np.asarray(link_rows))
            if self.stream is None or self.stream.n_rows != free.size:
                self.stream = IndexStream(free.size, self.rng)
            batches = [fill_batch(batch_rows(link_rows, drawn), free, self.stream, size) for drawn in entities]
            if len({b.size for b in batches}) > 1:
                raise ValueError(f"agent {self.modality}'s batches would have {sorted({b.size for b in batches})} "
                                 "rows: too few unlinked rows to fill every batch; lower link_share")
            self.pending = np.stack(batches)
        self.model.train()
        with torch.no_grad():
            codes = [self.model.encode(0, data[rows]) for rows in self.pending]
        return torch.stack(codes).numpy().astype(np.float32)

    def train(self, X: np.ndarray, targets: np.ndarray, grads: np.ndarray, local_epochs: int,
              mixing: bool = True) -> dict[str, float]:
        """E local epochs over the pending batches against the server's targets; mean losses of the last epoch.

        ``mixing=False`` (views the server found not alignable, as the in-process trainer's
        ``mixing=False``): the reconstruction term only; the targets and gradients are ignored.
        """
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
        cfg = self.config if mixing else replace(self.config, w_otm=0.0, w_clu=0.0)
        from ..train.threads import torch_threads

        self.model.train()
        sums: dict[str, float] = {}
        with torch_threads(1):  # as the in-process fit: more torch threads are slower at batch sizes
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

    def start_codes(self, X: np.ndarray) -> np.ndarray:
        """Codes of all rows at the linear PCA start (float32), whatever the agent's encoder: what the
        in-process estimator measures alignability on before training when there are no links."""
        data = self._check(X)
        with torch.random.fork_rng(devices=[]):
            model = MWAE([self.in_dim], self.config.latent_dim, encoder="linear")
        model.init_from_data([data])
        model.calibrate_codes([data])
        with torch.no_grad():
            return model.encode(0, data).numpy().astype(np.float32)

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Codes of all rows with the code normalisation calibrated on the full view (eval mode), float32."""
        data = self._check(X)
        self.model.calibrate_codes([data])
        with torch.no_grad():
            return self.model.encode(0, data).numpy().astype(np.float32)

    def assign(self, X: np.ndarray, centers: np.ndarray,
               frame: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Keep the fused cluster centres and return the cluster of every own row (its nearest centre).

        ``frame`` ``(source mean, rotation, target mean)``: the server's turn of this agent's
        codes onto the reference view's frame (with links), applied before the comparison.
        """
        from ..readout import nearest_center

        self.centers = np.asarray(centers, dtype=np.float64)
        Z = self.codes(X).astype(np.float64)
        if frame is not None:
            source, rotation, target = (np.asarray(a, dtype=np.float64) for a in frame)
            Z = (Z - source) @ rotation + target
        return nearest_center(Z, self.centers)

    def cluster(self, X: np.ndarray, weights: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        """The agent's part of the matched read-out: K-means on its own features beside the server's evidence.

        ``weights`` (k,) and ``evidence`` (k, N_m, C): the blocks of
        :func:`otmix.readout.evidence_for` (k may be 0); K-means seeded with the run's seed,
        as the in-process read-out (:func:`otmix.readout.cluster_with_evidence`).
        """
        from ..readout import cluster_with_evidence

        data = np.asarray(X, dtype=np.float64)
        evidence = np.asarray(evidence, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64).ravel()
        if evidence.ndim != 3 or evidence.shape[0] != weights.size or (
                weights.size and evidence.shape[1:] != (data.shape[0], int(self.config.n_clusters))):
            raise ValueError(f"the server's evidence for agent {self.modality} must have shape (k, {data.shape[0]}, "
                             f"{self.config.n_clusters}) with k weights, got {evidence.shape} and {weights.size}")
        blocks = [(float(w), V) for w, V in zip(weights, evidence)]
        return cluster_with_evidence(data, blocks, int(self.config.n_clusters), int(self.config.random_state))


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


def server_mix(codes: Sequence[np.ndarray], config: FedConfig, rng: np.random.Generator,
               links: Sequence[np.ndarray | None] | None = None) -> MixResult:
    """Mix one round's codes: per batch s, the stochastic FGW barycenter of ``codes[m][s]`` over agents m.

    Parameters
    ----------
    codes : list of arrays (S, B_m, d)
        The codes every agent sent this round (same S for all).
    config : FedConfig
    rng : numpy Generator
        Server randomness (barycenter start, masks, clustering start).
    links : list of S link tables (n, M) or None, optional
        Every batch's link table (:func:`otmix.federated.links.batch_link_tables`): the
        barycenter of that batch is then the linked one, as in-process.
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
    if links is not None and len(links) != S:
        raise ValueError(f"got {len(links)} batch link tables for {S} batches")
    for s in range(S):
        Zs = [torch.tensor(np.asarray(Z[s]), dtype=torch.float32, requires_grad=True) for Z in codes]
        batch_targets, clu = mixing_terms(Zs, cluster_config, rng, links=None if links is None else links[s])
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


@dataclass
class ReadOut:
    """The federated read-out (:func:`federated_readout`): what ``OTMClustering.fit`` sets, per agent mixed.

    Attributes
    ----------
    labels : list of ndarray
        Cluster of every row of every agent under ``readout`` (one id map).
    labels_by_readout : dict
        ``{"matched": [...], "fused": [...], "gw": [...]}`` (``matched`` only when the
        read-out is ``auto`` or ``matched``).
    readout : str
        The read-out ``labels`` came from (``auto``: fused when every pair is alignable).
    centers : ndarray (C, d)
        The fused read-out's centres, in the reference frame.
    frames : list of (source mean, rotation, target mean)
        Every agent's codes turned onto the most linked agent's frame (identity without links).
    alignability, stability, pair_plans, transfer_weights
        As ``OTMClustering``'s ``alignability_``, ``stability_``, ``pair_plans_``,
        ``transfer_weights_`` (None when the read-out needs no analysis).
    """

    labels: list[np.ndarray]
    labels_by_readout: dict[str, list[np.ndarray]]
    readout: str
    centers: np.ndarray
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    alignability: list[dict[str, Any]] | None = None
    stability: list[float] | None = None
    pair_plans: dict[tuple[int, int], np.ndarray] | None = None
    transfer_weights: list[list[float]] | None = None


def federated_readout(
    codes: Sequence[np.ndarray], config: FedConfig, links: np.ndarray | None = None,
    cluster_on_agent: Callable[[int, list[tuple[float, np.ndarray]]], np.ndarray] | None = None,
    analysis: Any = None,
) -> ReadOut:
    """The in-process read-out of ``OTMClustering.fit`` (after training), split between server and agents.

    On the server (codes only): :func:`otmix.alignment.analyse_views` (stability,
    alignability, pair plans; seed + 202), :func:`otmix.readout.evidence_for` per agent in
    stability order and :func:`otmix.readout.consensus_ids` (seed + 303), the frames onto the
    most linked view and the fused read-outs (seed + 7919). On the agents (their features):
    :func:`otmix.readout.cluster_with_evidence`, through ``cluster_on_agent(i, blocks)``,
    which returns the labels of agent ``i`` (its index in ``codes``). With readout
    ``fused``/``kmeans``/``gw`` the matched read-out is not run (no agent exchange); the
    analysis still is without links for linear agents, whose pseudo-links frame the fused
    read-out as in-process.

    Parameters
    ----------
    codes : list of arrays (N_m, d)
        Every agent's codes of all its rows.
    config : FedConfig
    links : int array (n_links, M), optional
        The link table of these agents (rows present in fewer than two are dropped).
    cluster_on_agent : callable(int, list of (weight, V)) -> labels, optional
        Needed for the ``auto`` and ``matched`` read-outs.
    analysis : otmix.alignment.ViewAnalysis, optional
        The analysis to use instead of a new one: the start's (:func:`start_analysis`) when
        the views did not mix, as in-process (their codes are the PCA start's).
    """
    from ..alignment import analyse_views
    from ..estimators import _frames_onto_reference, _in_frame
    from ..readout import consensus_ids, evidence_for, fuse_and_cluster, stability_order
    from .links import linked_rows

    Zs = [np.asarray(Z, dtype=np.float64) for Z in codes]
    C, seed = int(config.n_clusters), int(config.random_state)
    table = None if links is None or len(links) == 0 else linked_rows(np.asarray(links, dtype=np.int64))
    by_readout: dict[str, list[np.ndarray]] = {}
    weights = None
    matched = config.readout in ("auto", "matched")
    # the analysis decides the matched read-out, and without links its pseudo-links frame the fused one
    if analysis is None and (matched or (table is None and pseudo_start(config, False))):
        analysis = analyse_views(Zs, C, links=table, restarts=int(config.align_restarts), random_state=seed + 202)
    effective = table if analysis is None else analysis.effective_links()
    if matched:
        if cluster_on_agent is None:
            raise ValueError(f"the {config.readout!r} read-out needs the agents (cluster_on_agent)")
        rng = np.random.default_rng(seed + 303)
        order = stability_order(analysis.stability)
        labels: list[np.ndarray | None] = [None] * len(Zs)
        evidence: dict[tuple[int, int], np.ndarray] = {}
        weights = [[0.0] * len(Zs) for _ in Zs]
        for m in order:
            blocks, seen, log = evidence_for(m, Zs, labels, analysis, C, rng)
            evidence.update({(o, m): V for o, V in seen.items()})
            weights[m] = [float(w) for w in log["weights"]]
            labels[m] = np.asarray(cluster_on_agent(m, blocks), dtype=np.int64)
            if labels[m].shape != (Zs[m].shape[0],):
                raise ValueError(f"agent {m} returned {labels[m].shape} labels for its {Zs[m].shape[0]} rows")
        by_readout["matched"] = [np.asarray(lab, dtype=np.int64)
                                 for lab in consensus_ids(labels, order, evidence, analysis, C)]
    frames = _frames_onto_reference(Zs, effective)
    fused = fuse_and_cluster(
        [_in_frame(Z, f) for Z, f in zip(Zs, frames)], C,
        readout=config.readout if config.readout in ("kmeans", "gw") else "fused", alpha=config.alpha,
        structure=config.structure, max_points=config.readout_points, random_state=seed + 7919, n_jobs=1,
        links=effective,
    )
    by_readout.update(fused.labels_by_readout)
    if config.readout == "auto":
        chosen = "fused" if all(a.alignable for a in analysis.alignability) else "matched"
    else:
        chosen = "fused" if config.readout == "kmeans" else config.readout
    return ReadOut(
        labels=by_readout["matched"] if chosen == "matched" else fused.labels, labels_by_readout=by_readout,
        readout=chosen, centers=np.asarray(fused.centers), frames=frames,
        alignability=None if analysis is None else [a.as_dict() for a in analysis.alignability],
        stability=None if analysis is None else [float(v) for v in analysis.stability],
        pair_plans=None if analysis is None else dict(analysis.pair_plans), transfer_weights=weights,
    )


def no_mix(codes: Sequence[np.ndarray]) -> MixResult:
    """What the server sends when the views do not mix: zero targets and gradients (ignored by the agents)."""
    zeros = [np.zeros(np.shape(Z), np.float32) for Z in codes]
    return MixResult(zeros, [z.copy() for z in zeros], 0.0, 0.0)


def training_block(before: Any, mixing: bool, links: np.ndarray | None) -> dict[str, Any]:
    """The result's ``training`` block, as ``OTMClustering.training_``: mixing, links (given, pseudo, None), n_links."""
    if links is not None and len(links):
        return {"training": {"mixing": True, "links": "given", "n_links": int(len(links))}}
    pseudo = None if before is None else before.pseudo_links
    return {"training": {"mixing": bool(mixing), "links": None if pseudo is None else "pseudo",
                         "n_links": 0 if pseudo is None else int(len(pseudo))}}


def start_analysis(start_codes: Sequence[np.ndarray], config: FedConfig) -> Any:
    """Without links: alignability of the agents' PCA-start codes (:meth:`Agent.start_codes`), as
    ``OTMClustering.fit`` measures it before training (seed + 101). Its ``pseudo_links`` (the matches of
    alignable pairs) are the training's link table; None: the views do not mix (reconstruction only)."""
    from ..alignment import analyse_views

    return analyse_views([np.asarray(Z, dtype=np.float64) for Z in start_codes], int(config.n_clusters),
                         restarts=int(config.align_restarts), random_state=int(config.random_state) + 101)


def pseudo_start(config: FedConfig, has_links: bool) -> bool:
    """Whether a run measures alignability on the PCA start first (no links, linear encoders: the
    in-process estimator's path; MLP agents keep the former protocol, always mixing)."""
    return not has_links and config.encoder == "linear"


def sparse_plans(plans: dict[tuple[int, int], Any] | None) -> list[dict[str, Any]] | None:
    """Pair plans as JSON: ``[{"views": [a, b], "shape": [n_a, n_b], "rows", "cols", "values"}]`` (non-zeros)."""
    if plans is None:
        return None
    out = []
    for (a, b), plan in sorted(plans.items()):
        P = np.asarray(plan.toarray() if hasattr(plan, "toarray") else plan, dtype=np.float64)
        rows, cols = np.nonzero(P)
        out.append({"views": [int(a), int(b)], "shape": [int(n) for n in P.shape], "rows": rows.tolist(),
                    "cols": cols.tolist(), "values": P[rows, cols].tolist()})
    return out


def dense_plans(entries: list[dict[str, Any]] | None) -> dict[tuple[int, int], np.ndarray] | None:
    """The inverse of :func:`sparse_plans`."""
    if entries is None:
        return None
    out = {}
    for entry in entries:
        P = np.zeros(tuple(entry["shape"]))
        P[np.asarray(entry["rows"], dtype=np.int64), np.asarray(entry["cols"], dtype=np.int64)] = entry["values"]
        out[tuple(int(v) for v in entry["views"])] = P
    return out


def readout_result(read: ReadOut, keys: Sequence[str]) -> dict[str, Any]:
    """The read-out's part of a server result (JSON values), agents named by ``keys``."""
    return {
        "labels": {k: lab.tolist() for k, lab in zip(keys, read.labels)},
        "labels_by_readout": {name: {k: lab.tolist() for k, lab in zip(keys, labels)}
                              for name, labels in read.labels_by_readout.items()},
        "readout_used": read.readout, "centers": read.centers.tolist(),
        "alignability": read.alignability, "stability": read.stability,
        "pair_plans": sparse_plans(read.pair_plans), "transfer_weights": read.transfer_weights,
    }


# -- the whole protocol in one process -----------------------------------------------------------------


def evidence_arrays(blocks: Sequence[tuple[float, np.ndarray]], n_rows: int, n_clusters: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The matched read-out's evidence blocks for one agent as two arrays: weights (k,), evidence (k, N_m, C)."""
    weights = np.array([float(w) for w, _ in blocks], dtype=np.float64)
    evidence = (np.stack([np.asarray(V, dtype=np.float64) for _, V in blocks]) if blocks
                else np.zeros((0, int(n_rows), int(n_clusters))))
    return weights, evidence


def run_protocol(Xs: Sequence[np.ndarray], config: FedConfig, links: np.ndarray | None = None) -> dict[str, Any]:
    """Run the federated protocol with every agent in this process (no Flower, no network).

    The reference for the Flower apps: same functions, same order, same seeds, so a
    simulation in which every agent answers gives the same labels (with the same number
    of torch threads). ``links``: the link table (n_links, M); agent m holds its column,
    the server the entity ids (:mod:`otmix.federated.links`). Returns a dict of the shape
    :func:`otmix.federated.server_app.run_server` returns: ``labels`` / ``labels_by_readout``
    per modality (keys ``"0"``, ``"1"``, ...), ``readout_used``, ``alignability``,
    ``pair_plans``, ``history`` (per round: otm, clu, agents' metrics, bytes each way), ``centers``...
    """
    from .links import agent_link_rows, batch_entities, batch_link_tables, link_table

    config.validate()
    start = time.perf_counter()
    agents = [Agent(X.shape[1], m, config, X=X) for m, X in enumerate(Xs)]
    rng = np.random.default_rng(config.random_state)
    S = steps_per_round([len(X) for X in Xs], config.batch_size)
    table = columns = None
    if links is not None and len(links):
        links = np.asarray(links, dtype=np.int64)
        ids = np.arange(len(links))
        columns = [agent_link_rows(links[:, m], ids, m) for m in range(len(Xs))]
        table = link_table(columns, [len(X) for X in Xs])
    before, mixing = None, True
    if pseudo_start(config, table is not None):  # as OTMClustering.fit: pseudo-links, or no mixing at all
        before = start_analysis([agent.start_codes(X) for agent, X in zip(agents, Xs)], config)
        if before.pseudo_links is not None:
            table = before.pseudo_links
            columns = [np.ascontiguousarray(table[:, m]) for m in range(len(Xs))]
        mixing = before.pseudo_links is not None

    def encode(exchange: int) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        if table is None:
            return [agent.encode(X, S) for agent, X in zip(agents, Xs)], None
        drawn = batch_entities(len(table), S, exchange, config.batch_size, config.link_share, config.random_state)
        codes = [agent.encode(X, S, drawn, column) for agent, X, column in zip(agents, Xs, columns)]
        return codes, batch_link_tables(table, [drawn] * len(Xs))

    codes, tables = encode(0)
    history = []
    for r in range(1, config.rounds + 1):
        t_round = time.perf_counter()
        mixed = server_mix(codes, config, rng, links=tables) if mixing else no_mix(codes)
        t_mixed = time.perf_counter()
        metrics = {str(m): agent.train(X, mixed.targets[m], mixed.grads[m], config.local_epochs, mixing)
                   for m, (agent, X) in enumerate(zip(agents, Xs))}
        sent = {str(m): int(mixed.targets[m].nbytes + mixed.grads[m].nbytes) for m in range(len(Xs))}
        if r < config.rounds:
            codes, tables = encode(r)
        else:  # the last reply carries all rows' codes for the read-out
            codes = [agent.codes(X) for agent, X in zip(agents, Xs)]
        received = {str(m): int(Z.nbytes) for m, Z in enumerate(codes)}
        history.append({"round": r, "agents": list(range(len(Xs))), "missing": [], "otm": mixed.otm,
                        "clu": mixed.clu, "metrics": metrics, "bytes_sent": sent, "bytes_received": received,
                        "seconds": time.perf_counter() - t_round, "seconds_mixing": t_mixed - t_round,
                        "seconds_exchange": time.perf_counter() - t_mixed})

    def cluster_on_agent(m: int, blocks: list[tuple[float, np.ndarray]]) -> np.ndarray:
        weights, evidence = evidence_arrays(blocks, len(Xs[m]), config.n_clusters)
        return agents[m].cluster(Xs[m], weights, evidence)

    read = federated_readout(codes, config, links if links is not None and len(links) else None, cluster_on_agent,
                             analysis=None if mixing else before)
    own = [agent.assign(X, read.centers, frame) for agent, X, frame in zip(agents, Xs, read.frames)]
    keys = [str(m) for m in range(len(Xs))]
    return {
        "modalities": list(range(len(Xs))), "in_readout": list(range(len(Xs))), **readout_result(read, keys),
        "agent_labels": {k: labels.tolist() for k, labels in zip(keys, own)},
        "n_links": 0 if links is None else int(len(links)), **training_block(before, mixing, links),
        "history": history, "events": [], "steps_per_round": S,
        "config": config.to_dict(), "seconds": time.perf_counter() - start,
    }
