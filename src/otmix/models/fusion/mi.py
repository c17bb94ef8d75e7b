"""Multiplicative interactions (MI-matrix form)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import FusionModel


class MultiplicativeInteractions(FusionModel):
    """Multiplicative interactions of the codes, applied sequentially for more than two modalities.

    For two modalities (MI-matrix form, the bilinear map ``W`` is an ``nn.Bilinear``):

    .. math:: h_1 = Z_1^\\top W Z_2 + U Z_1 + V Z_2 + b \\in R^{h},\\qquad
              \\hat y = \\mathrm{Linear}(\\mathrm{ReLU}(h_{M-1}))

    For ``M > 2`` the running state is combined with the next code by another
    MI layer, with no nonlinearity in between (so ``h_{M-1}`` is a polynomial of
    degree ``M`` in the codes, like the tensor fusion):

    .. math:: h_k = h_{k-1}^\\top W_k Z_{k+1} + U_k h_{k-1} + V_k Z_{k+1} + b_k,\\qquad k = 2, \\dots, M-1

    Stage ``k`` is ``bilinears[k-1]`` (``W_k``, ``b_k``), ``left[k-1]`` (``U_k``) and
    ``right[k-1]`` (``V_k``); ``U_k``, ``V_k`` have no bias. Reference: Jayakumar
    et al. 2020, "Multiplicative Interactions and Where to Find Them", ICLR
    (OpenReview 2019).

    Raises
    ------
    ValueError
        If there are fewer than two modalities.

    Examples
    --------
    >>> model = MultiplicativeInteractions([5, 3, 2], latent_dim=4, n_outputs=2, hidden_dim=8)
    >>> len(model.bilinears), model.bilinears[1].in1_features
    (2, 8)
    """

    def __init__(self, in_dims, latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128):
        super().__init__(in_dims, latent_dim, n_outputs, hidden_dim)
        if self.n_modalities < 2:
            raise ValueError(f"multiplicative interactions need at least 2 modalities, got {self.n_modalities}")
        d, h = self.latent_dim, self.hidden_dim
        lefts = [d] + [h] * (self.n_modalities - 2)
        self.bilinears = nn.ModuleList(nn.Bilinear(a, d, h) for a in lefts)
        self.left = nn.ModuleList(nn.Linear(a, h, bias=False) for a in lefts)
        self.right = nn.ModuleList(nn.Linear(d, h, bias=False) for _ in lefts)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(h, self.n_outputs))

    def preactivation(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The interaction state ``h_{M-1}`` before the ReLU, shape ``(B, hidden_dim)``."""
        self.check_codes(Zs)
        state = Zs[0]
        for bil, left, right, z in zip(self.bilinears, self.left, self.right, Zs[1:]):
            state = bil(state, z) + left(state) + right(z)
        return state

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.head(self.preactivation(Zs))
