"""Multimodal factorization model (MFM), compact version."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import FusionModel, mlp


class MFM(FusionModel):
    """Factorise into modality-specific codes and one shared multimodal factor.

    The encoder codes ``Z_m`` are the modality-specific (generative) factors. A
    shared discriminative factor ``F_y`` is computed from all codes, the
    prediction is made from ``F_y`` alone, and each modality is reconstructed from
    ``F_y`` and its own code:

    .. math:: F_y = s([Z_1, \\dots, Z_M]),\\qquad \\hat y = c(F_y),\\qquad
              \\hat X_m = g_m([F_y, Z_m]),

    .. math:: L_{aux} = \\lambda\\,\\frac{1}{M} \\sum_{m=1}^{M} \\mathrm{MSE}(\\hat X_m, X_m)

    with MLPs ``s: R^{Md} -> R^d`` (``shared``), ``c: R^d -> R^{n_out}`` (``head``)
    and ``g_m: R^{2d} -> R^{D_m}`` (``decoders``), and ``λ = reconstruction_weight``.
    Compact deterministic version of Tsai et al. 2019, "Learning Factorized
    Multimodal Representations", ICLR (arXiv 2018); the Wasserstein prior matching
    of the original is left to the trainer's own latent losses.

    Parameters
    ----------
    reconstruction_weight : float
        Factor ``λ`` of the reconstruction loss returned by :meth:`auxiliary_loss`.

    Examples
    --------
    >>> import torch
    >>> model = MFM([5, 3], latent_dim=4, n_outputs=2, hidden_dim=8)
    >>> Xs = [torch.randn(6, 5), torch.randn(6, 3)]
    >>> bool(model.auxiliary_loss(Xs, model.encode_all(Xs)) > 0)
    True
    """

    def __init__(
        self,
        in_dims,
        latent_dim: int = 32,
        n_outputs: int = 10,
        hidden_dim: int = 128,
        reconstruction_weight: float = 1.0,
    ):
        super().__init__(in_dims, latent_dim, n_outputs, hidden_dim)
        if not reconstruction_weight >= 0:
            raise ValueError(f"reconstruction_weight must be >= 0, got {reconstruction_weight!r}")
        self.reconstruction_weight = float(reconstruction_weight)
        d, h = self.latent_dim, self.hidden_dim
        self.shared = mlp(self.n_modalities * d, h, d)
        self.head = mlp(d, h, self.n_outputs)
        self.decoders = nn.ModuleList(mlp(2 * d, h, dim) for dim in self.in_dims)

    def shared_factor(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The shared multimodal factor ``F_y``, shape ``(B, d)``."""
        self.check_codes(Zs)
        return self.shared(torch.cat(list(Zs), dim=1))

    def reconstruct(self, Zs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Reconstructions ``g_m([F_y, Z_m])`` of every modality, shapes ``(B, D_m)``."""
        fy = self.shared_factor(Zs)
        return [dec(torch.cat([fy, z], dim=1)) for dec, z in zip(self.decoders, Zs)]

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.head(self.shared_factor(Zs))

    def auxiliary_loss(self, Xs: Sequence[torch.Tensor], Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``λ`` times the mean over modalities of ``MSE(g_m([F_y, Z_m]), X_m)``."""
        self.check_inputs(Xs)
        recs = self.reconstruct(Zs)
        if recs[0].shape[0] != Xs[0].shape[0]:
            raise ValueError(f"batch sizes disagree: inputs have {Xs[0].shape[0]} rows, codes {recs[0].shape[0]}")
        loss = torch.stack([F.mse_loss(r, x) for r, x in zip(recs, Xs)]).mean()
        return self.reconstruction_weight * loss

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reconstruction_weight={self.reconstruction_weight}"
