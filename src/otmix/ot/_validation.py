"""Input checks with one-line errors that name the problem."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_finite(name: str, arr: np.ndarray) -> None:
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf values")


def check_matrix(name: str, arr: np.ndarray, *, nonempty: bool = True) -> np.ndarray:
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got {arr.ndim} dimension(s) with shape {arr.shape}")
    if nonempty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    check_finite(name, arr)
    return arr


def check_structure(name: str, arr: np.ndarray, n: int, *, atol: float = 1e-8) -> np.ndarray:
    check_matrix(name, arr)
    if arr.shape != (n, n):
        raise ValueError(f"{name} must have shape ({n}, {n}), got {arr.shape}")
    scale = max(1.0, float(np.abs(arr).max()))
    if not np.allclose(arr, arr.T, rtol=0.0, atol=atol * scale):
        raise ValueError(f"{name} must be symmetric")
    return arr


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0) or not np.isfinite(alpha):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return alpha


def check_distribution(name: str, w: np.ndarray | None, n: int, *, rtol: float = 1e-6) -> np.ndarray:
    """Return a probability vector of length ``n`` (uniform when ``w`` is None)."""
    if w is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {w.shape[0]}")
    check_finite(name, w)
    if np.any(w < 0):
        raise ValueError(f"{name} has negative entries")
    total = w.sum()
    if abs(total - 1.0) > rtol:
        raise ValueError(f"{name} must sum to 1, sums to {total:.6g}")
    return w / total


def check_weights(weights: Sequence[float] | np.ndarray | None, n_modalities: int) -> np.ndarray:
    """Modality weights λ_m: non-negative, summing to one (uniform when None)."""
    return check_distribution("weights", None if weights is None else np.asarray(weights), n_modalities)


def check_codes(Zs: Sequence[np.ndarray]) -> None:
    """Latent code matrices: a non-empty list of 2-D finite arrays sharing their width d."""
    if len(Zs) == 0:
        raise ValueError("Zs must hold at least one modality")
    for m, Z in enumerate(Zs):
        check_matrix(f"Zs[{m}]", Z)
    widths = {Z.shape[1] for Z in Zs}
    if len(widths) > 1:
        dims = [Z.shape[1] for Z in Zs]
        raise ValueError(f"all modalities must share the latent width d, got widths {dims}")
