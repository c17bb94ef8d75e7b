"""otmix: robust multi-modal learning on unaligned, distributed data.

Each agent encodes its own modality; a server mixes the latent codes through a
stochastic fused Gromov-Wasserstein (FGW) barycenter. The solvers live in
:mod:`otmix.ot`, the clustering estimator is :class:`otmix.OTMClustering`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["OTMClustering", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `otmix --version` and the solvers should not pay for importing torch.
    if name == "OTMClustering":
        from .estimators import OTMClustering

        return OTMClustering
    raise AttributeError(f"module 'otmix' has no attribute {name!r}")
