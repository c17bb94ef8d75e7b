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
from .params import check_bool, check_choice, check_int
from .readout import READOUTS, FusedClusters, fuse_and_cluster, nearest_center
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


def _encode(model: MWAE, X: np.ndarray, view: int) -> np.ndarray:
    """Codes of one view, computed on the model's device and returned as a float64 numpy array."""
    model.eval()
    with torch.no_grad():
        codes = model.encode(int(view), torch.as_tensor(X, dtype=torch.float32, device=module_device(model)))
    return codes.cpu().numpy().astype(np.float64)


class OTMClustering(ClusterMixin, BaseEstimator):
    """Unaligned multi-view clustering with an MWAE and the optimal-transport mixer (OTM).

    Every view gets an MLP encoder/decoder into a shared latent space; on every
    training step the batch codes of all views are mixed through a stochastic FGW
    barycenter and each view is pulled towards its mixed codes (paper Eq. 5), with
    the GW clustering regulariser of Eq. 6. Rows of different views need not
    correspond and views may have different numbers of rows.

    After training, all codes are fused into one barycenter and clustered; every
    sample of every view gets a cluster id that is consistent across views.

    Parameters
    ----------
    n_clusters : int
    latent_dim, hidden_dim : int
        Width of the shared latent space and of the hidden layers.
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
        Epochs of reconstruction only before mixing starts (codes get structure first,
        so the first plans are not arbitrary).
    detach_targets : bool
        Treat the mixed codes as constant targets (as a federated server sends them).
    patience : int or None
        Early stopping on the unsupervised training loss (``None``: run all epochs).
    readout : {"kmeans", "gw"}
        How the fused codes are clustered (see :func:`otmix.readout.fuse_and_cluster`).
    readout_points : int
        Largest barycenter used by the read-out.
    n_jobs : int or None
        Threads for the per-view FGW problems (-1: one per view). The default 1 is
        faster at training batch sizes (prokaryotic, 2 cores: 20.9 s vs 27.6 s with -1);
        threads pay off for barycenters of about a thousand points and more.
    device : str or torch.device
        Where the network trains: ``"cpu"`` (default), ``"auto"`` (CUDA when available, else
        the CPU) or any torch device string (``"cuda"``, ``"cuda:1"``, ``"mps"``). The OT
        solvers always run on the CPU. An unknown or unavailable device makes ``fit`` raise
        a one-line ``ValueError``. Labels, codes and centres are returned as numpy arrays.
    random_state : int or None
        Seeds weights, batches, masks and solvers; a fixed seed gives the same result on the CPU
        (the initial weights are the same on every device; GPU kernels may round differently).
    verbose : bool
        Show a progress bar over epochs.

    Attributes
    ----------
    model_ : MWAE
        On the training device (after :meth:`load`: the CPU unless told otherwise).
    history_ : dict of per-epoch losses
    labels_ : list of ndarray
        Cluster of every sample of every view (``fit`` input order).
    labels_by_readout_ : dict
        Both read-outs, ``{"kmeans": [...], "gw": [...]}``.
    fused_codes_ : ndarray (N_B, latent_dim)
        The barycenter of all codes.
    fused_labels_ : ndarray (N_B,)
    cluster_centers_ : ndarray (n_clusters, latent_dim)
    n_features_in_ : list of int
        Features per view (a list, one per view, where scikit-learn has one int).
    plans_ : list of ndarray (N_B, N_B)
        Plans from the fused barycenter to the rows ``support_[m]`` of every view.
    support_ : list of ndarray
        Rows of every view that entered the read-out barycenter (all rows unless a view
        had more than ``readout_points``).
    barycenter_value_ : float
        FGW objective of the read-out barycenter.

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
        latent_dim: int = 16,
        hidden_dim: int = 128,
        alpha: float = 0.5,
        structure: str = "euclidean",
        batch_size: int = 256,
        epochs: int = 60,
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
        readout: str = "kmeans",
        readout_points: int = 2048,
        n_jobs: int | None = 1,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
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
        self.readout = readout
        self.readout_points = readout_points
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------------

    def _config(self) -> ClusterConfig:
        # every estimator parameter that names a trainer field is passed on (the rest keep their defaults)
        params = self.get_params()
        return ClusterConfig(**{f.name: params[f.name] for f in fields(ClusterConfig) if f.name in params})

    def fit(
        self, Xs: Sequence[np.ndarray], y: Any = None, progress: Callable[[int, dict[str, float]], None] | None = None
    ) -> OTMClustering:
        """Train on the views ``Xs`` (a list of arrays, one per view; labels are not used).

        ``progress(epoch, losses)`` is called after every epoch (the progress bar of
        ``verbose=True`` uses the same hook).
        """
        # every parameter is checked before any work, with one message naming it (otmix.params)
        check_choice("readout", self.readout, READOUTS)
        check_bool("verbose", self.verbose)
        config = self._config()
        Xs, _ = check_views(Xs, n_clusters=check_int("n_clusters", self.n_clusters, low=1))
        config.validate()
        check_int("readout_points", self.readout_points, low=1)
        if self.readout_points < self.n_clusters:
            raise ValueError(f"readout_points={self.readout_points} is smaller than n_clusters={self.n_clusters}")
        if self.verbose:
            model, history = self._fit_with_bar(Xs, config, progress)
        else:
            model, history = train_clustering(Xs, config, progress=progress)
        # fitted attributes are set together, only once the read-out has succeeded
        codes = [_encode(model, X, m) for m, X in enumerate(Xs)]
        fused = self._read_out(codes)
        self.model_, self.history_, self.n_features_in_ = model, history, [X.shape[1] for X in Xs]
        self.labels_ = fused.labels
        self.labels_by_readout_ = fused.labels_by_readout
        self.fused_codes_ = fused.codes
        self.fused_labels_ = fused.fused_labels
        self.cluster_centers_ = fused.centers
        self.plans_ = fused.plans
        self.support_ = fused.support
        self.barycenter_value_ = fused.barycenter_value
        return self

    def _fit_with_bar(self, Xs, config, progress):
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

            return train_clustering(Xs, config, progress=hook, on_step=on_step)

    def _read_out(self, Zs: list[np.ndarray]) -> FusedClusters:
        seed = None if self.random_state is None else int(self.random_state) + 7919
        return fuse_and_cluster(
            Zs, self.n_clusters, readout=self.readout, alpha=self.alpha, structure=self.structure,
            max_points=self.readout_points, random_state=seed, n_jobs=self.n_jobs,
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

        Raises ``sklearn.exceptions.NotFittedError`` before :meth:`fit` (or :meth:`load`).
        """
        self._check_fitted()
        if not isinstance(Xs, list | tuple) or len(Xs) != len(self.n_features_in_):
            raise ValueError(f"Xs must be a list of {len(self.n_features_in_)} views")
        return [self._encode(self._check_view_input(X, m), m) for m, X in enumerate(Xs)]

    def predict(self, X: np.ndarray, view: int = 0) -> np.ndarray:
        """Cluster new samples of ONE view with that view's encoder alone (nearest fused centre).

        This is what a single agent can do after training: it needs neither the other
        views nor the barycenter, only its encoder and the ``cluster_centers_``. Raises
        ``sklearn.exceptions.NotFittedError`` before :meth:`fit` (or :meth:`load`).
        """
        self._check_fitted()
        X = self._check_view_input(X, view)
        return nearest_center(self._encode(X, view), self.cluster_centers_)

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
            state = {"model": weights, "cluster_centers": torch.as_tensor(self.cluster_centers_)}
            torch.save(state, tmp / CHECKPOINT_WEIGHTS)
            meta = {"params": self.get_params(), "n_features_in": self.n_features_in_, "format": 1}
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
            est.model_ = MWAE(est.n_features_in_, est.latent_dim, est.hidden_dim)
            est.model_.load_state_dict(state["model"])
            est.model_.to(target).eval()
            est.cluster_centers_ = state["cluster_centers"].numpy()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path} is not an otmix checkpoint: {exc.filename} is missing") from None
        except (KeyError, TypeError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ValueError(f"corrupt checkpoint {path}: {first}") from None
        return est
