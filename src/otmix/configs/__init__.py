"""The fixed hyper-parameters that ship with otmix (``clustering.json``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["clustering_config"]


def clustering_config(name: str | None = None) -> dict[str, Any]:
    """The clustering hyper-parameters of a data set: the ``default`` block updated by the data set's own.

    ``None`` (or a name without its own block, such as a user file) gives the defaults.

    Examples
    --------
    >>> clustering_config()["mix"]
    'binary'
    """
    table = json.loads(resources.files(__name__).joinpath("clustering.json").read_text())
    config = dict(table["default"])
    config.update(table.get(name or "", {}))
    return config
