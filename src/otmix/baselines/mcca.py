"""Regularised multi-set canonical correlation analysis (MCCA) followed by K-means."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from sklearn.cluster import KMeans

from ..params import check_int, check_real
from .base import MultiViewClusterer


def _sign_fix(vectors: np.ndarray) -> np.ndarray:
    """Flip every column so that its entry of largest magnitude is positive (a deterministic sign)."""
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def mcca_directions(Xs: list[np.ndarray], n_components: int, regularization: float
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    r"""Leading directions of regularised multi-set CCA (the SUMCOR generalised eigenproblem).

    With centred views :math:`X_m \in \mathbb R^{N\times D_m}`, covariances
    :math:`C_{ml} = X_m^\top X_l / N` and regularised auto-covariances

    .. math::

        R_m = (1-r)\, C_{mm} + r\, \tau_m I_{D_m}, \qquad \tau_m = \operatorname{tr}(C_{mm}) / D_m,

    solve the symmetric-definite generalised eigenproblem

    .. math::

        A w = \lambda B w, \qquad
        A = \begin{pmatrix} R_1 & C_{12} & \cdots \\ C_{21} & R_2 & \\ \vdots & & \ddots \end{pmatrix},
        \qquad B = \operatorname{diag}(R_1, \dots, R_M),

    and keep the eigenvectors of the ``n_components`` largest :math:`\lambda`. This is the
    relaxation of Kettenring's SUMCOR criterion that constrains the summed (not each
    view's) variance: :math:`\max_w \sum_{m,l} w_m^\top A_{ml} w_l` s.t.
    :math:`\sum_m w_m^\top R_m w_m = 1`. :math:`\lambda \in [0, M]`; for two views
    :math:`\lambda - 1` is the (regularised) canonical correlation. The scaling
    :math:`\tau_m` makes the result invariant to rescaling a view and to rotating its
    features (and to any invertible linear map of a view when :math:`r = 0`).

    A view wider than its rows is first expressed in the basis of its row space
    (:math:`X_m = U S V^\top`, :math:`w_m = V \tilde w_m`); every direction with
    :math:`\lambda \ne 1` lies in that space, so the leading directions are unchanged.

    Parameters
    ----------
    Xs : list of ndarrays of shape (n_samples, n_features[m])
        Aligned, centred views.
    n_components : int
        Number of directions :math:`k`.
    regularization : float in [0, 1]
        Shrinkage :math:`r` of every auto-covariance towards :math:`\tau_m I`.

    Returns
    -------
    weights : list of ndarrays of shape (n_features[m], k)
        Direction of every view, jointly normalised: :math:`\sum_m w_m^\top R_m w_m = 1`.
    eigenvalues : ndarray of shape (k,)
        :math:`\lambda_1 \ge \dots \ge \lambda_k`.

    Raises
    ------
    ValueError
        For a constant view, a singular auto-covariance at ``regularization=0``, or
        ``n_components`` above the size of the problem.
    """
    n_rows = Xs[0].shape[0]
    bases, reduced, blocks = [], [], []
    for m, X in enumerate(Xs):
        tau = float(np.einsum("ij,ij->", X, X)) / (n_rows * X.shape[1])
        if tau <= 0.0:
            raise ValueError(f"view {m} is constant; MCCA needs variance in every view")
        if X.shape[1] > n_rows:  # work in the row space: at most n_rows coordinates
            _, _, vt = np.linalg.svd(X, full_matrices=False)
            basis, Y = vt.T, X @ vt.T
        else:
            basis, Y = None, X
        bases.append(basis)
        reduced.append(Y)
        blocks.append((1.0 - regularization) * (Y.T @ Y) / n_rows + regularization * tau * np.eye(Y.shape[1]))
    sizes = [Y.shape[1] for Y in reduced]
    total = sum(sizes)
    if n_components > total:
        raise ValueError(f"n_components={n_components} exceeds {total}, the summed view widths "
                         f"(each capped at the number of rows)")
    Y = np.hstack(reduced)
    A = Y.T @ Y / n_rows
    B = scipy.linalg.block_diag(*blocks)
    offsets = np.cumsum([0, *sizes])
    for m in range(len(Xs)):
        sl = slice(offsets[m], offsets[m + 1])
        A[sl, sl] = blocks[m]
    A = (A + A.T) / 2.0
    try:
        values, vectors = scipy.linalg.eigh(A, B, subset_by_index=[total - n_components, total - 1])
    except np.linalg.LinAlgError:
        raise ValueError("an auto-covariance is singular (collinear features); use regularization > 0") from None
    order = np.argsort(values)[::-1]
    values, vectors = values[order], _sign_fix(vectors[:, order])
    weights = []
    for m, basis in enumerate(bases):
        W = vectors[offsets[m]:offsets[m + 1]]
        weights.append(W if basis is None else basis @ W)
    return weights, values


class MCCA(MultiViewClusterer):
    r"""Regularised multi-set CCA of aligned views, then K-means on the averaged projections.

    Every view is centred; :func:`mcca_directions` finds :math:`k` directions
    :math:`W_m \in \mathbb R^{D_m\times k}` per view from the generalised eigenproblem
    of all cross-covariances against the block-diagonal of regularised
    auto-covariances (Kettenring's SUMCOR, relaxed to one joint variance constraint):

    .. math::

        A w = \lambda B w, \quad A_{ml} = \tfrac1N X_m^\top X_l\ (m \ne l),\quad
        A_{mm} = B_{mm} = (1-r)\tfrac1N X_m^\top X_m + r\,\tfrac{\operatorname{tr}(X_m^\top X_m)}{N D_m} I.

    The embedding is the average projection :math:`Z = \tfrac1M \sum_m X_m W_m`, and
    K-means (``n_init=10``) on :math:`Z` gives one label per sample, the same in every
    view. Because the :math:`W_m` are jointly normalised, a view whose directions carry
    little shared signal gets small weights and contributes little to :math:`Z`.

    Parameters
    ----------
    n_clusters : int
        Number of clusters.
    n_components : int or None, default=None
        Number of canonical directions :math:`k`; ``None`` uses ``n_clusters``.
    regularization : float in [0, 1], default=0.1
        Shrinkage :math:`r` of every auto-covariance towards a scaled identity; must be
        positive when a view has at least as many features as rows.
    random_state : int, RandomState instance or None
        Seeds the K-means initialisations (the embedding itself is deterministic).

    Attributes
    ----------
    weights_ : list of ndarrays of shape (n_features[m], k)
        Canonical directions of every view (applied to the centred view).
    means_ : list of ndarrays of shape (n_features[m],)
        Column means subtracted from every view.
    eigenvalues_ : ndarray of shape (k,)
        Generalised eigenvalues :math:`\lambda_j`, decreasing; for two views
        :math:`\lambda_j - 1` is the j-th regularised canonical correlation.
    embedding_ : ndarray of shape (n_samples, k)
        Averaged projections :math:`Z`.
    n_components_ : int
        The :math:`k` used.
    labels_ : list of int64 ndarrays
        The same cluster of every sample, once per view.
    n_features_in_ : list of int
        Width of each view.

    References
    ----------
    J. R. Kettenring, "Canonical analysis of several sets of variables", Biometrika 58(3), 1971.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=(100, 1))
    >>> Xs = [s @ rng.normal(size=(1, 4)) + 0.1 * rng.normal(size=(100, 4)) for _ in range(2)]
    >>> model = MCCA(2, n_components=1, random_state=0).fit(Xs)
    >>> model.embedding_.shape, bool(model.eigenvalues_[0] > 1.9)
    ((100, 1), True)
    """

    requires_aligned = True

    def __init__(self, n_clusters: int, n_components: int | None = None, regularization: float = 0.1,
                 random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.regularization = regularization
        self.random_state = random_state

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        k = int(self.n_clusters) if self.n_components is None else check_int("n_components", self.n_components, low=1)
        r = check_real("regularization", self.regularization, low=0.0, high=1.0)
        if len(Xs) < 2:
            raise ValueError(f"MCCA needs at least 2 views, got {len(Xs)}")
        n_rows = Xs[0].shape[0]
        if r == 0.0:
            for m, X in enumerate(Xs):
                if X.shape[1] >= n_rows:
                    raise ValueError(f"view {m} has {X.shape[1]} features but only {n_rows} rows; "
                                     f"its covariance is singular, so regularization must be > 0")
        means = [X.mean(axis=0) for X in Xs]
        centred = [X - mean for X, mean in zip(Xs, means)]
        weights, eigenvalues = mcca_directions(centred, k, r)
        self.means_, self.weights_, self.eigenvalues_, self.n_components_ = means, weights, eigenvalues, k
        self.embedding_ = sum(X @ W for X, W in zip(centred, weights)) / len(Xs)
        km = KMeans(n_clusters=int(self.n_clusters), n_init=10, random_state=self.random_state)
        labels = km.fit_predict(self.embedding_)
        return [labels.copy() for _ in Xs]
