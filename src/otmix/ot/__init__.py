"""Optimal-transport solvers of otmix: FGW, FGW barycenter, stochastic mixing, GW clustering,
and the side information that makes unaligned views alignable (links, labels, alignment).

Pure solvers: numpy arrays or torch tensors in, the same type, dtype and device out.
Nothing here imports the rest of otmix, nor torch, POT or scikit-learn at import time:
the other names are imported on first use (PEP 562), torch is only used when the caller
passes tensors, and POT only where exact OT with unequal sizes is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# These two functions share their submodule's name: importing the submodule (from anywhere)
# would set the package attribute to the module, so they are bound here, once, eagerly.
from .fgw import fgw as fgw
from .gw_cluster import gw_cluster as gw_cluster

_WHERE = {
    "Alignability": "align",
    "AlignResult": "align",
    "ALIGNABLE_THRESHOLD": "align",
    "BarycenterResult": "barycenter",
    "FGWResult": "fgw",
    "GWClusterResult": "gw_cluster",
    "align_views": "align",
    "binary_masks": "mixing",
    "feature_cost": "structure",
    "fgw_barycenter": "barycenter",
    "fgw_objective": "fgw",
    "gaussian_kernel": "gw_cluster",
    "gw_cluster_loss": "gw_cluster",
    "link_cost": "links",
    "link_features": "links",
    "plan_agreement": "align",
    "push_back": "mixing",
    "pushforward": "mixing",
    "relative_descriptors": "links",
    "stochastic_mix": "mixing",
    "structure_matrix": "structure",
    "transfer_labels": "gw_cluster",
}

__all__ = sorted([*_WHERE, "fgw", "gw_cluster"])


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'otmix.ot' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access skips this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
