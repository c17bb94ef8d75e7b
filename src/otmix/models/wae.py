"""Multi-modal Wasserstein autoencoder: one MLP encoder/decoder pair per view, one shared latent width."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


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


class MWAE(nn.Module):
    """One :class:`ViewAutoencoder` per view, all mapping into the same ``latent_dim``.

    Examples
    --------
    >>> import torch
    >>> model = MWAE([5, 3], latent_dim=2, hidden_dim=8)
    >>> z = model.encode(1, torch.zeros(4, 3))
    >>> tuple(z.shape)
    (4, 2)
    """

    def __init__(
        self, in_dims: Sequence[int], latent_dim: int = 16, hidden_dim: int = 128, normalize_codes: bool = True
    ) -> None:
        super().__init__()
        if len(in_dims) == 0:
            raise ValueError("MWAE needs at least one view")
        self.in_dims = [int(d) for d in in_dims]
        self.latent_dim = int(latent_dim)
        self.views = nn.ModuleList(
            ViewAutoencoder(d, self.latent_dim, hidden_dim, normalize_codes) for d in self.in_dims
        )

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
