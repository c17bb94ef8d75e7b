"""Multimodal fusion models with per-modality codes of one shared width (for the optimal-transport mixer).

Every model is a :class:`FusionModel`: ``encode(m, X_m) -> Z_m`` of width
``latent_dim``, then ``fuse([Z_1, ..., Z_M]) -> (B, n_outputs)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import FusionModel
from .heads import ModalityHeads
from .late import LateFusion
from .lowrank import LowRankTensorFusion
from .mfm import MFM
from .mi import MultiplicativeInteractions
from .tensor import TensorFusion

FUSIONS = ("late", "tf", "lrtf", "mfm", "mi")

_CLASSES: dict[str, type[FusionModel]] = {
    "late": LateFusion,
    "tf": TensorFusion,
    "lrtf": LowRankTensorFusion,
    "mfm": MFM,
    "mi": MultiplicativeInteractions,
}


def make_fusion(
    name: str, in_dims: Sequence[int], latent_dim: int = 32, n_outputs: int = 10, hidden_dim: int = 128, **kwargs
) -> FusionModel:
    """Build the fusion model ``name`` (one of :data:`FUSIONS`).

    Extra keyword arguments go to the class (``rank`` for ``"lrtf"``,
    ``reconstruction_weight`` for ``"mfm"``).

    Examples
    --------
    >>> type(make_fusion("lrtf", [5, 3], latent_dim=4, n_outputs=2, hidden_dim=8, rank=2)).__name__
    'LowRankTensorFusion'
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown fusion {name!r}; choose one of {', '.join(FUSIONS)}")
    return _CLASSES[name](in_dims, latent_dim=latent_dim, n_outputs=n_outputs, hidden_dim=hidden_dim, **kwargs)


__all__ = [
    "FUSIONS",
    "MFM",
    "FusionModel",
    "LateFusion",
    "LowRankTensorFusion",
    "ModalityHeads",
    "MultiplicativeInteractions",
    "TensorFusion",
    "make_fusion",
]
