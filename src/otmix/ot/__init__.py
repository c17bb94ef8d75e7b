"""Optimal-transport solvers of otmix: FGW, FGW barycenter, stochastic mixing, GW clustering.

Pure solvers: numpy arrays or torch tensors in, the same type, dtype and device out.
Nothing here imports the rest of otmix.
"""

from .barycenter import BarycenterResult, fgw_barycenter
from .fgw import FGWResult, fgw, fgw_objective
from .gw_cluster import GWClusterResult, gaussian_kernel, gw_cluster, gw_cluster_loss, transfer_labels
from .mixing import binary_masks, push_back, pushforward, stochastic_mix
from .structure import feature_cost, structure_matrix

__all__ = [
    "BarycenterResult",
    "FGWResult",
    "GWClusterResult",
    "binary_masks",
    "feature_cost",
    "fgw",
    "fgw_barycenter",
    "fgw_objective",
    "gaussian_kernel",
    "gw_cluster",
    "gw_cluster_loss",
    "push_back",
    "pushforward",
    "stochastic_mix",
    "structure_matrix",
    "transfer_labels",
]
