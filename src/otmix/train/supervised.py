r"""Supervised fusion with OTM augmentation (paper Eq. 7) and the robustness read-outs.

Per batch (rows aligned across modalities): encode every modality, solve the FGW
barycenter of the batch codes on detached copies (plans are constants), mix it
stochastically, push it back, and add

.. math::

    \beta \sum_m \big[ L(h_m(\tilde Z_m), y) + L(h_m(Z_m), y) \big]

to the fusion model's loss (plus its own auxiliary loss, e.g. MFM's reconstructions);
``h_m`` are per-modality heads. ``otm_weight = 0`` is the plain fusion model (the
heads get no gradient); ``mix_term=False`` keeps ``β·L(h_m(Z_m))`` but drops the mixed
term (the ablation that separates the mixer from the extra per-modality supervision).
The two arms draw the same batches: the batch order has its own random stream,
separate from the barycenter starts and the masks.

**Label-aware plans** (``label_aware``; on by default for unaligned classification): the
batch barycenter gets the batch's labels (``labels=`` of :func:`otmix.ot.fgw_barycenter`),
so its plans put no mass between rows of different classes and the codes are mixed,
and carried across modalities, only within a class: the mixed codes are class-consistent
augmentations. Unaligned batches are then **class-matched** (:func:`class_matched_orders`:
every modality's batch holds the same class counts, rows and positions otherwise random),
which lets the plans avoid cross-class mass entirely; with independent batches of 64 rows
over 10 balanced classes about 21 % of the mass would have to cross classes (measured).
Why it is the default (benchmarks/supervised_label_aware.md, avmnist-hard, 5 folds): plans
without labels pair rows across classes about 89 % of the time (chance: 90 %), and unaligned
OTM with them scores 0.61-0.80; with label-aware plans it scores 0.85-0.86, as well as aligned
training without OTM (0.84-0.86) for every fusion.

``SupervisedConfig.device`` chooses where the model, the optimiser state, the data and
every tensor of a step live; the read-outs (:func:`evaluate`, :func:`single_modality_scores`,
:func:`noise_curve`) run on the device of the model they are given and return Python floats.
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
from torch import nn

from ..data.supervised_data import TASKS
from ..models.fusion import FUSIONS, ModalityHeads, make_fusion
from ..ot import push_back, pushforward, stochastic_mix
from ..params import check_bool, check_choice, check_int, check_n_jobs, check_real, check_seed
from .batch_plans import batch_plans
from .device import module_device, resolve_device


@dataclass
class SupervisedConfig:
    """Hyper-parameters of one supervised fusion run.

    Attributes
    ----------
    otm_weight : float
        β of Eq. 7; 0 is the plain fusion model.
    unaligned : bool
        Permute every modality's training rows on its own (:func:`train_supervised`).
    mix_term : bool
        False: keep β·L(h_m(Z_m)) but drop the mixed term (the heads-only ablation).
    label_aware : bool or None
        Solve the batch barycenter with the batch's labels (no mass across classes) and, when
        unaligned, draw class-matched batches. None (default): on for unaligned classification,
        off otherwise (aligned rows need no labels to be paired). Classification only.
    """

    fusion: str = "late"
    task: str = "classification"
    n_outputs: int = 10
    latent_dim: int = 32
    hidden_dim: int = 128
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    otm_weight: float = 0.0
    alpha: float = 0.5
    mix: str = "binary"
    max_outer: int = 3
    unaligned: bool = False
    mix_term: bool = True
    label_aware: bool | None = None
    n_jobs: int | None = 1
    device: str | torch.device = "cpu"
    random_state: int | None = None

    def validate(self) -> None:
        """Raise a one-line ValueError naming the first bad field, what it must be and its value.

        The device is checked last (unknown or unavailable devices, :func:`resolve_device`).
        """
        check_choice("fusion", self.fusion, FUSIONS)
        check_choice("task", self.task, TASKS)
        check_real("otm_weight (β)", self.otm_weight, low=0.0)
        for name in ("n_outputs", "latent_dim", "hidden_dim", "epochs", "max_outer"):
            check_int(name, getattr(self, name), low=1)
        check_int("batch_size", self.batch_size, low=2)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_real("alpha", self.alpha, low=0.0, high=1.0)
        check_choice("mix", self.mix, ("binary", "weighted"))
        check_bool("unaligned", self.unaligned)
        check_bool("mix_term", self.mix_term)
        if self.label_aware is not None:
            check_bool("label_aware", self.label_aware)
            if self.label_aware and self.task != "classification":
                raise ValueError(f"label_aware needs class labels (task='classification'), got task={self.task!r}")
        check_n_jobs("n_jobs", self.n_jobs)
        check_seed("random_state", self.random_state)
        resolve_device(self.device)

    @property
    def uses_labels(self) -> bool:
        """Whether the plans use the labels: ``label_aware``, or when None, unaligned classification."""
        if self.label_aware is not None:
            return bool(self.label_aware)
        return bool(self.unaligned) and self.task == "classification"

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON values: a ``torch.device`` as its string, ``label_aware`` as :attr:`uses_labels`."""
        return {**asdict(self), "device": str(self.device), "label_aware": self.uses_labels}


