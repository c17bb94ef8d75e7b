"""Data for otmix: synthetic generators (real datasets arrive with the clustering work)."""

from .synthetic import make_latent_views

__all__ = ["make_latent_views"]
