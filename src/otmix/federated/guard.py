"""Egress guard and audit log: raw data never leaves an agent, and the server records what it received.

:func:`check_egress` is applied by the agent to every array of every reply (as a Flower
mod in :mod:`otmix.federated.client_app`); it refuses an array that equals the agent's
raw view X, its transpose, or that contains a row or a column of X (compared after
casting X to the array's dtype, so a float32 copy of float64 data is caught too).
:class:`AuditLog` is the server's JSON-lines record of the key, shape, dtype and size of
every array it received.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

LOG = logging.getLogger("otmix.federated.guard")


class EgressViolation(RuntimeError):
    """An agent's reply would have carried its raw data."""


def _row_keys(M: np.ndarray) -> set[bytes]:
    return {np.ascontiguousarray(row).tobytes() for row in M}


class EgressGuard:
    """Refuse replies that carry the raw view ``X`` (whole, transposed, or any row or column).

    Parameters
    ----------
    X : array (N, D)
        The agent's raw data.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(4, 3)
    >>> guard = EgressGuard(X)
    >>> guard.check({"codes": np.zeros((4, 2), np.float32)})
    >>> guard.check({"leak": X[1:3].astype(np.float32)})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    otmix.federated.guard.EgressViolation: reply array 'leak' (shape (2, 3), float32) carries rows of the raw data
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = np.asarray(X)
        if self.X.ndim != 2:
            raise ValueError(f"the guard needs the raw view as a 2-D array, got shape {self.X.shape}")
        self._keys: dict[tuple[np.dtype, int], set[bytes]] = {}

    def _lines(self, dtype: np.dtype, width: int) -> set[bytes]:
        """Byte keys of X's rows (width D) and columns (width N) in ``dtype``."""
        if (dtype, width) not in self._keys:
            keys: set[bytes] = set()
            cast = self.X.astype(dtype, copy=False)
            if width == cast.shape[1]:
                keys |= _row_keys(cast)
            if width == cast.shape[0]:
                keys |= _row_keys(cast.T)
            self._keys[(dtype, width)] = keys
        return self._keys[(dtype, width)]

    def check_array(self, key: str, array: Any) -> None:
        """Raise :class:`EgressViolation` if ``array`` carries raw data; numbers of other kinds pass."""
        a = np.asarray(array)
        if a.dtype.kind not in "fiu" or a.size == 0:
            return
        what = f"reply array {key!r} (shape {a.shape}, {a.dtype})"
        cast = self.X.astype(a.dtype, copy=False)
        if a.shape == cast.shape and np.array_equal(a, cast):
            raise EgressViolation(f"{what} equals the raw data")
        if a.shape == cast.T.shape and np.array_equal(a, cast.T):
            raise EgressViolation(f"{what} equals the transposed raw data")
        if a.ndim == 0:
            return
        width = a.shape[-1]
        keys = self._lines(a.dtype, width)
        if keys and any(np.ascontiguousarray(row).tobytes() in keys for row in a.reshape(-1, width)):
            kind = "rows" if width == self.X.shape[1] else "columns"
            raise EgressViolation(f"{what} carries {kind} of the raw data")

    def check(self, arrays: Mapping[str, Any]) -> None:
        """Check every array of a reply; logs and raises on the first violation."""
        for key, array in arrays.items():
            try:
                self.check_array(key, array)
            except EgressViolation as exc:
                LOG.error("egress guard refused a reply: %s", exc)
                raise


class AuditLog:
    """Append-only JSON-lines record of every array the server received.

    One line per array: ``{"time", "round", "node", "modality", "message", "key", "shape",
    "dtype", "bytes"}``. Each line is written and flushed on its own, so a stopped run
    leaves a readable log.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, round_: int, node: int, modality: int | None, message: str,
               arrays: Iterable[tuple[str, np.ndarray]]) -> int:
        """Log the arrays of one reply; returns their total size in bytes."""
        total = 0
        with self.path.open("a", encoding="utf-8") as handle:
            for key, array in arrays:
                a = np.asarray(array)
                total += a.nbytes
                handle.write(json.dumps({
                    "time": round(time.time(), 3), "round": int(round_), "node": int(node),
                    "modality": None if modality is None else int(modality), "message": message, "key": key,
                    "shape": list(a.shape), "dtype": str(a.dtype), "bytes": int(a.nbytes),
                }) + "\n")
        return total

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
