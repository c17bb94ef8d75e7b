"""Base class of the fusion models: one MLP encoder per modality into a shared latent width, then a fusion."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """``Linear(in_dim, hidden_dim) - ReLU - Linear(hidden_dim, out_dim)``."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


def _positive_int(value: int, name: str) -> int:
    if int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class FusionModel(nn.Module):
    """Per-modality encoders ``f_m: R^{D_m} -> R^d`` of one shared width ``d``, followed by a fusion.

    The split into :meth:`encode` and :meth:`fuse` lets a trainer replace the codes
    ``Z_m = f_m(X_m)`` (for example by optimal-transport mixed codes ``Z̃_m``) before
    fusing them: ``forward(Xs) = fuse([f_1(X_1), ..., f_M(X_M)])``.

    Parameters
    ----------
    in_dims : sequence of int
        Number of features ``D_m`` of each modality; inputs are flat ``(B, D_m)`` tensors.
    latent_dim : int
        Shared code width ``d``.
    n_outputs : int
        Number of classes (logits) for classification, 1 for regression.
    hidden_dim : int
        Hidden width of the encoders and of the fusion networks.

    Raises
    ------
    ValueError
        If ``in_dims`` is empty or any of the widths is smaller than 1.
    """

    def __init__(self, in_dims: Sequence[int], latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128):
        super().__init__()
        in_dims = list(in_dims)
        if len(in_dims) == 0:
            raise ValueError("in_dims is empty: a fusion model needs at least one modality")
        self.in_dims = [_positive_int(d, f"in_dims[{m}]") for m, d in enumerate(in_dims)]
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.n_outputs = _positive_int(n_outputs, "n_outputs")
        self.hidden_dim = _positive_int(hidden_dim, "hidden_dim")
        self.encoders = nn.ModuleList(mlp(d, self.hidden_dim, self.latent_dim) for d in self.in_dims)

    @property
    def n_modalities(self) -> int:
        """Number of modalities ``M``."""
        return len(self.in_dims)

    # ------------------------------------------------------------------ checks
    def _check_list(self, tensors: Sequence[torch.Tensor], widths: Sequence[int], what: str) -> None:
        if len(tensors) != self.n_modalities:
            raise ValueError(f"expected {self.n_modalities} {what}, got {len(tensors)}")
        batch = None
        for m, (t, w) in enumerate(zip(tensors, widths)):
            if t.dim() != 2 or t.shape[1] != w:
                raise ValueError(f"{what} {m} must have shape (B, {w}), got {tuple(t.shape)}")
            if batch is None:
                batch = t.shape[0]
            elif t.shape[0] != batch:
                raise ValueError(f"batch sizes disagree: {what} 0 has {batch} rows, {what} {m} has {t.shape[0]}")

    def _check_index(self, m: int) -> int:
        if not -self.n_modalities <= m < self.n_modalities:
            raise IndexError(f"modality {m} out of range for {self.n_modalities} modalities")
        return m % self.n_modalities

    def check_inputs(self, Xs: Sequence[torch.Tensor]) -> None:
        """Raise ``ValueError`` unless ``Xs`` holds ``M`` tensors ``(B, D_m)`` with one batch size."""
        self._check_list(Xs, self.in_dims, "inputs")

    def check_codes(self, Zs: Sequence[torch.Tensor]) -> None:
        """Raise ``ValueError`` unless ``Zs`` holds ``M`` tensors ``(B, d)`` with one batch size."""
        self._check_list(Zs, [self.latent_dim] * self.n_modalities, "codes")

    # ------------------------------------------------------------------ API
    def encode(self, m: int, x: torch.Tensor) -> torch.Tensor:
        """Code ``Z_m = f_m(x)`` of modality ``m``, shape ``(B, latent_dim)``."""
        m = self._check_index(m)
        if x.dim() != 2 or x.shape[1] != self.in_dims[m]:
            raise ValueError(f"input {m} must have shape (B, {self.in_dims[m]}), got {tuple(x.shape)}")
        return self.encoders[m](x)

    def encode_all(self, Xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Codes of all modalities, a list of ``M`` tensors ``(B, latent_dim)``."""
        self.check_inputs(Xs)
        return [enc(x) for enc, x in zip(self.encoders, Xs)]

    def fuse(self, Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fuse ``M`` codes ``(B, d)`` into outputs ``(B, n_outputs)``; implemented by each subclass."""
        raise NotImplementedError

    def forward(self, Xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``fuse(encode_all(Xs))``, shape ``(B, n_outputs)``."""
        return self.fuse(self.encode_all(Xs))

    def auxiliary_loss(self, Xs: Sequence[torch.Tensor], Zs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Extra training loss of the model (a 0-d tensor); exactly 0 unless a subclass overrides it."""
        return Zs[0].new_zeros(()) if len(Zs) else torch.zeros(())

    def extra_repr(self) -> str:
        return f"in_dims={self.in_dims}, latent_dim={self.latent_dim}, n_outputs={self.n_outputs}"
