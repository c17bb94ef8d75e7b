"""Deep canonically correlated autoencoders (DCCAE, Wang et al., ICML 2015) as a multi-view clustering baseline."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from ..params import check_int, check_real
from .base import MultiViewClusterer


def _inv_sqrt_torch(S: torch.Tensor) -> torch.Tensor:
    w, V = torch.linalg.eigh(S)
    return (V * w.rsqrt()) @ V.T


def total_correlation(H1: torch.Tensor, H2: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    r"""Total canonical correlation of two batches of embeddings (the differentiable DCCA objective).

    With centred batches :math:`\bar H_1, \bar H_2` of ``n`` rows and ``d`` columns,

    .. math::

        \Sigma_{11} = \tfrac{1}{n-1}\bar H_1^\top \bar H_1 + \varepsilon I, \quad
        \Sigma_{22} = \tfrac{1}{n-1}\bar H_2^\top \bar H_2 + \varepsilon I, \quad
        \Sigma_{12} = \tfrac{1}{n-1}\bar H_1^\top \bar H_2,

    .. math::

        \operatorname{corr}(H_1, H_2) = \lVert T \rVert_* = \sum_i \sigma_i(T), \qquad
        T = \Sigma_{11}^{-1/2}\,\Sigma_{12}\,\Sigma_{22}^{-1/2},

    the sum of the canonical correlations (Andrew et al. 2013). It lies in ``[0, d]`` and is
    invariant to invertible linear maps of either embedding (up to the ``eps`` ridge).

    The inverse square roots come from ``eigh`` of the (symmetric, positive definite)
    covariances, :math:`\Sigma^{-1/2} = V\Lambda^{-1/2}V^\top`; the trace norm is the sum of the
    singular values of ``T`` (``svdvals``, whose gradient :math:`U V^\top` is stable, unlike
    :math:`\operatorname{tr}(T^\top T)^{1/2}` through eigenvalues near 0). The gradient of ``eigh``
    contains :math:`1/(\lambda_i-\lambda_j)`; exactly repeated covariance eigenvalues do not
    occur for network outputs in practice.

    Parameters
    ----------
    H1, H2 : tensors of shape (n, d1) and (n, d2)
        Row ``i`` of both is the same sample; ``n > max(d1, d2)`` for the covariances to be full rank.
    eps : float
        Ridge added to both auto-covariances.

    Returns
    -------
    Scalar tensor (float64), differentiable w.r.t. both inputs.
    """
    if H1.ndim != 2 or H2.ndim != 2 or H1.shape[0] != H2.shape[0]:
        raise ValueError(f"embeddings must be 2-D with the same rows, got {tuple(H1.shape)} and {tuple(H2.shape)}")
    n = H1.shape[0]
    if n < 2:
        raise ValueError(f"the correlation needs at least 2 rows, got {n}")
    H1 = H1.to(torch.float64)
    H2 = H2.to(torch.float64)
    H1 = H1 - H1.mean(0, keepdim=True)
    H2 = H2 - H2.mean(0, keepdim=True)
    S11 = H1.T @ H1 / (n - 1) + eps * torch.eye(H1.shape[1], dtype=H1.dtype, device=H1.device)
    S22 = H2.T @ H2 / (n - 1) + eps * torch.eye(H2.shape[1], dtype=H2.dtype, device=H2.device)
    S12 = H1.T @ H2 / (n - 1)
    T = _inv_sqrt_torch(S11) @ S12 @ _inv_sqrt_torch(S22)
    return torch.linalg.svdvals(T).sum()


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, d_out))


class DCCAENet(nn.Module):
    """One MLP encoder ``f_m`` and decoder ``g_m`` per view (two hidden ReLU layers each).

    Parameters
    ----------
    widths : list of int
        Number of features of every view.
    latent_dim, hidden_dim : int
        Width of the embeddings and of the hidden layers.
    """

    def __init__(self, widths: list[int], latent_dim: int, hidden_dim: int):
        super().__init__()
        self.encoders = nn.ModuleList([_mlp(w, hidden_dim, latent_dim) for w in widths])
        self.decoders = nn.ModuleList([_mlp(latent_dim, hidden_dim, w) for w in widths])

    def encode(self, view: int, X: torch.Tensor) -> torch.Tensor:
        """Embedding ``f_m(X)`` of the rows of view ``view``."""
        return self.encoders[view](X)

    def forward(self, Xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Embeddings and reconstructions ``g_m(f_m(X_m))`` of every view."""
        H = [enc(X) for enc, X in zip(self.encoders, Xs)]
        return H, [dec(h) for dec, h in zip(self.decoders, H)]


