"""otmix: robust multi-modal learning on unaligned, distributed data.

Each agent encodes its own modality; a server mixes the latent codes through a
stochastic fused Gromov-Wasserstein (FGW) barycenter. The solvers live in
:mod:`otmix.ot`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
