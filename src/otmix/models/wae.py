"""Multi-modal Wasserstein autoencoder: one encoder/decoder pair per view, one shared latent width.

Two encoder families: ``"linear"`` (:class:`LinearViewAutoencoder`: a linear map started at
the view's PCA, codes scaled to unit RMS norm — the geometry of the view is kept, so the
codes cluster like the view's own features and views that share geometry stay alignable)
and ``"mlp"`` (:class:`ViewAutoencoder`: a two-layer MLP with batch-normalised codes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ENCODERS = ("linear", "mlp")


class ViewAutoencoder(nn.Module):
    """Two-layer MLP encoder ``f_m`` and decoder ``g_m`` for one view.

    The encoder ends in a batch normalisation without affine parameters, so the
    codes of every view have a fixed scale (zero mean, unit variance per
    dimension). Without it the mixing loss ``||Z_m - Z̃_m||²`` could be driven to
    zero by shrinking all codes while the decoder scales them back up.

    Parameters
    ----------
    in_dim : int
        Number of features of the view.
    latent_dim : int
        Width d of the shared latent space.
    hidden_dim : int
        Width of the hidden layer of encoder and decoder.
    normalize_codes : bool
        Standardise the codes with ``BatchNorm1d(affine=False)``.
    """

    def __init__(self, in_dim: int, latent_dim: int, hidden_dim: int = 128, normalize_codes: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)]
        if normalize_codes:
            layers.append(nn.BatchNorm1d(latent_dim, affine=False))
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, in_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return z, self.decode(z)


class LinearViewAutoencoder(nn.Module):
    r"""Linear encoder and decoder for one view, started at the view's principal components.

    Encoder :math:`z = (xW + b) / s` with the scalar :math:`s` the root-mean-square norm of
    the codes (of the batch while training, of the whole view after
    :meth:`MWAE.calibrate_codes`): the codes keep the view's geometry up to one scale, so
    the mixing loss cannot be won by shrinking them, and K-means on them behaves like
    K-means on the view's features. Decoder :math:`\hat x = z D + c`.

    :meth:`init_pca` sets :math:`W` to the top ``min(latent_dim, n_features, n_rows - 1)``
    principal directions, each signed so that its largest loading is positive (the other
    columns zero: a view with fewer features than the latent width works),
    :math:`b = -\bar x W` and :math:`D = W^\top s`,
    :math:`c = \bar x` — the best linear reconstruction, which training starts from.
    """

    def __init__(self, in_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.zeros(in_dim, latent_dim))
        self.b = nn.Parameter(torch.zeros(latent_dim))
        self.D = nn.Parameter(torch.zeros(latent_dim, in_dim))
        self.c = nn.Parameter(torch.zeros(in_dim))
        nn.init.normal_(self.W, std=1.0 / np.sqrt(in_dim))
        nn.init.normal_(self.D, std=1.0 / np.sqrt(latent_dim))
        self.register_buffer("scale", torch.ones(()))
        self.momentum: float | None = 0.1

    @torch.no_grad()
    def init_pca(self, X: torch.Tensor) -> None:
        """Start at the principal components of the rows ``X`` (module docstring)."""
        X = X.detach().to(device="cpu", dtype=torch.float64)
        mean = X.mean(dim=0)
        centred = X - mean
        _, _, Vt = torch.linalg.svd(centred, full_matrices=False)
        # a deterministic sign: the largest loading of every direction is positive (as scikit-learn's
        # svd_flip), so two views with the same features get the same codes, not mirrored ones
        biggest = Vt.abs().argmax(dim=1)
        Vt = Vt * torch.sign(Vt[torch.arange(Vt.shape[0]), biggest])[:, None]
        k = min(self.W.shape[1], Vt.shape[0], max(1, X.shape[0] - 1))
        W = torch.zeros(self.W.shape, dtype=torch.float64, device="cpu")
        W[:, :k] = Vt[:k].T
        codes = centred @ W
        scale = float(torch.sqrt(torch.mean(torch.sum(codes * codes, dim=1)))) or 1.0
        self.W.copy_(W.to(self.W.dtype))
        self.b.copy_((-mean @ W).to(self.b.dtype))
        self.D.copy_((W.T * scale).to(self.D.dtype))
        self.c.copy_(mean.to(self.c.dtype))
        self.scale.fill_(scale)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.W + self.b
        if self.training:
            rms = torch.sqrt(torch.mean(torch.sum(y * y, dim=1)) + 1e-12)
            with torch.no_grad():
                if self.momentum is None:  # calibration: the statistics of exactly this pass
                    self.scale.copy_(rms.detach())
                else:
                    self.scale.mul_(1.0 - self.momentum).add_(self.momentum * rms.detach())
            return y / rms
        return y / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.D + self.c

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return z, self.decode(z)


class MWAE(nn.Module):
    """One encoder/decoder per view (``encoder="mlp"``: :class:`ViewAutoencoder`,
    ``"linear"``: :class:`LinearViewAutoencoder`), all mapping into the same ``latent_dim``.

    Examples
    --------
    >>> import torch
    >>> model = MWAE([5, 3], latent_dim=2, hidden_dim=8)
    >>> z = model.encode(1, torch.zeros(4, 3))
    >>> tuple(z.shape)
    (4, 2)
    """

    def __init__(
        self, in_dims: Sequence[int], latent_dim: int = 16, hidden_dim: int = 128, normalize_codes: bool = True,
        encoder: str = "mlp",
    ) -> None:
        super().__init__()
        if len(in_dims) == 0:
            raise ValueError("MWAE needs at least one view")
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        self.in_dims = [int(d) for d in in_dims]
        self.latent_dim = int(latent_dim)
        self.encoder_kind = encoder
        if encoder == "linear":
            self.views = nn.ModuleList(LinearViewAutoencoder(d, self.latent_dim) for d in self.in_dims)
        else:
            self.views = nn.ModuleList(
                ViewAutoencoder(d, self.latent_dim, hidden_dim, normalize_codes) for d in self.in_dims
            )

    @torch.no_grad()
    def init_from_data(self, Xs: Sequence[torch.Tensor]) -> None:
        """Start every linear encoder at its view's PCA (MLP encoders keep their random start)."""
        for view, X in zip(self.views, Xs):
            if isinstance(view, LinearViewAutoencoder):
                view.init_pca(X)

    @property
    def n_views(self) -> int:
        return len(self.views)

    def encode(self, view: int, x: torch.Tensor) -> torch.Tensor:
        return self.views[view].encode(x)

    def decode(self, view: int, z: torch.Tensor) -> torch.Tensor:
        return self.views[view].decode(z)

    @torch.no_grad()
    def calibrate_codes(self, Xs: Sequence[torch.Tensor]) -> None:
        """Set every view's code normalisation to the exact statistics of its full data, then eval mode.

        Training normalises each batch by its own mean and variance; the running averages
        that eval mode would otherwise use lag behind the weights (few steps per epoch on
        small data sets), which shifts and shrinks every view's codes differently.
        """
        if len(Xs) != self.n_views:
            raise ValueError(f"the model has {self.n_views} views but {len(Xs)} were given")
        for view, X in zip(self.views, Xs):
            if isinstance(view, LinearViewAutoencoder):
                momentum = view.momentum
                view.momentum = None
                view.train()
                view.encode(X)
                view.momentum = momentum
                continue
            norm = view.encoder[-1]
            if not isinstance(norm, nn.BatchNorm1d):
                continue
            momentum = norm.momentum
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: one pass over all rows gives their exact statistics
            view.train()
            view.encode(X)
            norm.momentum = momentum
        self.eval()
