"""MultiNMF: multi-view clustering via joint nonnegative matrix factorization (Liu, Wang, Gao & Han, SDM 2013)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans

from ..params import check_int, check_real
from .base import MultiViewClusterer

_TINY = np.finfo(np.float64).tiny


def _normalise(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paper Eq. 11: ``U ← U Q⁻¹``, ``V ← V Q`` with ``Q = diag(Σ_i U_ik)``; leaves ``U Vᵀ`` unchanged."""
    q = U.sum(0)
    q = np.where(q > 0, q, 1.0)
    return U / q, V * q


def _nmf(X: np.ndarray, U: np.ndarray, V: np.ndarray, max_iter: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Lee-Seung multiplicative updates for ``min ‖X − U Vᵀ‖²`` (the single-view initialisation)."""
    prev = float(np.sum((X - U @ V.T) ** 2))
    for _ in range(max_iter):
        U = U * (X @ V) / np.maximum(U @ (V.T @ V), _TINY)
        V = V * (X.T @ U) / np.maximum(V @ (U.T @ U), _TINY)
        err = float(np.sum((X - U @ V.T) ** 2))
        if prev - err <= tol * prev:
            break
        prev = err
    return _normalise(U, V)


def joint_nmf_objective(Xs: Sequence[np.ndarray], Us: Sequence[np.ndarray], Vs: Sequence[np.ndarray],
                        consensus: np.ndarray, lambdas: Sequence[float]) -> float:
    r"""The MultiNMF objective (paper Eq. 6 with the normalisation of Eq. 9).

    .. math::

        \mathcal O = \sum_m \lVert X_m - U_m V_m^\top \rVert_F^2
        + \lambda_m \lVert V_m Q_m - V^* \rVert_F^2, \qquad
        Q_m = \operatorname{diag}\Big(\sum_i (U_m)_{i1}, \dots, \sum_i (U_m)_{iK}\Big).

    Parameters
    ----------
    Xs : list of arrays of shape (d_m, n)
        Views with features in rows (the paper's orientation).
    Us, Vs : lists of arrays of shapes (d_m, K) and (n, K)
    consensus : array of shape (n, K)
        :math:`V^*`.
    lambdas : sequence of float

    Returns
    -------
    float
    """
    total = 0.0
    for X, U, V, lam in zip(Xs, Us, Vs, lambdas):
        total += float(np.sum((X - U @ V.T) ** 2)) + lam * float(np.sum((V * U.sum(0) - consensus) ** 2))
    return total


class MultiNMF(MultiViewClusterer):
    r"""Multi-view clustering via joint nonnegative matrix factorization (Liu et al., SDM 2013).

    With view ``m`` as a features-by-samples matrix :math:`X_m \in \mathbb R_{\ge 0}^{d_m \times n}`
    (the transpose of the input), scaled to :math:`\lVert X_m \rVert_1 = \sum_{ij} (X_m)_{ij} = 1`,
    MultiNMF solves

    .. math::

        \min_{U_m, V_m, V^* \ge 0} \sum_m \lVert X_m - U_m V_m^\top \rVert_F^2
        + \lambda_m \lVert V_m Q_m - V^* \rVert_F^2,

    where :math:`U_m \in \mathbb R^{d_m \times K}`, :math:`V_m \in \mathbb R^{n \times K}` and
    :math:`Q_m = \operatorname{diag}(\mathbf 1^\top U_m)`, so that :math:`V_m Q_m` is the coefficient
    matrix of the factorisation whose basis columns have unit :math:`\ell_1` norm (the PLSA-like
    normalisation that makes the views' coefficients comparable).

    Every iteration, for each view in turn (dropping the view index ``m``),

    .. math::

        U_{ik} &\leftarrow U_{ik}\,
            \frac{(X V)_{ik} + \lambda \sum_j V_{jk} V^*_{jk}}
                 {(U V^\top V)_{ik} + \lambda \big(\sum_l U_{lk}\big)\big(\sum_j V_{jk}^2\big)}
            && \text{(Eq. 13)} \\
        U &\leftarrow U Q^{-1}, \quad V \leftarrow V Q && \text{(Eq. 11; now } Q = I) \\
        V_{jk} &\leftarrow V_{jk}\, \frac{(X^\top U)_{jk} + \lambda V^*_{jk}}{(V U^\top U)_{jk} + \lambda V_{jk}}
            && \text{(Eq. 14)}

    followed by the closed-form consensus (Eq. 15)

    .. math:: V^* = \frac{\sum_m \lambda_m V_m Q_m}{\sum_m \lambda_m}.

    Each step minimises a Lee-Seung auxiliary function of its block (the rescaling of
    Eq. 11 leaves the objective unchanged), so the objective never increases. The
    paper iterates each view's U/V updates to convergence before updating :math:`V^*`;
    here one U/V update per view alternates with the consensus update (block coordinate
    descent on the same objective). As in the authors' code, every view is first
    factorised alone (plain NMF, up to ``max_iter`` updates), view ``m`` starting from the
    coefficients of view ``m − 1`` so that the components correspond across views.

    Labels are K-means (``n_init=10``) on the rows of :math:`V^*`, as in the paper;
    every view gets the same labels.

    Parameters
    ----------
    n_clusters : int
    n_components : int or None
        Number of factors ``K``; ``None`` means ``n_clusters``.
    lambdas : float or sequence of float
        :math:`\lambda_m \ge 0` (one for all views or one per view, not all 0); the paper uses 0.01.
    max_iter : int
        Joint iterations (and the cap of each single-view initialisation).
    tol : float
        Stop when the relative decrease of the objective in an iteration is at most ``tol``.
    random_state : int, numpy Generator or None
        Seeds the initial factors and K-means; global RNGs are left untouched.

    Attributes
    ----------
    labels_ : list of int64 arrays
        One per view (all equal: the views are aligned).
    consensus_ : ndarray of shape (n_samples, K)
        :math:`V^*`.
    bases_ : list of ndarrays of shape (d_m, K)
        :math:`U_m`, columns of unit :math:`\ell_1` norm.
    coefficients_ : list of ndarrays of shape (n_samples, K)
        :math:`V_m`.
    history_ : list of float
        Objective after every joint iteration (non-increasing).
    n_iter_ : int
        Joint iterations run.
    n_features_in_ : list of int
    """

    requires_aligned = True

    def __init__(self, n_clusters: int, n_components: int | None = None, lambdas: float | Sequence[float] = 0.01,
                 max_iter: int = 200, tol: float = 1e-4, random_state: int | np.random.Generator | None = None):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.lambdas = lambdas
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _check_params(self, Xs: list[np.ndarray]) -> tuple[int, np.ndarray]:
        k = check_int("n_components", self.n_components, low=1, none_ok=True) or int(self.n_clusters)
        check_int("max_iter", self.max_iter, low=1)
        check_real("tol", self.tol, low=0.0)
        try:
            lambdas = np.broadcast_to(np.asarray(self.lambdas, dtype=np.float64), (len(Xs),)).copy()
        except (ValueError, TypeError):
            raise ValueError(f"lambdas must be a number or one number per view ({len(Xs)}), "
                             f"got {self.lambdas!r}") from None
        if not np.all(np.isfinite(lambdas)) or np.any(lambdas < 0) or lambdas.sum() <= 0:
            raise ValueError(f"lambdas must be non-negative and not all 0, got {lambdas.tolist()}")
        for m, X in enumerate(Xs):
            if X.min() < 0:
                raise ValueError(f"view {m} has negative entries (min {X.min():.3g}); MultiNMF needs non-negative "
                                 "views: shift it first, e.g. X - X.min()")
            if not X.any():
                raise ValueError(f"view {m} is all zeros")
        return int(k), lambdas

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        k, lambdas = self._check_params(Xs)
        rng = np.random.default_rng(self.random_state)
        max_iter, tol = int(self.max_iter), float(self.tol)
        Ps = [X.T / X.sum() for X in Xs]  # paper orientation (d_m x n), ||X_m||_1 = 1
        n = Ps[0].shape[1]
        Us, Vs = [], []
        V = None
        for P in Ps:
            scale = np.sqrt(P.mean() / k)
            U = scale * rng.uniform(size=(P.shape[0], k))
            if V is None:
                V = scale * rng.uniform(size=(n, k))
            U, V = _nmf(P, U, V, max_iter, tol)
            Us.append(U)
            Vs.append(V)
        consensus = sum(lam * V * U.sum(0) for lam, U, V in zip(lambdas, Us, Vs)) / lambdas.sum()
        prev = joint_nmf_objective(Ps, Us, Vs, consensus, lambdas)
        history = []
        for _ in range(max_iter):
            for m, (P, lam) in enumerate(zip(Ps, lambdas)):
                U, V = Us[m], Vs[m]
                num = P @ V + lam * np.sum(V * consensus, axis=0)
                den = U @ (V.T @ V) + lam * U.sum(0) * np.sum(V * V, axis=0)
                U = U * num / np.maximum(den, _TINY)
                U, V = _normalise(U, V)
                V = V * (P.T @ U + lam * consensus) / np.maximum(V @ (U.T @ U) + lam * V, _TINY)
                Us[m], Vs[m] = U, V
            consensus = sum(lam * V * U.sum(0) for lam, U, V in zip(lambdas, Us, Vs)) / lambdas.sum()
            obj = joint_nmf_objective(Ps, Us, Vs, consensus, lambdas)
            history.append(obj)
            if prev - obj <= tol * prev:
                break
            prev = obj
        seed = int(rng.integers(2**31 - 1))
        labels = KMeans(int(self.n_clusters), n_init=10, random_state=seed).fit_predict(consensus)
        self.consensus_ = consensus
        self.bases_ = Us
        self.coefficients_ = Vs
        self.history_ = history
        self.n_iter_ = len(history)
        return [labels.copy() for _ in Xs]
