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