def _inv_sqrt(S: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(S)
    return (V / np.sqrt(np.maximum(w, np.finfo(np.float64).tiny))) @ V.T


def maxvar_embedding(Hs: list[np.ndarray], n_components: int, eps: float = 1e-4) -> np.ndarray:
    r"""Average of the per-view embeddings after whitening and a common canonical rotation (MAXVAR GCCA).

    Every view is centred and whitened, :math:`W_m = \bar H_m \Sigma_{mm}^{-1/2}/\sqrt{n-1}`
    (``eps``-regularised, so :math:`W_m^\top W_m \approx I`); the thin SVD
    :math:`[W_1, \dots, W_M] = G S R^\top` with ``R`` split in blocks :math:`R_m` gives the
    shared directions, and the result is

    .. math:: Z = \frac{1}{M}\sum_m W_m R_m = \frac{1}{M} G S \quad(\text{first } k \text{ columns}).

    For two views the columns of :math:`W_m R_m` are the linear canonical variates (the CCA
    step Wang et al. run on the learned features), so the average combines matching
    directions; averaging raw embeddings would not, as the DCCA objective does not fix
    any rotation of either view's embedding.

    Parameters
    ----------
    Hs : list of arrays of shape (n, d_m)
    n_components : int
        Number of shared directions kept (``k``).
    eps : float
        Ridge added to the auto-covariances.

    Returns
    -------
    ndarray of shape (n, n_components)
    """
    n = Hs[0].shape[0]
    Ws = []
    for H in Hs:
        Hc = H - H.mean(0, keepdims=True)
        S = Hc.T @ Hc / (n - 1) + eps * np.eye(H.shape[1])
        Ws.append(Hc @ _inv_sqrt(S) / np.sqrt(n - 1))
    G, s, _ = np.linalg.svd(np.hstack(Ws), full_matrices=False)
    k = min(n_components, s.size)
    return G[:, :k] * s[:k] / len(Hs)


class DCCAE(MultiViewClusterer):
    r"""Deep canonically correlated autoencoders (Wang, Arora, Livescu & Bilmes, ICML 2015), then K-means.

    Every view ``m`` gets an MLP encoder :math:`f_m` and decoder :math:`g_m`. On each
    mini-batch (the same rows of every view) the loss is

    .. math::

        \mathcal L = -\sum_{m < m'} \operatorname{corr}\big(f_m(X_m), f_{m'}(X_{m'})\big)
        + \gamma \sum_m \frac{1}{n\,d_m}\big\lVert g_m(f_m(X_m)) - X_m \big\rVert_F^2,

    where :math:`\operatorname{corr}` is the total canonical correlation of
    :func:`total_correlation` (trace norm of :math:`\Sigma_{11}^{-1/2}\Sigma_{12}\Sigma_{22}^{-1/2}`)
    and :math:`\gamma` is ``reconstruction_weight``. With more than two views the
    correlation is summed over all pairs. Features are standardised (per view, to zero
    mean and unit variance) before training.

    After training every view is embedded, the embeddings are whitened and rotated to
    common canonical directions (:func:`maxvar_embedding`; plain CCA for two views),
    averaged, and clustered by K-means (``n_init=10``). Every view gets the same labels.

    Parameters
    ----------
    n_clusters : int
    latent_dim : int
        Width ``d`` of the embeddings (and of the correlation, at most ``d`` per pair).
    hidden_dim : int
        Width of the two hidden layers of every encoder and decoder.
    epochs : int
        Passes over the data.
    batch_size : int
        Rows per mini-batch; at least ``latent_dim + 1`` so that the batch covariances
        have full rank. A shuffled epoch is split into ``max(1, n // batch_size)`` batches,
        so no batch is smaller than ``min(batch_size, n)``.
    lr : float
        Adam learning rate.
    reconstruction_weight : float
        :math:`\gamma \ge 0`; 0 gives plain deep CCA.
    eps : float
        Ridge added to the covariances.
    random_state : int, numpy Generator or None
        Seeds the weights, the batches and K-means; global RNGs are left untouched.

    Attributes
    ----------
    labels_ : list of int64 arrays
        One per view (all equal: the views are aligned).
    embedding_ : ndarray of shape (n_samples, latent_dim)
        The averaged, canonically aligned embedding that was clustered.
    history_ : list of float
        Mean training loss of every epoch.
    model_ : DCCAENet
        The trained network (eval mode, on standardised features).
    n_features_in_ : list of int
    """

    requires_aligned = True

    def __init__(self, n_clusters: int, latent_dim: int = 10, hidden_dim: int = 256, epochs: int = 100,
                 batch_size: int = 256, lr: float = 1e-3, reconstruction_weight: float = 1.0, eps: float = 1e-4,
                 random_state: int | np.random.Generator | None = None):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reconstruction_weight = reconstruction_weight
        self.eps = eps
        self.random_state = random_state

    def _check_params(self, Xs: list[np.ndarray]) -> None:
        for name in ("latent_dim", "hidden_dim", "epochs", "batch_size"):
            check_int(name, getattr(self, name), low=1)
        for name in ("lr", "eps"):
            check_real(name, getattr(self, name), low=0.0, low_open=True)
        check_real("reconstruction_weight", self.reconstruction_weight, low=0.0)
        if len(Xs) < 2:
            raise ValueError(f"DCCAE needs at least 2 views, got {len(Xs)}")
        if self.batch_size < self.latent_dim + 1:
            raise ValueError(f"batch_size={self.batch_size} must be at least latent_dim + 1 = {self.latent_dim + 1} "
                             "(smaller batches give singular covariances)")
        n = Xs[0].shape[0]
        if n < self.latent_dim + 1:
            raise ValueError(f"DCCAE needs at least latent_dim + 1 = {self.latent_dim + 1} samples, got {n}")

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        self._check_params(Xs)
        rng = np.random.default_rng(self.random_state)
        torch_seed, kmeans_seed = (int(s) for s in rng.integers(2**31 - 1, size=2))
        Zs = []
        for X in Xs:
            std = X.std(0)
            Zs.append((X - X.mean(0)) / np.where(std > 0, std, 1.0))
        tensors = [torch.as_tensor(Z, dtype=torch.float32) for Z in Zs]
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(torch_seed)  # weight init only; restored on exit
            model = DCCAENet([Z.shape[1] for Z in Zs], int(self.latent_dim), int(self.hidden_dim))
        history = self._train(model, tensors, rng)
        model.eval()
        with torch.no_grad():
            Hs = [model.encode(m, T).numpy().astype(np.float64) for m, T in enumerate(tensors)]
        embedding = maxvar_embedding(Hs, int(self.latent_dim), float(self.eps))
        labels = KMeans(int(self.n_clusters), n_init=10, random_state=kmeans_seed).fit_predict(embedding)
        self.embedding_ = embedding
        self.history_ = history
        self.model_ = model
        return [labels.copy() for _ in Xs]

    def _train(self, model: DCCAENet, tensors: list[torch.Tensor], rng: np.random.Generator) -> list[float]:
        n = tensors[0].shape[0]
        n_batches = max(1, n // int(self.batch_size))
        optimizer = torch.optim.Adam(model.parameters(), lr=float(self.lr))
        pairs = list(combinations(range(len(tensors)), 2))
        history = []
        model.train()
        for epoch in range(int(self.epochs)):
            total = 0.0
            for idx in np.array_split(rng.permutation(n), n_batches):
                batch = [T[torch.as_tensor(idx)] for T in tensors]
                H, R = model(batch)
                corr = sum(total_correlation(H[a], H[b], float(self.eps)) for a, b in pairs)
                rec = sum(nn.functional.mse_loss(r, x) for r, x in zip(R, batch))
                loss = -corr + float(self.reconstruction_weight) * rec
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"DCCAE loss became non-finite in epoch {epoch}; raise eps or lower lr")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            history.append(total / n)
        return history
