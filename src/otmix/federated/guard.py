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
    """Refuse replies that carry exact copies of the raw view ``X``.

    Caught: X whole (any shape it is reshaped to, or transposed), and any full row or
    full column of it, anywhere in an array (as a row of the array's last axis). All
    comparisons are made in float32 on both sides, so a float32 copy, a float64 copy of
    float32-rounded data, or an integer copy of integer data are caught alike. Not
    caught, by design of an exact check: transformed data (scaled, negated, permuted
    columns, partial rows or columns) — the guard stops accidents and naive leaks, it
    is not a privacy proof.

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
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"the guard needs the raw view as a 2-D array, got shape {X.shape}")
        self.X = X.astype(np.float32)
        self._keys: dict[int, set[bytes]] = {}

    def _lines(self, width: int) -> set[bytes]:
        """Byte keys (float32) of X's rows (width D) and columns (width N)."""
        if width not in self._keys:
            keys: set[bytes] = set()
            if width == self.X.shape[1]:
                keys |= _row_keys(self.X)
            if width == self.X.shape[0]:
                keys |= _row_keys(self.X.T)
            self._keys[width] = keys
        return self._keys[width]

    def check_array(self, key: str, array: Any) -> None:
        """Raise :class:`EgressViolation` if ``array`` carries raw data; values that are not numbers pass."""
        a = np.asarray(array)
        if a.dtype.kind not in "fiub" or a.ndim == 0 or a.size == 0:
            return
        what = f"reply array {key!r} (shape {a.shape}, {a.dtype})"
        flat = a.astype(np.float32).ravel()
        if flat.size == self.X.size:
            if np.array_equal(flat, self.X.ravel()):
                raise EgressViolation(f"{what} equals the raw data")
            if np.array_equal(flat, self.X.T.ravel()):
                raise EgressViolation(f"{what} equals the transposed raw data")
        width = a.shape[-1]
        keys = self._lines(width)
        if keys and any(row.tobytes() in keys for row in np.ascontiguousarray(flat.reshape(-1, width))):
            kind = "rows" if width == self.X.shape[1] else "columns"
            raise EgressViolation(f"{what} carries {kind} of the raw data")

    def check(self, arrays: Mapping[str, Any]) -> None:
        """Check every value of a reply (arrays, lists of numbers); logs and raises on the first violation."""
        for key, array in arrays.items():
            try:
                self.check_array(key, array)
            except EgressViolation as exc:
                LOG.error("egress guard refused a reply: %s", exc)
                raise


class AuditLog:
    """Append-only JSON-lines record of every array the server received.

    One line per received value: ``{"time", "round", "node", "modality", "message", "record"
    ("array", "config" or "metric"), "key", "shape", "dtype", "bytes"}``. Each line is written
    and flushed on its own, so a stopped run leaves a readable log.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, round_: int, node: int, modality: int | None, message: str,
               values: Iterable[tuple[str, Any]], record: str = "array") -> int:
        """Log the values of one reply (``record``: "array", "config" or "metric"); returns their size in bytes."""
        total = 0
        with self.path.open("a", encoding="utf-8") as handle:
            for key, value in values:
                a = np.asarray(value)
                total += a.nbytes
                handle.write(json.dumps({
                    "time": round(time.time(), 3), "round": int(round_), "node": int(node),
                    "modality": None if modality is None else int(modality), "message": message,
                    "record": record, "key": key, "shape": list(a.shape), "dtype": str(a.dtype),
                    "bytes": int(a.nbytes),
                }) + "\n")
        return total

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
