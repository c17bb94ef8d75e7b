"""Neural models of otmix (no training code here)."""

from .wae import MWAE, ViewAutoencoder

__all__ = ["MWAE", "ViewAutoencoder"]
