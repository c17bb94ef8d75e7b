"""scikit-learn style estimators of otmix."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from .data.views import check_views
from .models.wae import MWAE
from .ot._constraints import check_links
from .params import check_bool, check_choice, check_int
from .readout import (
    READOUTS,
    FusedClusters,
    fuse_and_cluster,
    matched_clusters,
    nearest_center,
)
from .subsample import sample_rows
from .train.cluster import ClusterConfig, steps_per_epoch, train_clustering
from .train.device import module_device, resolve_device

CHECKPOINT_WEIGHTS = "model.pt"
CHECKPOINT_CONFIG = "config.json"


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    raise TypeError(f"parameter value {value!r} cannot be stored in a checkpoint")


def _pca_codes(Xs: Sequence[np.ndarray], latent_dim: int) -> list[np.ndarray]:
    """The codes of linear encoders at their PCA start (what the views look like before training)."""
    tensors = [torch.as_tensor(np.asarray(X), dtype=torch.float32, device="cpu") for X in Xs]
    with torch.device("cpu"):
        model = MWAE([X.shape[1] for X in Xs], latent_dim, encoder="linear")
        model.init_from_data(tensors)
        model.calibrate_codes(tensors)
    return [_encode(model, X, m) for m, X in enumerate(Xs)]


def _frames_onto_reference(codes: list[np.ndarray], links: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray,
                                                                                              np.ndarray]]:
    """Per view ``(source mean, rotation, target mean)`` putting its codes in the most linked view's frame.

    Independently encoded views share no coordinates; the fused read-outs compare them, so
    with links (or pseudo-links) every view's frame is turned onto the reference's by
    orthogonal Procrustes on the linked rows: ``(Z - source) @ R + target``. Without links
    (or a view with fewer than two linked rows): the identity.
    """
    d = codes[0].shape[1]
    identity = (np.zeros(d), np.eye(d), np.zeros(d))
    if links is None or len(links) == 0:
        return [identity for _ in codes]
    from .ot.align import procrustes_rotation

    ref = int(np.argmax((links >= 0).sum(axis=0)))
    frames = []
    for m, Z in enumerate(codes):
        both = (links[:, m] >= 0) & (links[:, ref] >= 0)
        if m == ref or both.sum() < 2:
            frames.append(identity)
            continue
        A, B = Z[links[both, m]], codes[ref][links[both, ref]]
        source, target = A.mean(axis=0), B.mean(axis=0)
        frames.append((source, procrustes_rotation(A - source, B - target), target))
    return frames


def _in_frame(Z: np.ndarray, frame: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    source, R, target = frame
    return (Z - source) @ R + target


def _unit_rms(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``X`` centred and scaled to unit root-mean-square row norm, with the mean and the scale."""
    mean = X.mean(axis=0)
    centred = X - mean
    scale = max(float(np.sqrt(np.mean(np.sum(centred * centred, axis=1)))), 1e-300)
    return centred / scale, mean, scale


