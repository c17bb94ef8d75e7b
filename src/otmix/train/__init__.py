"""Training loops of otmix: explicit loops, history dicts, no hidden state."""

from .cluster import ClusterConfig, train_clustering

__all__ = ["ClusterConfig", "train_clustering"]
