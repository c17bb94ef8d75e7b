"""Cost and structure matrices built from latent codes."""

from __future__ import annotations

from typing import Literal

import numpy as np

Structure = Literal["euclidean", "sqeuclidean"]
STRUCTURES: tuple[str, ...] = ("euclidean", "sqeuclidean")


def check_structure_kind(structure: str) -> str:
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    return structure


def _sq_distances(X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances by one matrix product: ``|x|^2 + |y|^2 - 2 x.y``, clipped at 0.

    About ten times faster than ``cdist`` for d in the tens; the cancellation error
    (relative ~1e-15 of the squared norms) is far below the solvers' tolerances.
    """
    sx = np.einsum("ij,ij->i", X, X)
    if Y is None:
        sq = X @ X.T  # numpy uses a symmetric product: the result is exactly symmetric
        sq *= -2.0
        sq += sx[:, None]
        sq += sx[None, :]
        np.fill_diagonal(sq, 0.0)
    else:
        sy = np.einsum("ij,ij->i", Y, Y)
        sq = X @ Y.T
        sq *= -2.0
        sq += sx[:, None]
        sq += sy[None, :]
    np.maximum(sq, 0.0, out=sq)
    return sq


def structure_matrix(Z: np.ndarray, structure: str = "euclidean") -> np.ndarray:
    """Pairwise distances within one code set, ``A_ik = d(z_i, z_k)`` (or its square).

    Parameters
    ----------
    Z : ndarray of shape (n, d)
    structure : {"euclidean", "sqeuclidean"}

    Returns
    -------
    ndarray of shape (n, n), symmetric with a zero diagonal.
    """
    check_structure_kind(structure)
    A = _sq_distances(np.asarray(Z, dtype=np.float64))
    if structure == "euclidean":
        np.sqrt(A, out=A)
    return A


def feature_cost(Z: np.ndarray, Zm: np.ndarray) -> np.ndarray:
    """Squared Euclidean cost ``D_ij = ||z_i - z_{m,j}||^2`` between two code sets."""
    return _sq_distances(np.asarray(Z, dtype=np.float64), np.asarray(Zm, dtype=np.float64))
