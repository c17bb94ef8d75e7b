"""Per-modality prediction heads."""

from __future__ import annotations

import torch
from torch import nn

from .base import _positive_int, mlp


class ModalityHeads(nn.ModuleList):
    """One MLP head ``h_m: R^d -> R^{hidden} -> R^{n_out}`` per modality.

    Used by the trainer for the unimodal losses on ``h_m(Z̃_m)`` and ``h_m(Z_m)``
    and to predict from one modality alone. ``heads[m]`` is the ``m``-th head.

    Examples
    --------
    >>> import torch
    >>> heads = ModalityHeads(2, latent_dim=4, n_outputs=3, hidden_dim=8)
    >>> tuple(heads(1, torch.zeros(5, 4)).shape)
    (5, 3)
    """

    def __init__(self, n_modalities: int, latent_dim: int, n_outputs: int, hidden_dim: int = 64):
        n_modalities = _positive_int(n_modalities, "n_modalities")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.n_outputs = _positive_int(n_outputs, "n_outputs")
        hidden_dim = _positive_int(hidden_dim, "hidden_dim")
        super().__init__(mlp(self.latent_dim, hidden_dim, self.n_outputs) for _ in range(n_modalities))

    def forward(self, m: int, z: torch.Tensor) -> torch.Tensor:
        """Predictions ``h_m(z)`` of head ``m`` for codes ``z`` (B, d), shape ``(B, n_outputs)``."""
        if not -len(self) <= m < len(self):
            raise IndexError(f"modality {m} out of range for {len(self)} heads")
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"codes must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self[m](z)