class SupervisedModel(nn.Module):
    """A fusion model plus the per-modality heads ``h_m`` of Eq. 7."""

    def __init__(self, in_dims: Sequence[int], config: SupervisedConfig) -> None:
        super().__init__()
        self.fusion = make_fusion(config.fusion, list(in_dims), latent_dim=config.latent_dim,
                                  n_outputs=config.n_outputs, hidden_dim=config.hidden_dim)
        self.heads = ModalityHeads(len(in_dims), config.latent_dim, config.n_outputs)
        self.n_outputs = int(config.n_outputs)
        # regression targets are learnt standardised; these map outputs back to the target's units
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def forward(self, Xs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fusion(Xs)

    def to_target_units(self, out: torch.Tensor) -> torch.Tensor:
        return out * self.target_std + self.target_mean


def task_loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classification, mean squared error for regression."""
    if task == "classification":
        return nn.functional.cross_entropy(out, y)
    return nn.functional.mse_loss(out.squeeze(-1), y)


def score(task: str, out: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy (classification) or mean absolute error (regression)."""
    if task == "classification":
        return float((out.argmax(dim=1) == y).float().mean())
    return float((out.squeeze(-1) - y).abs().mean())


def better(task: str, new: float, old: float) -> bool:
    return new > old if task == "classification" else new < old


def _tensors(
    Xs: Sequence[np.ndarray], y: np.ndarray, task: str, device: torch.device | str = "cpu",
) -> tuple[list[torch.Tensor], torch.Tensor]:
    X_t = [torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device) for X in Xs]
    y_t = torch.as_tensor(y, dtype=torch.long if task == "classification" else torch.float32, device=device)
    return X_t, y_t


