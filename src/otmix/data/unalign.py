"""The unaligned setting: shuffle the rows of every view independently, labels moving with their rows."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .views import check_views


def _partial_permutation(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) that shuffles round(rate * n) randomly chosen positions among themselves."""
    perm = np.arange(n)
    k = int(round(rate * n))
    if k >= 2:
        chosen = np.sort(rng.choice(n, size=k, replace=False))
        perm[chosen] = chosen[rng.permutation(k)]
    return perm


def unalign(
    Xs: Sequence[Any],
    ys: Sequence[Any] | np.ndarray | None = None,
    rate: float = 1.0,
    random_state: int | np.random.Generator | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray] | None, list[np.ndarray]]:
    """Permute the rows of every view independently, so row i of one view no longer matches row i of another.

    Parameters
    ----------
    Xs : list of array-likes of shape (n_samples[m], n_features[m])
    ys : None, list of 1-D label arrays (one per view) or one shared label vector
        Labels move with their rows, so each view keeps its own correct labels.
    rate : float in [0, 1]
        Fraction of the rows of each view that is shuffled: ``round(rate * n_samples[m])``
        randomly chosen rows are permuted among themselves, the others stay in place.
    random_state : int, Generator or None
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Xs : list of float64 ndarrays
        ``Xs_out[m] = Xs[m][perms[m]]``.
    ys : list of ndarrays or None
        ``ys_out[m] = ys[m][perms[m]]``, with the labels' original values.
    perms : list of int ndarrays
        The permutation applied to each view.

    Examples
    --------
    >>> X = np.arange(5.0)[:, None]
    >>> Xs, ys, perms = unalign([X, X], [np.arange(5), np.arange(5)], random_state=0)
    >>> all(np.array_equal(X[:, 0], y) for X, y in zip(Xs, ys))
    True
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be a number in [0, 1], got {rate!r}")
    Xs, codes = check_views(Xs, ys)
    rng = np.random.default_rng(random_state)
    perms = [_partial_permutation(X.shape[0], float(rate), rng) for X in Xs]
    out = [X[p] for X, p in zip(Xs, perms)]
    if codes is None:
        return out, None, perms
    if isinstance(ys, (list, tuple)) and all(np.ndim(y) > 0 for y in ys):
        raw = [np.asarray(y).ravel() for y in ys]
    else:  # one vector shared by all views
        raw = [np.asarray(ys).ravel()] * len(Xs)
    return out, [y[p] for y, p in zip(raw, perms)], perms
