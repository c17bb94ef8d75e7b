r"""GWMAC: Gromov-Wasserstein multi-modal alignment and clustering (after Gong et al., 2022).

Every view :math:`m` becomes a structure matrix :math:`K_m \in \mathbb{R}^{N_m\times N_m}`
with uniform weights :math:`\mu_m = 1/N_m`; no feature of one view is ever compared
with a feature of another, so the views need neither aligned rows nor equal widths.
A barycenter structure :math:`K_B` on :math:`n` points with uniform :math:`\mu_B` solves

.. math::

    \min_{K_B} \sum_m \lambda_m \mathrm{GW}(K_B, K_m), \qquad
    \mathrm{GW}(A, B) = \min_{T\in\Pi(\mu_B,\mu_m)} \sum_{ijkl} (A_{ik} - B_{jl})^2 T_{ij}T_{kl},

with :math:`\lambda_m = 1/M`, by block-coordinate descent:

(a) :math:`T_m \leftarrow \arg\min_{T} \mathrm{GW}(K_B, K_m; T)` by otmix's conditional
    gradient :func:`otmix.ot.fgw` at ``alpha = 0``, warm-started from the previous plan;
(b) :math:`K_B \leftarrow \sum_m \lambda_m T_m K_m T_m^\top / (\mu_B\mu_B^\top)`, the exact
    minimiser in :math:`K_B` of the square loss at fixed plans.

Neither step can raise the objective, so ``values_`` is non-increasing. The barycenter
is then clustered by GW transport onto the identity structure :math:`I_C`,

.. math::

    P = \arg\min_{P\in\Pi(\mu_B, 1/C)} \sum_{ijkl} (S_{ik} - (I_C)_{jl})^2 P_{ij}P_{kl},

with :math:`S = K_B` (Gaussian kernel) or :math:`S = 1 - K_B` (normalised distances,
since :math:`(D - (1 - I))^2 = ((1 - D) - I)^2`), and sample :math:`j` of view m gets
:math:`\arg\max_c (T_m^\top P)_{jc}`. Cluster ids are therefore shared by all views.

:func:`otmix.ot.gw_cluster` builds its own Gaussian kernel from points; here the
barycenter *is* a kernel, so :func:`_gw_to_identity` solves the same problem on the
matrix directly (:func:`otmix.ot.fgw`, ``alpha = 0``) from a balanced k-means plan on a
spectral embedding of :math:`S` (the product coupling is a stationary point there).

References
----------
W. Gong, Z. Wang, Z. Zhang, S. Li, Y. Liu (2022). *Gromov-Wasserstein multi-modal
alignment and clustering*. CIKM 2022.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans

from ..ot import fgw, fgw_objective, transfer_labels
from ..params import check_choice, check_int, check_real
from .base import MultiViewClusterer

KERNELS = ("gaussian", "euclidean")
MAX_POINTS = 1000


def _zscore(X: np.ndarray) -> np.ndarray:
    """Columns to zero mean and unit variance (constant columns are only centred)."""
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def view_structure(X: np.ndarray, kernel: str, bandwidth: float | None = None) -> tuple[np.ndarray, float | None]:
    r"""Structure matrix of one view after z-scoring its columns.

    ``"gaussian"``: :math:`K_{ik} = \exp(-\|x_i - x_k\|^2 / 2\sigma^2)` with σ the median
    pairwise distance unless ``bandwidth`` is given; ``"euclidean"``:
    :math:`K_{ik} = \|x_i - x_k\| / \max_{ik}\|x_i - x_k\|`.

    Returns
    -------
    K : ndarray of shape (n, n), symmetric
    sigma : float or None
        The bandwidth used (None for ``"euclidean"``).
    """
    Z = _zscore(X)
    sq = cdist(Z, Z, "sqeuclidean")
    if kernel == "gaussian":
        if bandwidth is None:
            off = np.sqrt(sq[np.triu_indices(Z.shape[0], k=1)])
            sigma = float(np.median(off)) if off.size else 1.0
            sigma = sigma if sigma > 0 else 1.0
        else:
            sigma = float(bandwidth)
        return np.exp(-sq / (2.0 * sigma**2)), sigma
    D = np.sqrt(sq)
    top = float(D.max())
    return (D / top if top > 0 else D), None


def _exact_ot(cost: np.ndarray) -> np.ndarray:
    """Exact OT plan between uniform weights for a linear cost: :func:`otmix.ot.fgw` with ``alpha = 1``."""
    n, c = cost.shape
    return fgw(cost, np.zeros((n, n)), np.zeros((c, c)), alpha=1.0).plan


def _gw_to_identity(S: np.ndarray, n_clusters: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    r"""Plan and value of :math:`\mathrm{GW}(S, I_C)` with marginals :math:`(1/n, 1/C)`.

    Starts from a balanced k-means assignment of the spectral embedding
    :math:`U_C \Lambda_C^{1/2}` of S (its top-C eigenpairs, negative eigenvalues clipped).
    """
    n = S.shape[0]
    evals, evecs = np.linalg.eigh(S)
    top = np.argsort(evals)[::-1][:n_clusters]
    emb = evecs[:, top] * np.sqrt(np.clip(evals[top], 0.0, None))
    km = KMeans(n_clusters, n_init=4, random_state=int(rng.integers(2**31 - 1))).fit(emb)
    P0 = _exact_ot(cdist(emb, km.cluster_centers_, "sqeuclidean"))
    res = fgw(np.zeros((n, n_clusters)), S, np.eye(n_clusters), alpha=0.0, init=P0)
    return res.plan, res.value


class GWMAC(MultiViewClusterer):
    r"""Gromov-Wasserstein multi-view alignment and clustering (Gong et al., 2022).

    Alignment-free: each view is summarised by its own structure matrix :math:`K_m`, a
    GW barycenter :math:`K_B` of the structures is computed by alternating GW plans and
    the square-loss barycenter update, the barycenter is clustered by GW transport onto
    :math:`I_C` and every sample inherits the cluster of the barycenter mass it receives
    (module docstring for the equations). Cluster ids are shared across views.

    Parameters
    ----------
    n_clusters : int
        Number of clusters C.
    n_points : int, optional
        Barycenter size n (default: the smallest view's row count, capped at 1000);
        at least ``n_clusters``.
    kernel : {"gaussian", "euclidean"}
        Structure of each (column z-scored) view: Gaussian kernel or distance matrix
        divided by its largest entry.
    bandwidth : float, optional
        Gaussian σ for every view (default: the median heuristic, per view).
    max_outer : int
        Maximum outer (plans, barycenter) iterations.
    tol : float
        Stop when :math:`\|K_B^{new} - K_B\|_F \le tol\,\|K_B\|_F`.
    random_state : int, Generator or None
        Seeds the barycenter initialisations and the k-means start of the clustering.
    n_init : int
        Independent barycenter runs (random starts); the one with the lowest final
        objective :math:`\sum_m \lambda_m \mathrm{GW}(K_B, K_m; T_m)` is kept. Not in the
        paper: GW has one local minimum per way of matching the views' clusters, and
        restarts are the cheap way to find the best one (see Notes).

    Attributes
    ----------
    labels_ : list of ndarray
        Cluster of every sample of every view.
    barycenter_ : ndarray of shape (n_points, n_points)
        Barycenter structure :math:`K_B`.
    plans_ : list of ndarray of shape (n_points, N_m)
        GW plans :math:`T_m \in \Pi(\mu_B, \mu_m)`.
    cluster_plan_ : ndarray of shape (n_points, n_clusters)
        Plan :math:`P` of the barycenter points to the clusters.
    n_outer_ : int
        Outer iterations done.
    values_ : list of float
        :math:`\sum_m \lambda_m \mathrm{GW}(K_B, K_m; T_m)` after each plan step of the kept run.
    objective_ : float
        The same objective at the returned ``barycenter_`` and ``plans_``.
    bandwidths_ : list of float or None
        Per-view Gaussian σ (None for ``"euclidean"``).

    Notes
    -----
    The barycenter starts as the structure of ``n_points`` random rows of the largest
    view (drawn with replacement only when that view is smaller), and that view's first
    plan is the exact OT plan from those rows to all of its rows in its own feature
    space; the other views start from the product coupling.

    Shared cluster ids rest on GW matching each view's clusters to the right barycenter
    clusters, which only the views' geometry can decide. When the views distort the
    between-cluster geometry differently (e.g. independent random linear maps), a
    wrong matching of clusters can have the lower GW objective; then no restart helps,
    and per-view accuracy can be high while pooled accuracy is not.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X1 = np.r_[rng.normal(0, .3, (10, 2)), rng.normal(5, .3, (10, 2))]
    >>> X2 = np.r_[rng.normal(0, .3, (12, 3)), rng.normal(4, .3, (12, 3))]
    >>> labels = GWMAC(2, random_state=0).fit_predict([X1, X2])
    >>> [len(set(lab[:10])) == 1 for lab in labels]
    [True, True]
    """

    requires_aligned: ClassVar[bool] = False

    def __init__(
        self,
        n_clusters: int,
        n_points: int | None = None,
        kernel: str = "gaussian",
        bandwidth: float | None = None,
        max_outer: int = 20,
        tol: float = 1e-6,
        random_state: int | np.random.Generator | None = None,
        n_init: int = 4,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_points = n_points
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.max_outer = max_outer
        self.tol = tol
        self.random_state = random_state
        self.n_init = n_init

    def _check_params(self, rows: list[int]) -> int:
        check_choice("kernel", self.kernel, KERNELS)
        check_real("bandwidth", self.bandwidth, low=0.0, low_open=True, none_ok=True)
        check_int("max_outer", self.max_outer, low=1)
        check_int("n_init", self.n_init, low=1)
        check_real("tol", self.tol, low=0.0)
        n_points = check_int("n_points", self.n_points, low=1, none_ok=True) or min(min(rows), MAX_POINTS)
        if n_points < int(self.n_clusters):
            raise ValueError(f"n_points={n_points} is smaller than n_clusters={self.n_clusters}")
        return n_points

    def _barycenter(
        self, structures: list[np.ndarray], Z_init: np.ndarray, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray], list[float], int, float]:
        """One run of the alternation from a random start; returns (K_B, plans, values, n_outer, objective)."""
        rows = [K.shape[0] for K in structures]
        lam = np.full(len(structures), 1.0 / len(structures))
        # Initial barycenter: n random rows of the largest view, whose first plan is the
        # exact OT plan from those rows in that view's own (z-scored) feature space.
        m0 = int(np.argmax(rows))
        idx = rng.choice(rows[m0], size=n, replace=n > rows[m0])
        K_B = structures[m0][np.ix_(idx, idx)].copy()
        plans: list[np.ndarray | None] = [None] * len(structures)
        plans[m0] = _exact_ot(cdist(Z_init[idx], Z_init, "sqeuclidean"))
        values: list[float] = []
        for _ in range(int(self.max_outer)):
            total = 0.0
            for m, K_m in enumerate(structures):
                res = fgw(np.zeros((n, rows[m])), K_B, K_m, alpha=0.0, init=plans[m])
                plans[m] = res.plan
                total += lam[m] * res.value
            values.append(total)
            K_new = n * n * sum(w * (T @ K_m @ T.T) for w, T, K_m in zip(lam, plans, structures))
            K_new = 0.5 * (K_new + K_new.T)
            change = np.linalg.norm(K_new - K_B) / max(float(np.linalg.norm(K_B)), 1e-300)
            K_B = K_new
            if change <= self.tol:
                break
        objective = sum(w * fgw_objective(np.zeros((n, K_m.shape[0])), K_B, K_m, T, 0.0)
                        for w, T, K_m in zip(lam, plans, structures))
        return K_B, plans, values, len(values), float(objective)

    def _fit_labels(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        rows = [X.shape[0] for X in Xs]
        n = self._check_params(rows)
        rng = np.random.default_rng(self.random_state)
        structures, sigmas = zip(*(view_structure(X, self.kernel, self.bandwidth) for X in Xs))
        Z_init = _zscore(Xs[int(np.argmax(rows))])
        best = None
        for _ in range(int(self.n_init)):
            run = self._barycenter(list(structures), Z_init, n, rng)
            if best is None or run[-1] < best[-1]:
                best = run
        K_B, plans, values, n_outer, objective = best

        S = K_B if self.kernel == "gaussian" else 1.0 - K_B
        P, _ = _gw_to_identity(S, int(self.n_clusters), rng)
        self.barycenter_ = K_B
        self.plans_ = plans
        self.cluster_plan_ = P
        self.n_outer_ = n_outer
        self.values_ = values
        self.objective_ = objective
        self.bandwidths_ = list(sigmas)
        return [transfer_labels(T, P) for T in plans]