def _centres(X: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean row of every cluster (a cluster without rows gets the overall mean)."""
    out = np.tile(X.mean(axis=0), (n_clusters, 1))
    for c in np.unique(labels):
        out[c] = X[labels == c].mean(axis=0)
    return out


def _extend_labels(X: np.ndarray, rows: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Labels of every row of ``X``: ``labels`` on ``rows``, the nearest of ``centers`` elsewhere."""
    out = nearest_center(X, centers)
    out[rows] = labels
    return out


def _encode(model: MWAE, X: np.ndarray, view: int) -> np.ndarray:
    """Codes of one view, computed on the model's device and returned as a float64 numpy array."""
    model.eval()
    with torch.no_grad():
        codes = model.encode(int(view), torch.as_tensor(X, dtype=torch.float32, device=module_device(model)))
    return codes.cpu().numpy().astype(np.float64)


class OTMClustering(ClusterMixin, BaseEstimator):
    """Unaligned multi-view clustering that never makes a view worse and lets a weak view gain.

    What ``fit(Xs, links=None)`` does (docs/design.md §4–5 and §8; the user guide's
    docs/user_guide/clustering.rst):

    1. **Encoders.** One encoder/decoder per view into a shared latent width:
       ``encoder="linear"`` (default) starts at the view's PCA and keeps its geometry
       (:class:`otmix.models.wae.LinearViewAutoencoder`); ``"mlp"`` is the paper's MLP.
    2. **What the views can support** (:func:`otmix.alignment.analyse_views`, no labels):
       every view's clustering stability, every pair's alignability (held-out link recovery
       with links; agreement of pure-GW restarts without), pair plans.
    3. **Training** (paper Eq. 4-6): with links, every batch holds linked entities and the
       barycenter of every step is the linked FGW barycenter, so each view's linked rows are
       pulled towards the other views' codes of the same entity; without links, the
       matches of alignable pairs serve as links (pseudo-links); a pair that is not
       alignable does not mix at all (reconstruction only: a linear encoder stays at its
       PCA start), so no view is pulled towards noise.
    4. **Read-out** (``readout``): ``"matched"`` keeps every view's own K-means clusters
       (on its own features) and lets a less stable view also see the clusters of the
       more stable views' matched rows, weighted by how reliable held-out links show that
       transfer to be; ids are matched across views (:func:`otmix.readout.matched_clusters`).
       ``"fused"``: K-means on one FGW barycenter of all codes. ``"gw"``: the paper's GW
       read-out of it. ``"auto"`` (default): ``"fused"`` when every pair is alignable,
       else ``"matched"``. All are computed and kept in ``labels_by_readout_``.

    Rows of different views need not correspond and views may have different numbers of rows.

    Parameters
    ----------
    n_clusters : int
    latent_dim, hidden_dim : int
        Width of the shared latent space and of the MLP's hidden layers.
    encoder : {"linear", "mlp"}
        The encoder family (above).
    alpha : float in [0, 1]
        FGW trade-off; weight of the feature (Wasserstein) term.
    structure : {"euclidean", "sqeuclidean"}
        Structure matrices of the FGW problems.
    batch_size : int
        Rows drawn from every view per step; also the barycenter size N_B.
    epochs, lr, weight_decay : int, float, float
        Adam settings; an epoch is ``max_m N_m // batch_size`` steps.
    w_rec, w_otm, w_clu : float
        Weights of reconstruction, mixing (``w_otm=0``: no OTM) and clustering losses.
    mix : {"binary", "weighted"}
        Binary stochastic masks (the OTM) or the deterministic weighted barycenter ("WB").
    max_outer : int
        Outer barycenter iterations per training step.
    warmup_epochs : int
        Epochs of reconstruction only before mixing starts.
    detach_targets : bool
        Treat the mixed codes as constant targets (as a federated server sends them).
    patience : int or None
        Early stopping on the unsupervised training loss (``None``: run all epochs).
    link_share : float in [0, 1]
        Share of every batch drawn from the linked entities (with links or pseudo-links).
    readout : {"auto", "matched", "fused", "gw"}
        Which read-out gives ``labels_`` (``"kmeans"``: the former name of ``"fused"``).
    readout_points : int
        Largest barycenter used by the fused read-outs.
    align_restarts : int
        Pure-GW restarts of the alignability score without links.
    analysis_rows : int
        Largest number of rows per view for the view analysis and the matched read-out, whose
        pair plans are dense (``8 N_a N_b`` bytes). Larger views are analysed on a seeded sample
        (linked entities first, :func:`otmix.subsample.sample_rows`); their other rows get the
        nearest of their view's matched cluster centres, as :meth:`predict` gives. Training
        always sees every row.
    n_jobs : int or None
        Threads for the per-view FGW problems (-1: one per view) and for torch while fitting
        (1, the default: at training sizes more torch threads are slower; see otmix.train.threads).
    device : str or torch.device
        Where the network trains: ``"cpu"`` (default), ``"auto"`` or any torch device string.
        The OT solvers always run on the CPU.
    random_state : int or None
        Seeds weights, batches, masks, solvers and the read-outs' K-means.
    verbose : bool
        Show a progress bar over training steps.

    Attributes
    ----------
    model_ : MWAE
    history_ : dict of per-epoch losses
    labels_ : list of ndarray
        Cluster of every sample of every view (``fit`` input order), one id map.
    readout_ : str
        The read-out ``labels_`` came from.
    labels_by_readout_ : dict
        ``{"matched": [...], "fused": [...], "gw": [...]}``.
    alignability_ : list of dict
        ``{"views": [a, b], "score": s, "alignable": bool}`` for every pair a < b.
    stability_ : ndarray (M,)
        Clustering stability of every view's codes (:func:`otmix.alignment.clustering_stability`).
    pair_plans_ : dict
        ``(a, b) -> ndarray (n_a, n_b)``: a plan between the rows of views a < b (sums to 1);
        between the rows of ``analysis_rows_`` when a view was larger than ``analysis_rows``.
    analysis_rows_ : list of ndarray or None
        The rows of every view the analysis and the matched read-out ran on (None: all rows).
    training_ : dict
        ``mixing`` (bool), ``links`` ("given", "pseudo" or None) and ``n_links`` of the training.
    transfer_weights_ : list of list of float
        ``[m][o]``: the weight view m's matched read-out gave to view o's clusters.
    view_centers_ : list of ndarray (n_clusters, D_m)
        Centres of every view's matched clusters in its own (centred, unit-RMS) features.
    code_frames_ : list of (source mean, rotation, target mean)
        With links or pseudo-links, every view's codes are turned onto the most linked view's
        frame before the fused read-outs, ``(Z - source) @ R + target`` (the identity otherwise);
        ``predict`` applies the same.
    fused_codes_, fused_labels_, cluster_centers_, plans_, support_, barycenter_value_
        The fused read-out's barycenter, its labels and centres (latent space), plans,
        rows used and objective.
    n_features_in_ : list of int
        Features per view (a list, one per view, where scikit-learn has one int).

    Examples
    --------
    >>> import numpy as np
    >>> from otmix import OTMClustering
    >>> rng = np.random.default_rng(0)
    >>> Xs = [rng.normal(size=(60, 5)), rng.normal(size=(50, 3))]
    >>> est = OTMClustering(n_clusters=2, epochs=2, batch_size=32, random_state=0)
    >>> [len(labels) for labels in est.fit_predict(Xs)]
    [60, 50]
    """

    def __init__(
        self,
        n_clusters: int = 8,
        latent_dim: int = 32,
        hidden_dim: int = 128,
        encoder: str = "linear",
        alpha: float = 0.5,
        structure: str = "euclidean",
        batch_size: int = 256,
        epochs: int = 10,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        w_rec: float = 1.0,
        w_otm: float = 0.1,
        w_clu: float = 0.1,
        mix: str = "binary",
        max_outer: int = 5,
        warmup_epochs: int = 0,
        detach_targets: bool = True,
        patience: int | None = 10,
        link_share: float = 0.5,
        readout: str = "auto",
        readout_points: int = 1024,
        align_restarts: int = 8,
        analysis_rows: int = 4096,
        n_jobs: int | None = 1,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.encoder = encoder
        self.alpha = alpha
        self.structure = structure
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.w_rec = w_rec
        self.w_otm = w_otm
        self.w_clu = w_clu
        self.mix = mix
        self.max_outer = max_outer
        self.warmup_epochs = warmup_epochs
        self.detach_targets = detach_targets
        self.patience = patience
        self.link_share = link_share
        self.readout = readout
        self.readout_points = readout_points
        self.align_restarts = align_restarts
        self.analysis_rows = analysis_rows
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------------

    def _config(self) -> ClusterConfig:
        # every estimator parameter that names a trainer field is passed on (the rest keep their defaults)
        params = self.get_params()
        return ClusterConfig(**{f.name: params[f.name] for f in fields(ClusterConfig) if f.name in params})

    def _seed(self, offset: int) -> int | None:
        return None if self.random_state is None else int(self.random_state) + offset

    def fit(
        self, Xs: Sequence[np.ndarray], y: Any = None, links: Any = None,
        progress: Callable[[int, dict[str, float]], None] | None = None,
    ) -> OTMClustering:
        """Train on the views ``Xs`` (a list of arrays, one per view; labels are not used).

        ``links``: int array (n_links, M) of row indices, one column per view, ``-1`` where
        the entity is absent from a view (rows known to be the same entity; see
        :func:`otmix.ot.fgw_barycenter`). ``progress(epoch, losses)`` is called after every
        epoch (the progress bar of ``verbose=True`` uses the same hook).
        """
        from .alignment import analyse_views

        # every parameter is checked before any work, with one message naming it (otmix.params)
        check_choice("readout", self.readout, READOUTS)
        check_bool("verbose", self.verbose)
        config = self._config()
        Xs, _ = check_views(Xs, n_clusters=check_int("n_clusters", self.n_clusters, low=1))
        config.validate()
        check_int("readout_points", self.readout_points, low=1)
        check_int("align_restarts", self.align_restarts, low=1)
        check_int("analysis_rows", self.analysis_rows, low=max(2, int(self.n_clusters)))
        if self.readout_points < self.n_clusters:
            raise ValueError(f"readout_points={self.readout_points} is smaller than n_clusters={self.n_clusters}")
        links_ = None
        if links is not None:
            links_ = check_links(links, [X.shape[0] for X in Xs])
            if links_.shape[0] == 0:
                links_ = None
        n_clusters = int(self.n_clusters)
        # the analysis and the matched read-out hold dense pair plans: large views are analysed on a sample
        sample = sample_rows([X.shape[0] for X in Xs], links_, int(self.analysis_rows), self._seed(404))
        if links_ is None:  # without links, alignable pairs (measured on the PCA start) mix through their matches
            start = sample.take(_pca_codes(Xs, config.latent_dim))
            before = analyse_views(start, n_clusters, restarts=self.align_restarts, random_state=self._seed(101))
            train_links = sample.to_full(before.pseudo_links)
            kind = "pseudo" if train_links is not None else None
        else:
            before, train_links, kind = None, links_, "given"
        mixing = train_links is not None
        if self.verbose:
            model, history = self._fit_with_bar(Xs, config, progress, train_links, mixing)
        else:
            model, history = train_clustering(Xs, config, progress=progress, links=train_links, mixing=mixing)
        # fitted attributes are set together, only once the read-outs have succeeded
        codes = [_encode(model, X, m) for m, X in enumerate(Xs)]
        codes_s, Xs_s = sample.take(codes), sample.take(Xs)
        analysis = before if (before is not None and not mixing and config.encoder == "linear") else \
            analyse_views(codes_s, n_clusters, links=sample.links, restarts=self.align_restarts,
                          random_state=self._seed(202))
        matched, matched_log = matched_clusters(codes_s, n_clusters, analysis, random_state=self._seed(303),
                                                own=Xs_s, kmeans_seed=self.random_state)
        units = [_unit_rms(X) for X in Xs]  # (centred and scaled view, mean, scale), once per view
        scaled = [u[0] for u in units]
        view_centers = [_centres(S, lab, n_clusters) for S, lab in zip(sample.take(scaled), matched)]
        if not sample.full:  # rows outside the sample: the nearest of their view's matched centres (as predict)
            matched = [_extend_labels(S, rows, lab, C) for S, rows, lab, C in zip(scaled, sample.rows, matched,
                                                                                   view_centers)]
        effective_links = sample.to_full(analysis.effective_links())
        frames = _frames_onto_reference(codes, effective_links)
        fused = self._read_out([_in_frame(Z, f) for Z, f in zip(codes, frames)], effective_links)
        readout = self._choose_readout(analysis)
        by_readout = {"matched": matched, **fused.labels_by_readout}
        self.model_, self.history_, self.n_features_in_ = model, history, [X.shape[1] for X in Xs]
        self.readout_ = readout
        self.labels_ = by_readout[readout]
        self.labels_by_readout_ = by_readout
        self.alignability_ = [a.as_dict() for a in analysis.alignability]
        self.stability_ = np.asarray(analysis.stability)
        self.pair_plans_ = dict(analysis.pair_plans)
        self.analysis_rows_ = None if sample.full else sample.rows
        self.training_ = {"mixing": mixing, "links": kind, "n_links": 0 if train_links is None else len(train_links)}
        self.transfer_weights_ = matched_log["weights"]
        self.view_scaling_ = [u[1:] for u in units]
        self.code_frames_ = frames
        self.view_centers_ = view_centers
        self.fused_codes_ = fused.codes
        self.fused_labels_ = fused.fused_labels
        self.cluster_centers_ = fused.centers
        self.plans_ = fused.plans
        self.support_ = fused.support
        self.barycenter_value_ = fused.barycenter_value
        return self

    def _choose_readout(self, analysis) -> str:
        """The read-out of ``labels_``: as asked, or (auto) fused when every pair is alignable, else matched."""
        if self.readout == "auto":
            return "fused" if all(a.alignable for a in analysis.alignability) else "matched"
        return "fused" if self.readout == "kmeans" else self.readout

    def _fit_with_bar(self, Xs, config, progress, links, mixing):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        steps = steps_per_epoch([X.shape[0] for X in Xs], config.batch_size)
        columns = (TextColumn("training epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("steps {task.fields[loss]}"), TimeElapsedColumn())
        with Progress(*columns, transient=True) as bar:  # advances every step: long epochs show progress
            task = bar.add_task("steps", total=config.epochs * steps, loss="", epoch=f"1/{config.epochs}")
            started = time.perf_counter()

            def on_step(epoch: int, step: int) -> None:
                bar.update(task, completed=epoch * steps + step, epoch=f"{epoch + 1}/{config.epochs}")

            def hook(epoch: int, losses: dict[str, float]) -> None:
                nonlocal started
                text = " ".join(f"{k} {v:.4f}" for k, v in losses.items())
                bar.update(task, loss=f"{text}  {time.perf_counter() - started:.1f} s/epoch")
                started = time.perf_counter()
                if progress is not None:
                    progress(epoch, losses)

            return train_clustering(Xs, config, progress=hook, on_step=on_step, links=links, mixing=mixing)

    def _read_out(self, Zs: list[np.ndarray], links: np.ndarray | None = None) -> FusedClusters:
        return fuse_and_cluster(
            Zs, self.n_clusters, readout="gw" if self.readout == "gw" else "fused", alpha=self.alpha,
            structure=self.structure, max_points=self.readout_points, random_state=self._seed(7919),
            n_jobs=self.n_jobs, links=links,
        )

    def fit_predict(self, Xs: Sequence[np.ndarray], y: Any = None) -> list[np.ndarray]:
        """Fit and return the cluster of every sample of every view (one array per view)."""
        return self.fit(Xs).labels_

    # -- inference ---------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        # scikit-learn's NotFittedError (a ValueError and an AttributeError), as every fitted estimator raises
        check_is_fitted(self, ["model_", "cluster_centers_", "n_features_in_"])

    def _check_view_input(self, X: np.ndarray, view: int) -> np.ndarray:
        n_views = len(self.n_features_in_)
        if not 0 <= int(view) < n_views:
            raise ValueError(f"view must lie in [0, {n_views - 1}], got {view}")
        (X,), _ = check_views([X])
        if X.shape[1] != self.n_features_in_[view]:
            raise ValueError(f"view {view} has {self.n_features_in_[view]} features, got {X.shape[1]}")
        return X

    def _encode(self, X: np.ndarray, view: int) -> np.ndarray:
        return _encode(self.model_, X, view)

    def transform(self, Xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Codes of every view in the shared latent space (one array per view).

        With links or pseudo-links, every view's codes are in the reference view's frame
        (``code_frames_``), so codes of the same entity in different views are close.
        Raises ``sklearn.exceptions.NotFittedError`` before :meth:`fit` (or :meth:`load`).
        """
        self._check_fitted()
        if not isinstance(Xs, list | tuple) or len(Xs) != len(self.n_features_in_):
            raise ValueError(f"Xs must be a list of {len(self.n_features_in_)} views")
        codes = [self._encode(self._check_view_input(X, m), m) for m, X in enumerate(Xs)]
        frames = getattr(self, "code_frames_", None)
        return codes if frames is None else [_in_frame(Z, f) for Z, f in zip(codes, frames)]

    def predict(self, X: np.ndarray, view: int = 0) -> np.ndarray:
        """Cluster new samples of ONE view from that view alone.

        With the matched read-out (``readout_ == "matched"``): the nearest of the view's own
        cluster centres (``view_centers_``, in its centred, unit-RMS features); with the fused
        ones: the nearest fused centre of the view's codes (its encoder and
        ``cluster_centers_``). Either way it is what a single agent can do after training:
        it needs neither the other views nor the barycenter. Raises
        ``sklearn.exceptions.NotFittedError`` before :meth:`fit` (or :meth:`load`).
        """
        self._check_fitted()
        X = self._check_view_input(X, view)
        if getattr(self, "readout_", "fused") == "matched":
            mean, scale = self.view_scaling_[view]
            return nearest_center((X - mean) / scale, self.view_centers_[view])
        frames = getattr(self, "code_frames_", None)
        codes = self._encode(X, view)
        return nearest_center(codes if frames is None else _in_frame(codes, frames[view]), self.cluster_centers_)

    # -- checkpoints -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write a checkpoint folder: ``model.pt`` (state_dict + centres) and ``config.json``.

        Written into a temporary folder and renamed, so a failed save leaves nothing behind.
        Raises ``sklearn.exceptions.NotFittedError`` before :meth:`fit`.
        """
        self._check_fitted()
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; choose a new checkpoint folder")
        tmp = Path(tempfile.mkdtemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}."))
        try:  # CPU tensors: the checkpoint loads on machines without the training device
            weights = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
            state = {"model": weights, "cluster_centers": torch.as_tensor(self.cluster_centers_),
                     "view_centers": [torch.as_tensor(c) for c in self.view_centers_],
                     "view_means": [torch.as_tensor(mean) for mean, _ in self.view_scaling_],
                     "view_scales": torch.as_tensor([scale for _, scale in self.view_scaling_]),
                     "code_frames": [[torch.as_tensor(part) for part in frame] for frame in self.code_frames_]}
            torch.save(state, tmp / CHECKPOINT_WEIGHTS)
            meta = {"params": self.get_params(), "n_features_in": self.n_features_in_, "readout": self.readout_,
                    "format": 2}
            (tmp / CHECKPOINT_CONFIG).write_text(json.dumps(meta, indent=2, default=_json_scalar))
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> OTMClustering:
        """Load a checkpoint written by :meth:`save` (weights read with ``weights_only=True``).

        The result can ``transform`` and ``predict``; the training-set attributes
        (``labels_``, ``fused_codes_``...) are not stored. The model is placed on ``device``
        (the CPU by default, whatever device it was trained on); the ``device`` parameter of
        the estimator (what a new ``fit`` uses) is the one saved.
        """
        target = resolve_device(device)
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not an otmix checkpoint folder")
        try:
            meta = json.loads((path / CHECKPOINT_CONFIG).read_text())
            state = torch.load(path / CHECKPOINT_WEIGHTS, map_location="cpu", weights_only=True)
            est = cls(**meta["params"])
            est.n_features_in_ = [int(d) for d in meta["n_features_in"]]
            est.model_ = MWAE(est.n_features_in_, est.latent_dim, est.hidden_dim, encoder=est.encoder)
            est.model_.load_state_dict(state["model"])
            est.model_.to(target).eval()
            est.cluster_centers_ = state["cluster_centers"].numpy()
            est.readout_ = meta.get("readout", "fused")
            if "view_centers" in state:
                est.view_centers_ = [c.numpy() for c in state["view_centers"]]
                est.view_scaling_ = [(mean.numpy(), float(scale))
                                     for mean, scale in zip(state["view_means"], state["view_scales"])]
                est.code_frames_ = [tuple(part.numpy() for part in frame) for frame in state["code_frames"]]
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path} is not an otmix checkpoint: {exc.filename} is missing") from None
        except (KeyError, TypeError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ValueError(f"corrupt checkpoint {path}: {first}") from None
        return est
