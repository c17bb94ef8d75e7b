r"""Unsupervised MWAE training with the optimal-transport mixer (paper Eq. 4-6, docs/design.md §4-5).

One step draws a batch from every view independently (the views are unaligned),
encodes it, and minimises

.. math::

    \sum_m w_{rec}\,\overline{\|X_m - g_m(Z_m)\|^2}
    + w_{otm}\,\overline{\|Z_m - \tilde Z_m\|^2}
    + w_{clu}\,\mathrm{GW}(K(\tilde Z_B), I_C)

where the bars are means over entries, :math:`\tilde Z_B` is the stochastic FGW
barycenter of the batch codes (binary masks, or the weighted "WB" ablation),
:math:`\tilde Z_m = \operatorname{diag}(1/\mu_m) T_m^\top \tilde Z_B` its push-back
to view m, and the last term is the GW clustering regulariser of Eq. 6 at the plan
found on the detached codes. Plans are constants (envelope theorem); gradients
flow through :math:`T_m Z_m` and the kernel.

``ClusterConfig.device`` chooses where the model, the optimiser state, the batches and
every tensor of a step live; the barycenter and GW solvers run on the CPU in numpy and
return their plans on the codes' device (:mod:`otmix.train.device`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..models.wae import MWAE
from ..ot import gw_cluster, gw_cluster_loss, push_back, stochastic_mix
from ..params import check_bool, check_choice, check_int, check_n_jobs, check_real, check_seed
from .batch_plans import batch_plans
from .device import resolve_device
from .index_stream import IndexStream, fill_batch
from .threads import torch_threads

MIX_MODES = ("binary", "weighted")
STRUCTURES = ("euclidean", "sqeuclidean")
ENCODERS = ("linear", "mlp")
# batches that score the PCA start (the candidate training must beat); 64 x 256 rows estimate the mean
# loss to well within the epoch-to-epoch changes, and views of at most 64 batches are scored in full
START_LOSS_STEPS = 64


@dataclass
class ClusterConfig:
    """Hyper-parameters of the clustering trainer (defaults: the house defaults, see the README)."""

    n_clusters: int
    latent_dim: int = 32
    hidden_dim: int = 128
    encoder: str = "linear"
    alpha: float = 0.5
    structure: str = "euclidean"
    batch_size: int = 256
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    w_rec: float = 1.0
    w_otm: float = 0.1
    w_clu: float = 0.1
    mix: str = "binary"
    max_outer: int = 5
    warmup_epochs: int = 0
    detach_targets: bool = True
    patience: int | None = 10
    min_delta: float = 1e-4
    n_jobs: int | None = 1
    link_share: float = 0.5
    device: str | torch.device = "cpu"
    random_state: int | None = None

    def validate(self) -> None:
        """Raise a one-line ValueError naming the first bad field, what it must be and its value.

        The device is checked last (unknown or unavailable devices, :func:`resolve_device`).
        """
        check_int("n_clusters", self.n_clusters, low=1)
        for name in ("latent_dim", "hidden_dim", "epochs", "max_outer"):
            check_int(name, getattr(self, name), low=1)
        check_int("batch_size", self.batch_size, low=2, why="the codes are batch-normalised")
        check_int("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs - 1, why="fewer than epochs")
        check_real("alpha", self.alpha, low=0.0, high=1.0)
        check_choice("structure", self.structure, STRUCTURES)
        check_choice("mix", self.mix, MIX_MODES)
        check_choice("encoder", self.encoder, ENCODERS)
        check_real("link_share", self.link_share, low=0.0, high=1.0)
        check_real("lr", self.lr, low=0.0, low_open=True)
        for name in ("weight_decay", "w_rec", "w_otm", "w_clu", "min_delta"):
            check_real(name, getattr(self, name), low=0.0)
        check_bool("detach_targets", self.detach_targets)
        check_int("patience", self.patience, low=1, none_ok=True)
        check_n_jobs("n_jobs", self.n_jobs)
        check_seed("random_state", self.random_state)
        if self.w_clu > 0 and self.batch_size < self.n_clusters:
            raise ValueError(f"batch_size={self.batch_size} is smaller than n_clusters={self.n_clusters}; "
                             "the clustering loss needs at least one row per cluster")
        resolve_device(self.device)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (a ``torch.device`` is written as its string)."""
        return {**asdict(self), "device": str(self.device)}


