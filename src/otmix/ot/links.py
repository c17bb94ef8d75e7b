r"""Features that linked records make comparable across views (for the Wasserstein term).

Codes of independently encoded views live in unrelated coordinates, so the FGW
feature cost :math:`\|z_i - z'_j\|^2` means nothing across them. Links — rows known to
be the same entity in several views — give two ways to compare rows anyway:

**Relative descriptors** (keypoint-guided OT, Gu et al. NeurIPS 2022; relative
representations, Moschella et al. ICLR 2023). Each row of view :math:`m` is described
by its similarity to its own view's linked rows :math:`\ell^m_1, \dots, \ell^m_K`
(the same K entities in every view):

.. math::

    r^m(z)_k = \frac{\exp(-\|z - \ell^m_k\|^2 / \tau_m)}
                    {\sum_{k'} \exp(-\|z - \ell^m_{k'}\|^2 / \tau_m)},

with :math:`\tau_m` the median squared distance of view m's rows to its linked rows
(times ``temperature``). Entry k means "how close to entity k" in every view, so
descriptors are comparable whatever each view's coordinates.

**Mapped codes.** A ridge regression fitted on the linked pairs maps every view into
the coordinates of a reference view :math:`r` (the one with the most links):
:math:`W_m = \arg\min_W \|Z_m[L] W - Z_r[L]\|^2 + \lambda \|W\|^2` (``ridge`` =
:math:`\lambda` relative to the mean squared norm of the linked codes), and row z of
view m is compared as :math:`z W_m`.

``kind="both"`` (the default) concatenates the two, each part scaled to unit mean
squared norm (the descriptors of all views together, the mapped codes view by view),
so the feature cost is the sum of the two costs, each weighing about the same.
Measured (``benchmarks/align_probe.py``, 3 seeds, PCA-32 codes, 10 % links, one exact
assignment on the cost with the links fixed): the share of plan mass joining rows of one
class over the unlinked rows, mean over view pairs:

==============  ========  =================  ========  ===========
cost            digits2   orl4 (6 pairs)     movies    prokaryotic
==============  ========  =================  ========  ===========
relative        0.546     0.514              0.145     0.437
mapped          0.535     0.509              0.131     0.410
both            0.549     0.527              0.136     0.418
chance          0.100     0.025              0.063     0.395
==============  ========  =================  ========  ===========

Other descriptors measured on orl4 and digits2 and dropped: cosine similarities
(relative representations proper), per-row temperatures, z-scored link distances,
ranks, k nearest links, label propagation of link identities on each view's k-NN
graph, orthogonal Procrustes and CCA maps, cluster-level link votes, bootstrapped
pseudo-links, entropic plans: none did better on every data set, most did worse
(``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._backend import to_numpy
from ._constraints import check_links
from ._validation import check_codes
from .structure import feature_cost

KINDS = ("relative", "mapped", "both")


def relative_descriptors(Z: Any, linked_rows: Any, temperature: float = 1.0) -> np.ndarray:
    r"""Softmax of negative squared distances to the view's own linked rows (module docstring).

    Parameters
    ----------
    Z : array of shape (n, d)
        Codes of one view.
    linked_rows : int array of shape (K,)
        Rows of ``Z`` that are linked entities, in the entities' order (the same order
        in every view).
    temperature : float > 0
        Multiplies the bandwidth :math:`\tau` (the median squared distance to the linked rows).

    Returns
    -------
    ndarray of shape (n, K)
        Rows summing to one.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[0.0], [1.0], [5.0]])
    >>> relative_descriptors(Z, [0, 2]).round(3)
    array([[0.95 , 0.05 ],
           [0.854, 0.146],
           [0.05 , 0.95 ]])
    """
    Z = to_numpy(Z)
    rows = np.asarray(linked_rows, dtype=np.int64)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if rows.size < 1:
        raise ValueError("relative descriptors need at least one linked row")
    D2 = feature_cost(Z, Z[rows])
    tau = float(np.median(D2)) * float(temperature)
    if tau <= 0:
        tau = float(D2.max()) * float(temperature) or 1.0
    S = -D2 / tau
    S -= S.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=1, keepdims=True)
    return S


def _unit_scale(Fs: list[np.ndarray]) -> list[np.ndarray]:
    """Scale a list of feature blocks together to a pooled mean squared norm of one (after centring)."""
    pooled = np.concatenate(Fs)
    scale = np.sqrt(np.mean(np.sum((pooled - pooled.mean(axis=0)) ** 2, axis=1)))
    return [F / scale for F in Fs] if scale > 0 else Fs


def _ridge_maps(Zs: list[np.ndarray], links: np.ndarray, ridge: float) -> tuple[list[np.ndarray], int]:
    """Ridge maps of every view onto the coordinates of the view with the most links."""
    counts = (links >= 0).sum(axis=0)
    ref = int(np.argmax(counts))
    maps = []
    for m, Z in enumerate(Zs):
        if m == ref:
            maps.append(np.eye(Z.shape[1]))
            continue
        both = (links[:, m] >= 0) & (links[:, ref] >= 0)
        if not both.any():
            raise ValueError(f"view {m} shares no linked entity with the reference view {ref}; "
                             "mapped features need one")
        X, Y = Z[links[both, m]], Zs[ref][links[both, ref]]
        lam = ridge * max(float(np.mean(np.sum(X * X, axis=1))), 1e-300)
        maps.append(np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y))
    return maps, ref


def link_features(
    Zs: Sequence[Any], links: Any, kind: str = "both", temperature: float = 1.0, ridge: float = 1.0
) -> list[np.ndarray]:
    """Features comparable across views, from linked records (module docstring).

    Parameters
    ----------
    Zs : list of arrays of shape (N_m, d)
        Codes of every view (views may have different lengths).
    links : int array of shape (n_links, M)
        Row of every linked entity in every view (``-1``: absent), as for
        :func:`otmix.ot.fgw_barycenter`.
    kind : {"both", "relative", "mapped"}
        Relative descriptors, ridge-mapped codes, or both concatenated (default: what
        aligned best in the measurements of the module docstring).
    temperature : float
        Bandwidth factor of the relative descriptors.
    ridge : float
        Ridge penalty of the maps, relative to the linked codes' mean squared norm.

    Returns
    -------
    list of ndarray of shape (N_m, f)
        One feature matrix per view, to pass as ``features=`` to
        :func:`otmix.ot.fgw_barycenter` (or, for two views, see :func:`link_cost`).
        Relative descriptors use the entities present in every view; at least one
        is needed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z0 = rng.normal(size=(30, 3)); perm = rng.permutation(30)
    >>> Z1 = Z0[perm] @ np.linalg.qr(rng.normal(size=(3, 3)))[0]   # rotated, permuted copy
    >>> links = np.stack([np.arange(5), np.argsort(perm)[:5]], axis=1)
    >>> F0, F1 = link_features([Z0, Z1], links, kind="relative")
    >>> bool(np.allclose(F0, F1[np.argsort(perm)]))   # twins get the same descriptor
    True
    >>> [F.shape for F in link_features([Z0, Z1], links)]   # both: 5 descriptors + 3 mapped coordinates
    [(30, 8), (30, 8)]
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    Zs_np = [to_numpy(Z) for Z in Zs]
    check_codes(Zs_np)
    links_ = check_links(links, [Z.shape[0] for Z in Zs_np])
    if not ridge >= 0:
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    parts: list[list[np.ndarray]] = []
    if kind in ("relative", "both"):
        complete = np.all(links_ >= 0, axis=1)
        if not complete.any():
            raise ValueError("relative descriptors need at least one entity linked in every view")
        parts.append(_unit_scale([relative_descriptors(Z, links_[complete, m], temperature)
                                  for m, Z in enumerate(Zs_np)]))
    if kind in ("mapped", "both"):
        maps, _ = _ridge_maps(Zs_np, links_, ridge)
        parts.append([_unit_scale([Z @ W])[0] for Z, W in zip(Zs_np, maps)])  # each view on its own: the
        # ridge shrinks the mapped views, not the reference
    return [np.hstack([part[m] for part in parts]) for m in range(len(Zs_np))]


def link_cost(Za: Any, Zb: Any, links: Any, kind: str = "both", **kwargs: Any) -> np.ndarray:
    """Feature cost between two views from their links: squared distances of :func:`link_features`.

    For :func:`otmix.ot.fgw` with ``links=``: ``fgw(link_cost(Za, Zb, links), A, B, links=links)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> Z = rng.normal(size=(10, 2))
    >>> C = link_cost(Z, Z, np.array([[0, 0], [1, 1], [2, 2]]), kind="relative")
    >>> C.shape, bool(np.allclose(np.diag(C), 0.0))
    ((10, 10), True)
    """
    Fa, Fb = link_features([Za, Zb], links, kind=kind, **kwargs)
    return feature_cost(Fa, Fb)
