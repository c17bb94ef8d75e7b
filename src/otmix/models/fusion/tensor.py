"""Tensor fusion (TFN)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .base import FusionModel, mlp

MAX_FUSED_SIZE = 2**20


def append_one(z: torch.Tensor) -> torch.Tensor:
    """``[z, 1]``: append a constant 1 to every row of ``z`` (B, d) -> (B, d + 1)."""
    return torch.cat([z, z.new_ones(z.shape[0], 1)], dim=1)


class TensorFusion(FusionModel):
    """Tensor Fusion Network: outer product of the codes extended by a constant 1.

    .. math:: \\mathcal{Z} = \\begin{bmatrix} Z_1 \\\\ 1 \\end{bmatrix} \\otimes \\dots \\otimes
              \\begin{bmatrix} Z_M \\\\ 1 \\end{bmatrix} \\in R^{(d+1)^M},\\qquad
              \\hat y = g(\\mathrm{vec}(\\mathcal{Z}))

    The appended 1 keeps all lower-order (unimodal, bimodal, ...) interactions in
    the tensor. ``g`` is ``Linear((d+1)^M, h) - ReLU - Linear(h, n_out)`` (attribute
    ``post_fusion``). Reference: Zadeh et al. 2017, "Tensor Fusion Network for
    Multimodal Sentiment Analysis", EMNLP.

    The fused size ``(d+1)^M`` (attribute ``fused_size``) grows exponentially with
    the number of modalities, so keep ``latent_dim`` small for ``M >= 3``.

    Raises
    ------
    ValueError
        If ``(d+1)^M`` exceeds ``2**20``.

    Examples
    --------
    >>> model = TensorFusion([5, 3, 2], latent_dim=3, n_outputs=2, hidden_dim=8)
    >>> model.fused_size, model.post_fusion[0].in_features
    (64, 64)
    """

    def __init__(self, in_dims, latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128):
        super().__init__(in_dims, latent_dim, n_outputs, hidden_dim)
        self.fused_size = math.prod([self.latent_dim + 1] * self.n_modalities)
        if self.fused_size > MAX_FUSED_SIZE:
            raise ValueError(
                f"tensor fusion of {self.n_modalities} codes of width {self.latent_dim} has size "
                f"(d+1)^M = {self.fused_size} > 2**20; lower latent_dim or use 'lrtf'"
            )
        self.post_fusion = mlp(self.fused_size, self.hidden_dim, self.n_outputs)

    def fused_tensor(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The flattened outer product ``vec([Z_1,1] ⊗ ... ⊗ [Z_M,1])``, shape ``(B, (d+1)^M)``."""
        self.check_codes(Zs)
        t = append_one(Zs[0])
        for z in Zs[1:]:
            t = torch.einsum("bi,bj->bij", t, append_one(z)).reshape(t.shape[0], -1)
        return t

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.post_fusion(self.fused_tensor(Zs))
