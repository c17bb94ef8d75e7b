"""Exact linear minimisation oracle over the transport polytope Π(p, q).

A vertex of Π(p, q) is returned in coordinate form (rows, cols, values): an
assignment has n entries and a network-simplex basis at most n + m - 1, so every
product with a vertex is a gather, never a dense n x m pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

# Network simplex iterations: POT's default (1e5) is reached near n = 2048 and then
# returns a suboptimal plan. This bound is far above what an exact solve needs.
EMD_MAX_ITER = 1_000_000_000


@dataclass(frozen=True)
class Vertex:
    """A sparse transport plan: ``T[rows[k], cols[k]] = values[k]``."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    perm: np.ndarray | None = None  # ``cols`` when the vertex is known to be ``P_sigma / n`` (skips the checks)

    def inner(self, X: np.ndarray) -> float:
        """``<X, T>`` for a dense ``X`` of the plan's shape."""
        return float(self.values @ X[self.rows, self.cols])

    def right_product(self, B: np.ndarray) -> np.ndarray:
        """``T @ B`` as a dense (n x B.shape[1]) array."""
        n = self.shape[0]
        if self.perm is not None:
            out = np.take(B, self.cols, axis=0)
            out *= self.values[0]
            return out
        if self.rows.shape[0] == n and np.array_equal(self.rows, np.arange(n)):
            out = np.take(B, self.cols, axis=0)
            if np.all(self.values == self.values[0]):
                out *= self.values[0]
            else:
                out *= self.values[:, None]
            return out
        return self.to_sparse() @ B

    def is_permutation(self) -> bool:
        """True for ``P_sigma / n``: one equal entry in every row, rows in order."""
        if self.perm is not None:
            return True
        return permutation_of(self.rows, self.cols, self.values, self.shape) is not None

    def to_sparse(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=self.shape)


@dataclass(frozen=True)
class PermutationPlan:
    """The plan ``P_sigma / n`` of shape (n, n): ``T[i, perm[i]] = scale`` (``scale = 1/n``).

    What a conditional-gradient solve hands its caller when it ends on one assignment vertex
    (the usual case with equal sizes): comparing, applying and evaluating it are gathers.
    """

    perm: np.ndarray
    scale: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.perm.size, self.perm.size)

    def __matmul__(self, X: np.ndarray) -> np.ndarray:
        """``T @ X``: the rows ``X[perm]`` times ``scale``, as a sparse product would round them."""
        return self.scale * X[self.perm]

    def to_csr(self) -> sp.csr_array:
        import scipy.sparse as sp

        n = self.perm.size
        return sp.csr_array((np.full(n, self.scale), self.perm, np.arange(n + 1)), shape=(n, n))

    def toarray(self) -> np.ndarray:
        n = self.perm.size
        T = np.zeros((n, n))
        T[np.arange(n), self.perm] = self.scale
        return T


def permutation_of(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> np.ndarray | None:
    """``sigma`` (int64) when the entries ``(rows, cols, values)`` form ``P_sigma / n``: a
    square plan with one equal entry in every row, rows in order; else None."""
    n = shape[0]
    if rows.shape[0] == n == shape[1] and np.array_equal(rows, np.arange(n)) and np.all(values == values[0]):
        return cols.astype(np.int64)
    return None


def is_uniform(w: np.ndarray) -> bool:
    return bool(np.all(w == w[0]))


def exact_lmo(
    cost: np.ndarray, p: np.ndarray, q: np.ndarray, duals: np.ndarray | None = None
) -> tuple[Vertex, np.ndarray | None]:
    """Return ``argmin_{T in Π(p, q)} <cost, T>`` exactly, and duals for a warm start.

    Equal sizes with uniform weights: the optimum is a permutation matrix / n, found
    by a shortest-augmenting-path assignment solver that can start from the column
    duals of a previous, similar cost (``duals``); its new duals are returned.
    Otherwise: POT's network simplex with an iteration bound high enough never to
    bind; a solve that still stops early raises ``RuntimeError`` instead of
    returning a silently suboptimal plan (duals: None).
    """
    n, m = cost.shape
    if n == m and is_uniform(p) and is_uniform(q):
        from ._assignment import solve_assignment  # compiled kernels: imported on first use

        cols, duals = solve_assignment(cost, duals)
        return Vertex(np.arange(n), cols, np.full(n, float(p[0])), (n, m)), duals
    shifted = cost - cost.min()  # constant shifts keep the argmin on Π(p, q)
    import ot  # POT takes seconds to import: only when needed

    plan, log = ot.emd(p, q, shifted, numItermax=EMD_MAX_ITER, log=True)
    if log.get("result_code", 1) != 1:
        raise RuntimeError(f"exact OT failed: {log.get('warning')}")
    rows, cols = np.nonzero(plan)
    return Vertex(rows, cols, plan[rows, cols], (n, m)), None
