"""Training loops of otmix: explicit loops, history dicts, no hidden state.

Names are imported on first use, so that light modules of this package (``index_stream``)
do not pull in the solvers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterConfig", "train_clustering"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
