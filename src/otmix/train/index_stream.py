"""Endless shuffled passes over the rows of one view (numpy only, so agents import it cheaply)."""

from __future__ import annotations

import numpy as np


class IndexStream:
    """Endless stream of shuffled indices of one view: every row once per pass, a new order each pass."""

    def __init__(self, n_rows: int, rng: np.random.Generator) -> None:
        self.n_rows, self.rng = n_rows, rng
        self.order, self.pos = rng.permutation(n_rows), 0

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` indices (``k = 0``: an empty array, nothing drawn)."""
        out = [np.zeros(0, dtype=np.int64)]
        while k > 0:
            if self.pos == self.n_rows:
                self.order, self.pos = self.rng.permutation(self.n_rows), 0
            chunk = self.order[self.pos:self.pos + k]
            self.pos += len(chunk)
            k -= len(chunk)
            out.append(chunk)
        return np.concatenate(out)


def fill_batch(linked: np.ndarray, free: np.ndarray, stream: IndexStream, size: int) -> np.ndarray:
    """A batch of ``size`` rows: ``linked`` first, then unlinked rows ``free[stream.take(...)]`` (as many as
    there are, if fewer): the batches of the in-process sampler and of a federated agent alike."""
    rest = min(max(0, int(size) - linked.size), free.size)
    return np.concatenate([linked, free[stream.take(rest)]]).astype(np.int64)
