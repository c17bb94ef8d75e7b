r"""Clustering by Gromov-Wasserstein transport to an identity structure (paper Eq. 6).

With a Gaussian kernel :math:`K_{ik} = \exp(-\|z_i - z_k\|^2 / 2\sigma^2)` on the
(mixed) barycenter codes (σ by the median heuristic), uniform :math:`\mu_B` and
:math:`\mu_C = 1/C`, solve

.. math:: \min_{P \in \Pi(\mu_B, \mu_C)} \sum_{ijkl} (K_{ik} - I_{jl})^2 P_{ij} P_{kl}
        = \mu_B^\top (K\odot K)\mu_B + \mu_C^\top \mu_C - 2\langle K P, P\rangle,

a balanced kernel clustering: point i belongs to :math:`\arg\max_c P_{ic}`. The product
coupling is a stationary point of this problem (its gradient is constant along Π),
so the solve starts from a balanced k-means plan. For the trainer the same
expression, at a fixed plan, is a loss differentiable in Z.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backend import is_torch, like, to_numpy
from ._validation import check_matrix
from .fgw import check_plan_init, solve_fgw_cg

INITS = ("kmeans", "random")


@dataclass
class GWClusterResult:
    """Result of :func:`gw_cluster`.

    Attributes
    ----------
    plan : array of shape (N_B, C)
        Plan to the clusters, in Π(μ_B, 1/C); same array type as ``Z``.
    labels : ndarray of shape (N_B,)
        ``argmax_c plan[i, c]``.
    value : float
        GW(K, I_C) at ``plan``.
    bandwidth : float
        Kernel bandwidth σ used.
    n_iter : int
        Conditional-gradient iterations.
    """

    plan: Any
    labels: np.ndarray
    value: float
    bandwidth: float
    n_iter: int


def median_bandwidth(Z: np.ndarray) -> float:
    """Median heuristic: σ = median of the pairwise distances (1.0 if all coincide)."""
    from scipy.spatial.distance import cdist

    d = cdist(Z, Z)
    off = d[np.triu_indices(Z.shape[0], k=1)]
    sigma = float(np.median(off)) if off.size else 1.0
    return sigma if sigma > 0 else 1.0


def gaussian_kernel(Z: Any, bandwidth: float) -> Any:
    """``exp(-||z_i - z_k||^2 / (2 σ^2))`` for numpy arrays or torch tensors (differentiable)."""
    if is_torch(Z):
        import torch

        sq = torch.cdist(Z, Z).pow(2)
        return torch.exp(-sq / (2.0 * bandwidth**2))
    from scipy.spatial.distance import cdist

    return np.exp(-cdist(Z, Z, "sqeuclidean") / (2.0 * bandwidth**2))


def _initial_plan(Z: np.ndarray, n_clusters: int, init: Any, rng: np.random.Generator) -> np.ndarray:
    n = Z.shape[0]
    mu_b, mu_c = np.full(n, 1.0 / n), np.full(n_clusters, 1.0 / n_clusters)
    if isinstance(init, str):
        if init == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters, n_init=4, random_state=int(rng.integers(2**31 - 1))).fit(Z)
            from scipy.spatial.distance import cdist

            cost = cdist(Z, km.cluster_centers_, "sqeuclidean")
        elif init == "random":
            cost = rng.random((n, n_clusters))
        else:
            raise ValueError(f"init must be one of {INITS} or an array, got {init!r}")
        import ot

        return ot.emd(mu_b, mu_c, cost, numItermax=10_000_000)  # balanced assignment
    return check_plan_init(to_numpy(init), mu_b, mu_c)


def gw_cluster(
    Z: Any,
    n_clusters: int,
    bandwidth: float | None = None,
    init: Any = "kmeans",
    max_iter: int = 200,
    tol: float = 1e-9,
    random_state: int | np.random.Generator | None = None,
) -> GWClusterResult:
    """Cluster codes by GW transport of their Gaussian kernel onto ``I_C`` (paper Eq. 6).

    Parameters
    ----------
    Z : array of shape (N_B, d)
        Codes to cluster (e.g. the mixed barycenter).
    n_clusters : int
        Number of clusters C (at most N_B).
    bandwidth : float, optional
        Kernel σ (median heuristic by default).
    init : {"kmeans", "random"} or array of shape (N_B, C)
        Starting plan: balanced k-means assignment (default), a random balanced
        assignment, or a given plan with uniform marginals.
    max_iter, tol : int, float
        Conditional-gradient limits.
    random_state : int, Generator or None

    Returns
    -------
    GWClusterResult
    """
    Z_np = check_matrix("Z", to_numpy(Z))
    n = Z_np.shape[0]
    if not 1 <= int(n_clusters) <= n:
        raise ValueError(f"n_clusters must lie in [1, {n}], got {n_clusters}")
    sigma = median_bandwidth(Z_np) if bandwidth is None else float(bandwidth)
    if not sigma > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    rng = np.random.default_rng(random_state)
    P0 = _initial_plan(Z_np, int(n_clusters), init, rng)
    K = gaussian_kernel(Z_np, sigma)
    identity = np.eye(int(n_clusters))
    out = solve_fgw_cg(
        np.zeros((n, int(n_clusters))), K, identity, 0.0,
        np.full(n, 1.0 / n), np.full(int(n_clusters), 1.0 / n_clusters), init=P0,
        max_iter=max_iter, tol=tol,
    )
    labels = out.plan.argmax(axis=1)
    return GWClusterResult(like(out.plan, Z), labels, out.value, sigma, out.n_iter)


def gw_cluster_loss(Z: Any, plan: Any, bandwidth: float) -> Any:
    r"""GW(K(Z), I_C) at a fixed plan: :math:`\mu^\top(K\odot K)\mu + \nu^\top\nu - 2\langle K P, P\rangle`.

    Differentiable in ``Z`` when it is a torch tensor (the plan is a constant);
    returns a 0-d tensor for torch input and a float for numpy input.
    """
    P_np = to_numpy(plan)
    mu, nu = P_np.sum(axis=1), P_np.sum(axis=0)
    K = gaussian_kernel(Z, bandwidth)
    P, mu_t = like(P_np, Z), like(mu, Z)
    value = mu_t @ (K * K) @ mu_t + float(nu @ nu) - 2.0 * (P * (K @ P)).sum()
    return value if is_torch(Z) else float(value)


def transfer_labels(plan_m: Any, cluster_plan: Any) -> np.ndarray:
    r"""Cluster of each sample of modality m from its barycenter mass: ``argmax_c (T_m^T P)_{jc}``."""
    T, P = to_numpy(plan_m), to_numpy(cluster_plan)
    if T.shape[0] != P.shape[0]:
        raise ValueError(f"plan_m has {T.shape[0]} rows but cluster_plan has {P.shape[0]}")
    return (T.T @ P).argmax(axis=1)
