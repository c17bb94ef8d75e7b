"""Late (concatenation) fusion."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import FusionModel, mlp


class LateFusion(FusionModel):
    """Concatenate the codes and classify them with an MLP.

    .. math:: \\hat y = g([Z_1, \\dots, Z_M]),\\qquad g: R^{M d} \\to R^{h} \\to R^{n_{out}}

    This is the ``Concat`` fusion of MultiBench (Liang et al. 2021, "MultiBench:
    Multiscale Benchmarks for Multimodal Representation Learning").

    Examples
    --------
    >>> import torch
    >>> model = LateFusion([5, 3], latent_dim=4, n_outputs=2, hidden_dim=8)
    >>> tuple(model([torch.zeros(6, 5), torch.zeros(6, 3)]).shape)
    (6, 2)
    """

    def __init__(self, in_dims, latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128):
        super().__init__(in_dims, latent_dim, n_outputs, hidden_dim)
        self.head = mlp(self.n_modalities * self.latent_dim, self.hidden_dim, self.n_outputs)

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        self.check_codes(Zs)
        return self.head(torch.cat(list(Zs), dim=1))