def class_matched_orders(labels: Sequence[np.ndarray], batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's row order per modality whose batches hold the same class counts in every modality.

    A random order of modality 0's rows fixes the sequence of classes; every other modality
    fills the positions of class ``c`` with its own rows of class ``c`` in random order; then
    the rows inside every full batch of ``batch`` positions are shuffled per modality, so rows
    at one position of two modalities share a class no more often than in random batches
    (the plain unaligned arm still sees random pairs).

    Parameters
    ----------
    labels : sequence of M int arrays
        Every modality's row labels; the same class counts in every modality (true for rows
        permuted from aligned data).
    batch : int
    rng : numpy Generator

    Returns
    -------
    list of M int arrays
        Row orders; rows ``order[s * batch:(s + 1) * batch]`` form step ``s``'s batch.

    Examples
    --------
    >>> y = np.repeat(np.arange(3), 4)
    >>> a, b = class_matched_orders([y, y[::-1].copy()], 6, np.random.default_rng(0))
    >>> [np.bincount(y[a[:6]], minlength=3).tolist() == np.bincount(y[::-1][b[:6]], minlength=3).tolist()]
    [True]
    """
    labels = [np.asarray(y) for y in labels]
    counts = [np.unique(y, return_counts=True) for y in labels]
    for m, (values, count) in enumerate(counts[1:], start=1):
        if not (np.array_equal(values, counts[0][0]) and np.array_equal(count, counts[0][1])):
            raise ValueError(f"class-matched batches need the same class counts in every modality; modality {m} "
                             "differs from modality 0")
    first = rng.permutation(len(labels[0]))
    sequence = labels[0][first]
    orders = [first]
    for y in labels[1:]:
        order = np.empty(len(y), dtype=np.int64)
        for c in counts[0][0]:
            order[sequence == c] = rng.permutation(np.flatnonzero(y == c))
        orders.append(order)
    n_full = len(first) // batch * batch
    for order in orders:
        order[:n_full] = rng.permuted(order[:n_full].reshape(-1, batch), axis=1).ravel()
    return orders


def _plan_labels(yb: Sequence[torch.Tensor | None], config: SupervisedConfig) -> list[torch.Tensor] | None:
    """The batch labels for label-aware plans (None when the plans take none); every modality must have them."""
    if not config.uses_labels:
        return None
    for m, y in enumerate(yb):
        if y is None:
            raise ValueError(f"label-aware plans need every modality's labels; modality {m} has none "
                             "(give them or set label_aware=False)")
    return list(yb)


def cross_class_share(plans: Sequence[torch.Tensor], yb: Sequence[torch.Tensor], anchor: int) -> float:
    """Share of the mass carried onto the anchor's rows that comes from rows of another class.

    For every other modality k, the coupling ``T_aᵀ diag(1/μ_B) T_k`` between the anchor's rows
    and k's rows (the one :func:`step_loss_unaligned` carries k's codes through) is summed over
    the pairs of different labels; the mean over k. 0 for label-aware plans of class-matched batches.
    """
    T_a = plans[anchor].detach().double().cpu()
    shares = []
    for k, T in enumerate(plans):
        if k == anchor:
            continue
        T_k = T.detach().double().cpu()
        coupling = T_a.T @ (T_k / T_k.sum(dim=1, keepdim=True).clamp_min(1e-300))
        differ = yb[anchor].detach().cpu()[:, None] != yb[k].detach().cpu()[None, :]
        shares.append(float(coupling[differ].sum() / coupling.sum()))
    return float(np.mean(shares)) if shares else 0.0


def own_row_share(plans: Sequence[torch.Tensor]) -> float:
    """Aligned batches: share of the mass carried between modality 0 and every other modality that
    stays on the same row (the row's own partner), the mean over the other modalities."""
    T_0 = plans[0].detach().double().cpu()
    shares = []
    for T in plans[1:]:
        T_k = T.detach().double().cpu()
        coupling = T_0.T @ (T_k / T_k.sum(dim=1, keepdim=True).clamp_min(1e-300))
        shares.append(float(torch.diagonal(coupling).sum() / coupling.sum()))
    return float(np.mean(shares)) if shares else 1.0


def step_loss(
    model: SupervisedModel, Xb: Sequence[torch.Tensor], yb: torch.Tensor, config: SupervisedConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Fusion loss + auxiliary loss + heads on Z_m + (β > 0) heads on the mixed codes Z̃_m.

    With ``config.label_aware`` the batch barycenter takes the batch's labels (the rows are
    aligned, so every modality's batch has the same ones): codes are mixed within a class only.
    """
    Zs = model.fusion.encode_all(Xb)
    fusion = task_loss(config.task, model.fusion.fuse(Zs), yb) + model.fusion.auxiliary_loss(Xb, Zs)
    heads = sum(task_loss(config.task, model.heads(m, Z), yb) for m, Z in enumerate(Zs))
    otm = fusion * 0.0
    extra = {}
    if config.otm_weight > 0 and config.mix_term:
        plans = batch_plans(Zs, config.alpha, config.max_outer, rng, config.n_jobs,
                            labels=_plan_labels([yb] * len(Zs), config))
        mixed = stochastic_mix(plans, Zs, mode=config.mix, random_state=rng)
        otm = sum(task_loss(config.task, model.heads(m, push_back(T, mixed)), yb) for m, T in enumerate(plans))
        if config.task == "classification":  # diagnostics: what the mixer pairs (no gradient)
            extra["cross_class"] = torch.tensor(cross_class_share(plans, [yb] * len(plans), 0), device=yb.device)
            extra["own_row"] = torch.tensor(own_row_share(plans), device=yb.device)
    total = fusion + config.otm_weight * (heads + otm)  # Eq. 7: β·[L(h_m(Z̃_m)) + L(h_m(Z_m))]
    return {"total": total, "fusion": fusion, "heads": heads, "otm": otm, **extra}


def step_loss_unaligned(
    model: SupervisedModel, Xb: Sequence[torch.Tensor], yb: Sequence[torch.Tensor], config: SupervisedConfig,
    rng: np.random.Generator, anchor: int = 0,
) -> dict[str, torch.Tensor]:
    """One step on unaligned batches (each modality its own rows and labels).

    Without OTM (β = 0) the fusion sees the rows as they come, paired by position, with
    the anchor modality's labels — what unaligned data gives a plain fusion model. With
    OTM the other modalities' codes are carried onto the anchor's rows through the
    barycenter (``N_a T_aᵀ diag(1/μ_B) T_k Z_k``) before fusing, and the heads learn from
    the mixed codes of Eq. 7 with each modality's own labels (``mix_term=False``: not
    from the mixed codes). With label-aware plans (``config.uses_labels``) the barycenter
    takes every modality's labels, so codes are carried and mixed within a class only; a
    modality without labels (None) is refused. The returned ``cross_class`` (β > 0 only) is
    :func:`cross_class_share` of the step's plans.
    """
    plan_labels = _plan_labels(yb, config) if config.otm_weight > 0 else None
    Zs = model.fusion.encode_all(Xb)
    heads = sum(task_loss(config.task, model.heads(m, Z), y) for m, (Z, y) in enumerate(zip(Zs, yb)))
    auxiliary = model.fusion.auxiliary_loss(Xb, Zs)
    extra = {}
    if config.otm_weight > 0:
        plans = batch_plans(Zs, config.alpha, config.max_outer, rng, config.n_jobs, labels=plan_labels)
        aligned = [Z if k == anchor else push_back(plans[anchor], pushforward(plans[k], Z)) for k, Z in enumerate(Zs)]
        fusion = task_loss(config.task, model.fusion.fuse(aligned), yb[anchor]) + auxiliary
        otm = fusion * 0.0
        if config.mix_term:
            mixed = stochastic_mix(plans, Zs, mode=config.mix, random_state=rng)
            otm = sum(task_loss(config.task, model.heads(m, push_back(T, mixed)), y)
                      for m, (T, y) in enumerate(zip(plans, yb)))
        if config.task == "classification":
            extra["cross_class"] = torch.tensor(cross_class_share(plans, yb, anchor), device=yb[anchor].device)
    else:
        fusion = task_loss(config.task, model.fusion.fuse(Zs), yb[anchor]) + auxiliary
        otm = fusion * 0.0
    total = fusion + config.otm_weight * (heads + otm)
    return {"total": total, "fusion": fusion, "heads": heads, "otm": otm, **extra}


@torch.no_grad()
def evaluate(model: SupervisedModel, Xs: Sequence[np.ndarray], y: np.ndarray, task: str) -> float:
    """Score of the fused prediction on aligned data (regression: MAE in the target's units)."""
    was_training = model.training
    model.eval()
    X_t, y_t = _tensors(Xs, y, task, module_device(model))
    out = model(X_t)
    model.train(was_training)
    return score(task, model.to_target_units(out) if task == "regression" else out, y_t)


def train_supervised(
    X_train: Sequence[np.ndarray], y_train: np.ndarray, X_val: Sequence[np.ndarray], y_val: np.ndarray,
    config: SupervisedConfig, progress: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[SupervisedModel, dict[str, list[float]]]:
    """Train for ``config.epochs`` and return the model of the epoch with the best validation score.

    With ``config.unaligned`` the training rows of every modality are first permuted
    independently (labels move with their rows), batches are drawn per modality (class-matched
    with label-aware plans, :func:`class_matched_orders`), and :func:`step_loss_unaligned` is
    used; the validation data stay aligned.

    Returns
    -------
    model : SupervisedModel
        Weights of the best validation epoch, on ``config.device``, in eval mode.
    history : dict of lists
        Per-epoch mean ``total``, ``fusion``, ``heads``, ``otm`` losses, ``val`` score and
        ``seconds``; ``best_epoch`` as a one-element list; classification with OTM also
        ``cross_class`` (:func:`cross_class_share`, the epoch's mean; aligned: only with the
        mixed term) and, aligned, ``own_row`` (:func:`own_row_share`).

    Raises
    ------
    ValueError
        One line: a bad config, missing labels, rows and labels of different lengths, class
        ids outside ``0..n_outputs - 1``.
    """
    config.validate()
    if y_train is None:
        raise ValueError("the training labels are missing (y_train is None); supervised training needs them")
    n_rows = {len(X) for X in X_train} | {len(y_train)}
    if len(n_rows) != 1:
        raise ValueError(f"modalities and labels disagree in length: {sorted(n_rows)} rows (aligned mode)")
    if config.task == "classification":
        for name, y in (("y_train", y_train), ("y_val", y_val)):
            y = np.asarray(y)
            if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= config.n_outputs):
                raise ValueError(f"{name} must hold class ids 0..{config.n_outputs - 1} (n_outputs = "
                                 f"{config.n_outputs}), got {y.dtype} values {y.min()}..{y.max()}")
    # batches, OT solvers and weights get their own streams: both arms see the same batches
    order_rng, ot_rng, weight_rng = np.random.default_rng(config.random_state).spawn(3)
    device = resolve_device(config.device)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(weight_rng.integers(2**31 - 1)))
        with torch.device("cpu"):  # CPU weights from the CPU generator: one seed, one init, any device
            model = SupervisedModel([X.shape[1] for X in X_train], config)
        model.to(device)
        X_t, y_t = _tensors(X_train, y_train, config.task, device)
        if config.task == "regression":  # learn standardised targets; the model maps back (to_target_units)
            model.target_mean.fill_(float(y_t.mean()))
            model.target_std.fill_(float(y_t.std()) if len(y_t) > 1 and float(y_t.std()) > 0 else 1.0)
            y_t = (y_t - model.target_mean) / model.target_std
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        n = len(y_t)
        y_views = [y_t] * len(X_t)
        if config.unaligned:  # as in the clustering setting: nobody knows which rows belong together
            perms = [torch.as_tensor(order_rng.permutation(n), device=device) for _ in X_t]
            X_t = [X[p] for X, p in zip(X_t, perms)]
            y_views = [y_t[p] for p in perms]
        batch = min(config.batch_size, n)
        history: dict[str, list[float]] = {k: [] for k in ("total", "fusion", "heads", "otm", "val", "seconds")}
        matched = config.unaligned and config.uses_labels
        y_host = [y.cpu().numpy() for y in y_views] if matched else None
        best_val, best_state, best_epoch = None, None, 0
        for epoch in range(config.epochs):
            start = time.perf_counter()
            model.train()
            if matched:
                orders = class_matched_orders(y_host, batch, order_rng)
            elif config.unaligned:
                orders = [order_rng.permutation(n) for _ in X_t]
            else:
                orders = [order_rng.permutation(n)] * len(X_t)
            steps = max(1, n // batch)  # drop the ragged tail: batch norm and N_B stay fixed
            sums = dict.fromkeys(("total", "fusion", "heads", "otm"), 0.0)
            for s in range(steps):
                rows = [torch.as_tensor(order[s * batch:(s + 1) * batch], device=device) for order in orders]
                if config.unaligned:
                    losses = step_loss_unaligned(model, [X[r] for X, r in zip(X_t, rows)],
                                                 [y[r] for y, r in zip(y_views, rows)], config, ot_rng,
                                                 anchor=s % len(X_t))
                else:
                    losses = step_loss(model, [X[rows[0]] for X in X_t], y_t[rows[0]], config, ot_rng)
                optimizer.zero_grad()
                losses["total"].backward()
                optimizer.step()
                for key in ("cross_class", "own_row"):  # diagnostics of the plans, when the step has them
                    if key in losses:
                        sums[key] = sums.get(key, 0.0) + float(losses[key]) / steps
                for key in ("total", "fusion", "heads", "otm"):
                    sums[key] += float(losses[key].detach()) / steps
            if not math.isfinite(sums["total"]):
                raise FloatingPointError(f"the training loss became {sums['total']} at epoch {epoch}; lower lr")
            val = evaluate(model, X_val, y_val, config.task)
            for key, value in sums.items():
                history.setdefault(key, []).append(value)
            history["val"].append(val)
            history["seconds"].append(time.perf_counter() - start)
            if best_val is None or better(config.task, val, best_val):
                best_val, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
            if progress is not None:
                progress(epoch, {**sums, "val": val})
        model.load_state_dict(best_state)
    model.eval()
    history["best_epoch"] = [best_epoch]
    return model, history


# -- robustness -------------------------------------------------------------------------------


@torch.no_grad()
def _codes(model: SupervisedModel, m: int, X: np.ndarray) -> torch.Tensor:
    was_training = model.training
    model.eval()
    codes = model.fusion.encode(m, torch.as_tensor(np.asarray(X), dtype=torch.float32, device=module_device(model)))
    model.train(was_training)
    return codes


def single_modality_scores(
    model: SupervisedModel, X_train: Sequence[np.ndarray], y_train: np.ndarray, X_test: Sequence[np.ndarray],
    y_test: np.ndarray, task: str, epochs: int = 50, lr: float = 1e-2, random_state: int = 0,
) -> list[float]:
    """Missing modalities (paper Table 4): per modality, a fresh head on its frozen codes, scored on it alone.

    The encoders of ``model`` are frozen; for every modality m a new MLP head
    (d → 64 → outputs) is trained on the training rows' codes of m only (full-batch
    Adam) and scored on the test rows' codes of m only. Everything runs on the model's device.
    """
    device = module_device(model)
    scores = []
    for m in range(len(X_train)):
        Z_train, Z_test = _codes(model, m, X_train[m]), _codes(model, m, X_test[m])
        _, y_tr = _tensors([], y_train, task, device)
        _, y_te = _tensors([], y_test, task, device)
        if task == "regression":
            y_tr = (y_tr - model.target_mean) / model.target_std
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(np.random.default_rng([random_state, m]).integers(2**31 - 1)))
            with torch.device("cpu"):  # same head weights on every device
                head = nn.Sequential(nn.Linear(Z_train.shape[1], 64), nn.ReLU(), nn.Linear(64, model.n_outputs))
            head.to(device)
            opt = torch.optim.Adam(head.parameters(), lr=lr)
            for _ in range(epochs):
                opt.zero_grad()
                task_loss(task, head(Z_train), y_tr).backward()
                opt.step()
        with torch.no_grad():
            out = head(Z_test)
            scores.append(score(task, model.to_target_units(out) if task == "regression" else out, y_te))
    return scores


def add_noise(X: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose energy is ``ratio`` times the signal's: ``σ² = ratio · mean(X²)``."""
    if ratio < 0:
        raise ValueError(f"noise ratio must be >= 0, got {ratio}")
    sigma = math.sqrt(ratio * float(np.mean(np.asarray(X, dtype=np.float64) ** 2)))
    return X + rng.normal(scale=sigma, size=X.shape) if sigma > 0 else np.array(X, copy=True)


def noise_curve(
    model: SupervisedModel, X_test: Sequence[np.ndarray], y_test: np.ndarray, task: str,
    ratios: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), random_state: int = 0,
) -> list[list[float]]:
    """Scores when the test data of one modality at a time gets noise (paper Figs. 3–4): [modality][ratio]."""
    curves = []
    for m in range(len(X_test)):
        rng = np.random.default_rng([random_state, m])
        row = []
        for ratio in ratios:
            noisy = [add_noise(X, ratio, rng) if k == m else X for k, X in enumerate(X_test)]
            row.append(evaluate(model, noisy, y_test, task))
        curves.append(row)
    return curves
