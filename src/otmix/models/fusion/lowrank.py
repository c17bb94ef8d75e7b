"""Low-rank multimodal fusion (LMF)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .base import FusionModel, _positive_int
from .tensor import append_one


class LowRankTensorFusion(FusionModel):
    """Low-rank tensor fusion: the TFN weight tensor factorised into ``r`` rank-one terms per modality.

    .. math:: h = \\sum_{i=1}^{r} w_i \\prod_{m=1}^{M} \\left([Z_m, 1]\\, W_m^{(i)}\\right) + b,\\qquad
              \\hat y = \\mathrm{Linear}(\\mathrm{ReLU}(h))

    with factors ``W_m`` of shape ``(r, d+1, h)`` (``h = hidden_dim``), fusion
    weights ``w`` of shape ``(1, r)`` and bias ``b`` of shape ``(1, h)``; the
    product over modalities is elementwise. Reference: Liu et al. 2018, "Efficient
    Low-rank Multimodal Fusion with Modality-Specific Factors", ACL.

    The factors live in an :class:`torch.nn.ParameterList` (``factors``), so they are
    trained, moved between devices and saved in ``state_dict`` (MultiBench kept
    them in a plain Python list, so none of that happened).

    Parameters
    ----------
    rank : int
        Number of rank-one terms ``r``.

    Examples
    --------
    >>> model = LowRankTensorFusion([5, 3], latent_dim=4, n_outputs=2, hidden_dim=8, rank=3)
    >>> [tuple(w.shape) for w in model.factors]
    [(3, 5, 8), (3, 5, 8)]
    """

    def __init__(self, in_dims, latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128, rank: int = 4):
        super().__init__(in_dims, latent_dim, n_outputs, hidden_dim)
        self.rank = _positive_int(rank, "rank")
        d1, h = self.latent_dim + 1, self.hidden_dim
        # each factor output [z, 1] W has O(1) entries, so the product over modalities stays O(1)
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(self.rank, d1, h) / math.sqrt(d1)) for _ in range(self.n_modalities)
        )
        self.fusion_weights = nn.Parameter(torch.empty(1, self.rank))
        nn.init.xavier_normal_(self.fusion_weights)
        self.fusion_bias = nn.Parameter(torch.zeros(1, h))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(h, self.n_outputs))

    def fused(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fused vector ``h`` before the ReLU, shape ``(B, hidden_dim)``."""
        self.check_codes(Zs)
        prod = None
        for z, w in zip(Zs, self.factors):
            term = torch.einsum("bi,rih->brh", append_one(z), w)
            prod = term if prod is None else prod * term
        return torch.einsum("brh,r->bh", prod, self.fusion_weights[0]) + self.fusion_bias

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.head(self.fused(Zs))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"