def step_losses(
    model: MWAE, batches: Sequence[torch.Tensor], config: ClusterConfig, rng: np.random.Generator,
    mixing: bool = True, links: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """The three loss terms of one training step (tensors; ``total`` is their weighted sum).

    ``mixing=False`` (the warm-up epochs, or views that cannot be aligned) computes the
    reconstruction term only. ``links``: the batch's link table (rows of the batches,
    ``-1`` absent), passed to :func:`mixing_terms`.
    With ``config.detach_targets`` the mixed codes are constants, as the targets a
    federated server sends: each view is pulled towards the others, not the reverse.
    """
    Zs = [model.encode(m, X) for m, X in enumerate(batches)]
    rec = sum(torch.mean((model.decode(m, Z) - X) ** 2) for m, (Z, X) in enumerate(zip(Zs, batches)))
    zero = rec * 0.0
    otm, clu = zero, zero
    if mixing and (config.w_otm > 0 or config.w_clu > 0):
        targets, clu = mixing_terms(Zs, config, rng, links=links)
        if config.w_otm > 0:
            otm = sum(torch.mean((Z - target) ** 2) for Z, target in zip(Zs, targets))
    total = config.w_rec * rec + config.w_otm * otm + config.w_clu * clu
    return {"total": total, "rec": rec, "otm": otm, "clu": clu}


def mixing_terms(
    Zs: Sequence[torch.Tensor], config: ClusterConfig, rng: np.random.Generator, links: np.ndarray | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    r"""The mixer's part of one step: push-back targets :math:`\tilde Z_m` and the clustering loss.

    Solves the FGW barycenter of the batch codes (plans constant), mixes it
    (:func:`otmix.ot.stochastic_mix`, masks from ``rng``), pushes it back to every view
    and evaluates :math:`\mathrm{GW}(K(\tilde Z_B), I_C)` at the plan found on the
    detached mixed codes (zero when ``w_clu == 0`` or one cluster). The in-process
    trainer and the federated server (:mod:`otmix.federated.task`) both call this, so
    the two compute the same targets and gradients from the same codes. With ``links``
    (the batch's link table), the barycenter is the linked one, whose first points are the
    linked entities, compared through :func:`otmix.ot.link_features` (relative
    descriptors and ridge-mapped codes, comparable across views): every view's linked rows
    are pulled towards a mix of the same entity's codes in the other views.

    Returns
    -------
    targets : list of tensors (N_m, d)
        Constants when ``config.detach_targets`` (as a server would send them).
    clu : scalar tensor
        Differentiable in ``Zs`` through the mixed codes.
    """
    plans = batch_plans(Zs, config.alpha, config.max_outer, rng, config.n_jobs, config.structure, links=links)
    mixed = stochastic_mix(plans, Zs, mode=config.mix, random_state=rng)
    source = mixed.detach() if config.detach_targets else mixed
    targets = [push_back(T, source) for T in plans]
    clu = mixed.sum() * 0.0
    if config.w_clu > 0 and config.n_clusters > 1:
        clusters = gw_cluster(mixed.detach().cpu().numpy().astype(np.float64), config.n_clusters,
                              init="kmeans", random_state=rng)
        plan = torch.as_tensor(clusters.plan, dtype=mixed.dtype, device=mixed.device)
        clu = gw_cluster_loss(mixed, plan, clusters.bandwidth)
    return targets, clu


class BatchSampler:
    """Rows of every view for one step, and the batch's link table.

    Without links: ``min(batch_size, N_m)`` rows of every view from its own shuffled
    stream. With links: ``k = round(link_share * batch_size)`` linked entities (at most
    all of them) drawn from their own stream, every view taking the rows of those present
    in it, first; then rows that are not linked, from a stream over those, up to the batch
    size. The link table has one row per drawn entity, the entity's position in each
    view's batch (``-1`` absent); entities present in fewer than two views are dropped.
    """

    def __init__(self, n_rows: Sequence[int], batch_size: int, rng: np.random.Generator,
                 links: np.ndarray | None = None, link_share: float = 0.5) -> None:
        self.sizes = [min(batch_size, n) for n in n_rows]
        self.links = None if links is None or len(links) == 0 else np.asarray(links, dtype=np.int64)
        if self.links is None:
            self.streams = [IndexStream(n, rng) for n in n_rows]
            return
        self.n_linked = min(len(self.links), max(1, int(round(link_share * batch_size))))
        self.entities = IndexStream(len(self.links), rng)
        self.free = [np.setdiff1d(np.arange(n), self.links[:, m]) for m, n in enumerate(n_rows)]
        self.streams = [IndexStream(free.size, rng) for free in self.free]

    def draw(self) -> tuple[list[np.ndarray], np.ndarray | None]:
        if self.links is None:
            return [stream.take(k) for stream, k in zip(self.streams, self.sizes)], None
        table = self.links[self.entities.take(self.n_linked)]
        rows, positions = [], np.full(table.shape, -1, dtype=np.int64)
        for m, (size, free, stream) in enumerate(zip(self.sizes, self.free, self.streams)):
            present = table[:, m] >= 0
            linked_rows = table[present, m]
            positions[present, m] = np.arange(linked_rows.size)
            rows.append(fill_batch(linked_rows, free, stream, size))
        keep = (positions >= 0).sum(axis=1) >= 2
        return rows, positions[keep] if keep.any() else None


@torch.no_grad()
def _start_loss(model: MWAE, tensors, sampler: BatchSampler, steps: int, config: ClusterConfig,
                rng: np.random.Generator, device: torch.device, mixing: bool) -> float:
    """Mean total loss of ``steps`` batches at the current weights, without updating them (the
    caller passes at most :data:`START_LOSS_STEPS`: a full epoch of 10^6 rows cost as much as a
    training epoch, 247 s, to score one candidate)."""
    model.train()
    total = 0.0
    for _ in range(steps):
        rows, batch_links = sampler.draw()
        batches = [X[torch.as_tensor(r, device=device)] for X, r in zip(tensors, rows)]
        total += float(step_losses(model, batches, config, rng, mixing=mixing, links=batch_links)["total"]) / steps
    return total


def steps_per_epoch(n_rows: Sequence[int], batch_size: int) -> int:
    """Optimisation steps in one epoch: one pass over the largest view, at least one."""
    return max(1, max(n_rows) // batch_size)


def train_clustering(
    Xs: Sequence[np.ndarray],
    config: ClusterConfig,
    model: MWAE | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    links: np.ndarray | None = None,
    mixing: bool = True,
) -> tuple[MWAE, dict[str, list[float]]]:
    """Train an MWAE on unaligned views with the OTM mixer.

    Parameters
    ----------
    Xs : list of arrays of shape (N_m, D_m)
        Preprocessed views (rows of different views need not correspond).
    config : ClusterConfig
    model : MWAE, optional
        A model to continue training (a new one is built from ``config`` otherwise); it is
        moved to ``config.device`` in place.
    progress : callable(epoch, losses), optional
        Called after every epoch with the mean losses of that epoch.
    on_step : callable(epoch, step), optional
        Called after every optimisation step (``step`` counts from 1 to
        :func:`steps_per_epoch` within the epoch): a progress bar for long epochs.
    links : int array (n_links, M), optional
        Linked records (validated; ``-1`` absent). Every batch then holds
        ``round(link_share * batch_size)`` linked entities (the same entities in every
        view they are present in), the rest drawn from the other rows, and the barycenter
        of every step is the linked one (:func:`mixing_terms`).
    mixing : bool
        False: reconstruction only (views that cannot be aligned are not pulled towards
        each other's noise); a linear encoder then stays at its PCA start.

    Returns
    -------
    model : MWAE
        On ``config.device``, in eval mode, with the weights of the epoch of lowest total
        (unsupervised) loss and code normalisations set to the statistics of the full views.
    history : dict of lists
        Per-epoch means of ``total``, ``rec``, ``otm``, ``clu`` and the epoch ``seconds``;
        ``best_epoch`` and ``stopped_early`` as one-element lists. With linear encoders the
        PCA start is evaluated first (``start_total``: one epoch of batches without updates,
        at most :data:`START_LOSS_STEPS` of them, an estimate for larger views) and kept when
        no epoch beats it (``best_epoch == -1``): training never ends worse than its start on
        the unsupervised loss (up to that estimate's error for views of more than 64 batches).
    """
    config.validate()
    device = resolve_device(config.device)
    rng = np.random.default_rng(config.random_state)
    seed = int(rng.integers(2**31 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU only: leaves any CUDA generator alone
        if model is None:
            with torch.device("cpu"):  # CPU weights from the CPU generator: one seed, one init, any device
                model = MWAE([X.shape[1] for X in Xs], config.latent_dim, config.hidden_dim, encoder=config.encoder)
                model.init_from_data([torch.as_tensor(np.asarray(X), dtype=torch.float32, device="cpu") for X in Xs])
        with torch_threads(config.n_jobs):  # one torch thread by default: see otmix.train.threads
            return _fit(model.to(device), Xs, config, rng, progress, device, on_step, links, mixing)


def _fit(
    model: MWAE, Xs: Sequence[np.ndarray], config: ClusterConfig, rng: np.random.Generator,
    progress: Callable[[int, dict[str, float]], None] | None, device: torch.device,
    on_step: Callable[[int, int], None] | None = None, links: np.ndarray | None = None, mixing: bool = True,
) -> tuple[MWAE, dict[str, list[float]]]:
    if len(Xs) != model.n_views:
        raise ValueError(f"the model has {model.n_views} views but {len(Xs)} were given")
    for m, X in enumerate(Xs):
        if X.shape[0] < 2:
            raise ValueError(f"view {m} has {X.shape[0]} row; training needs at least 2 per view")
    tensors = [torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device) for X in Xs]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = BatchSampler([X.shape[0] for X in tensors], config.batch_size, rng, links, config.link_share)
    steps = steps_per_epoch([X.shape[0] for X in tensors], config.batch_size)
    history: dict[str, list[float]] = {key: [] for key in ("total", "rec", "otm", "clu", "seconds")}
    best, best_state, best_epoch, waited, stopped_early = math.inf, None, 0, 0, False
    if model.encoder_kind == "linear" and config.warmup_epochs == 0:
        # the PCA start is a candidate: training never ends worse than it on the loss it minimises
        best = _start_loss(model, tensors, sampler, min(steps, START_LOSS_STEPS), config, rng, device, mixing)
        best_state, best_epoch = copy.deepcopy(model.state_dict()), -1
        history["start_total"] = [best]
    for epoch in range(config.epochs):
        start = time.perf_counter()
        model.train()
        sums = dict.fromkeys(("total", "rec", "otm", "clu"), 0.0)
        for step in range(steps):
            rows, batch_links = sampler.draw()
            batches = [X[torch.as_tensor(r, device=device)] for X, r in zip(tensors, rows)]
            losses = step_losses(model, batches, config, rng, mixing=mixing and epoch >= config.warmup_epochs,
                                 links=batch_links)
            optimizer.zero_grad()
            losses["total"].backward()
            optimizer.step()
            for key in sums:
                sums[key] += float(losses[key].detach()) / steps
            if on_step is not None:
                on_step(epoch, step + 1)
        for key, value in sums.items():
            history[key].append(value)
        history["seconds"].append(time.perf_counter() - start)
        if progress is not None:
            progress(epoch, sums)
        if not math.isfinite(sums["total"]):
            raise FloatingPointError(f"the training loss became {sums['total']} at epoch {epoch}; lower lr")
        if epoch < config.warmup_epochs:
            continue  # the loss changes meaning when mixing starts: no early stopping during warm-up
        if best_state is None or sums["total"] < best - config.min_delta * max(abs(best), 1.0):
            best, best_state, best_epoch, waited = sums["total"], copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
            if config.patience is not None and waited >= config.patience:
                stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(history["total"]) - 1
    model.calibrate_codes(tensors)
    history["best_epoch"] = [best_epoch]
    history["stopped_early"] = [stopped_early]
    return model, history
