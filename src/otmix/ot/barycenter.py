r"""FGW barycenter of several code sets (paper Alg. 2, corrected; DESIGN.md §1).

Given code matrices :math:`Z_m \in \mathbb{R}^{N_m\times d}` with uniform weights
:math:`\mu_m` and modality weights :math:`\lambda_m`, find :math:`Z \in \mathbb{R}^{N_B\times d}`
minimising :math:`\sum_m \lambda_m \mathrm{FGW}_\alpha(Z, Z_m)` by alternating

1. :math:`T_m \leftarrow` FGW plan between :math:`Z` and :math:`Z_m`
   (cost :math:`D_m = \|z_i - z_{m,j}\|^2`, structures :math:`A = d(Z)`, :math:`A_m = d(Z_m)`);
2. :math:`Z \leftarrow \sum_m \lambda_m \operatorname{diag}(1/\mu_B) T_m Z_m`, then
   :math:`A \leftarrow d(Z)`.

The paper's ``diag(N_B / μ_B)`` without :math:`\lambda_m` rescales Z every step; this is
the fixed form. Plans are warm-started from the previous outer iteration (they stay
feasible, since the marginals do not change) only on request: starting each solve
from the product coupling, as the paper does, ends in better local minima. What is
always reused, per modality and per CG step, is the assignment solver's dual
potentials (each exact LMO after the first is a few times cheaper) and the dense
products :math:`A V B`, updated for the points that moved and the rows whose
permutation changed (:class:`~otmix.ot.fgw.ProductCache`). The codes are centred
first (FGW does not see a common shift), so the float32 distances of the loop stay
accurate for codes far from the origin.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._backend import is_torch, like, matmul_const, to_numpy, torch_module
from ._constraints import (
    barycenter_constraints,
    barycenter_point_labels,
    check_labels,
    check_links,
    linked_point_labels,
)
from ._lmo import PermutationPlan
from ._validation import check_alpha, check_codes, check_matrix, check_weights
from .fgw import ProductCache, _pair_sum, fgw_objective, solve_fgw_cg
from .quantized import BLOCK_SIZE, quantized_barycenter
from .structure import (
    check_structure_kind,
    feature_cost,
    self_structure_constant,
    sqeuclidean_factors,
    structure_matrix,
)

INITS = ("random", "kmeans++")
METHODS = ("exact", "quantized", "fast")  # "fast" names the recommended approximate method
DEFAULT_TOL = {"exact": 1e-6, "quantized": 1e-3, "fast": 1e-3}
FAST_MIN_PLAN = 1024 * 1024  # method="fast" runs the exact path up to this many plan entries
FAST_SCREEN_OUTER = 1  # outer steps every start of method="fast" runs before the best one continues
FAST_BLOCK_SIZE = 512  # method="fast": points per assignment block (the quantized method's default is 256)


@dataclass
class BarycenterResult:
    """Result of :func:`fgw_barycenter`.

    Attributes
    ----------
    Z : array of shape (N_B, d)
        Barycenter codes, ``sum_m λ_m diag(1/μ_B) T_m Z_m`` for the returned plans
        (with torch inputs, differentiable in every ``Z_m`` with plans held constant).
    plans : list of arrays of shape (N_B, N_m)
        Plans ``T_m`` in Π(μ_B, μ_m), same array type as ``Zs[m]`` (with
        ``sparse_plans=True``: ``scipy.sparse.csr_array``, or sparse COO tensors for
        torch inputs).
    value : float
        ``sum_m λ_m FGW(Z, Z_m; α)`` evaluated at the returned ``Z`` and ``plans``
        (approximate methods beyond 32,768 barycenter points, where the exact sum is
        O(N^2 d): the mean of 8 disjoint samples of 512 rows, with ``log["value_estimated"]``
        and its standard error ``log["value_stderr"]``).
    n_outer : int
        Outer iterations done.
    converged : bool
        True when the objective stopped improving (relative ``tol``) or the plans
        stopped changing before ``max_outer``.
    log : dict
        ``method``; ``values`` (objective after each plan update). Exact method:
        ``inner_iters`` (CG iterations per outer step, per modality) and seconds in
        ``time_lmo`` and ``time_products`` (summed over modalities, which may run side
        by side) and ``time_other`` (the rest of the wall time, clipped at 0).
        Quantized method: seconds in ``time_partition`` (k-means), ``time_coarse``
        (FGW between anchors), ``time_local`` (cluster transport and block
        assignments), ``time_value`` (objective after each outer step) and
        ``time_other``; ``n_anchors`` and ``n_blocks`` per modality; with
        ``method="fast"`` also ``starts``, ``start_values`` (objective after each
        start's screening step), ``start`` (the one continued) and ``outer_total``
        (outer steps of all starts), or ``fallback`` when the exact path ran.
    point_labels : ndarray of shape (N_B,) or None
        With ``labels``: the label of every barycenter point (``-1`` = free); plans
        only join a point to rows of its label (or of unknown label).
    features : array of shape (N_B, f) or None
        With ``features``: the barycenter's features,
        ``sum_m λ_m diag(1/μ_B) T_m F_m``.
    """

    Z: Any
    plans: list[Any]
    value: float
    n_outer: int
    converged: bool
    log: dict[str, Any] = field(default_factory=dict)
    point_labels: np.ndarray | None = None
    features: Any = None


def _initial_codes(
    Zs: Sequence[np.ndarray], n_points: int, init: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """The starting barycenter and, when it is made of pooled codes, their pooled row indices."""
    pooled = np.concatenate(Zs, axis=0)
    if isinstance(init, str):
        if init == "random":
            replace = n_points > pooled.shape[0]
            rows = rng.choice(pooled.shape[0], size=n_points, replace=replace)
            return pooled[rows].copy(), rows
        if init == "kmeans++":
            from sklearn.cluster import kmeans_plusplus

            if n_points > pooled.shape[0]:
                raise ValueError(
                    f"init='kmeans++' needs n_points <= {pooled.shape[0]} pooled codes, got {n_points}"
                )
            seed = int(rng.integers(2**31 - 1))
            centers, rows = kmeans_plusplus(pooled, n_clusters=n_points, random_state=seed)
            return centers, rows
        raise ValueError(f"init must be one of {INITS} or an array, got {init!r}")
    Z0 = to_numpy(init)
    if Z0.ndim != 2 or Z0.shape != (n_points, pooled.shape[1]):
        raise ValueError(f"init must have shape ({n_points}, {pooled.shape[1]}), got {Z0.shape}")
    if not np.all(np.isfinite(Z0)):
        raise ValueError("init contains NaN or Inf values")
    return Z0.copy(), None


def _nearest_rows(X: np.ndarray, pooled: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Index of the nearest pooled row of every row of ``X`` (chunked)."""
    return np.concatenate([np.argmin(feature_cost(X[s:s + chunk], pooled), axis=1)
                           for s in range(0, X.shape[0], chunk)]) if X.shape[0] else np.zeros(0, np.int64)


def _check_features(features: Sequence[Any], sizes: Sequence[int]) -> list[np.ndarray]:
    """Per-modality feature matrices for the Wasserstein term: M finite 2-D arrays, N_m rows, one width."""
    if len(features) != len(sizes):
        raise ValueError(f"features must hold {len(sizes)} arrays (one per modality), got {len(features)}")
    out = []
    for m, (F, n) in enumerate(zip(features, sizes)):
        F = check_matrix(f"features[{m}]", to_numpy(F))
        if F.shape[0] != n:
            raise ValueError(f"features[{m}] must have {n} rows (those of Zs[{m}]), got {F.shape[0]}")
        out.append(F)
    widths = {F.shape[1] for F in out}
    if len(widths) > 1:
        raise ValueError(f"all features must share one width, got widths {[F.shape[1] for F in out]}")
    return out


def _linked_means(Xs: Sequence[np.ndarray], links: np.ndarray) -> np.ndarray:
    """Mean over the views present of every linked entity's rows."""
    total = np.zeros((links.shape[0], Xs[0].shape[1]))
    count = np.zeros(links.shape[0])
    for m, X in enumerate(Xs):
        present = links[:, m] >= 0
        total[present] += X[links[present, m]]
        count[present] += 1
    return total / count[:, None]


def _n_workers(n_jobs: int | None, n_modalities: int) -> int:
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        return n_modalities
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be -1, None or at least 1, got {n_jobs}")
    return min(n_jobs, n_modalities)


def fgw_barycenter(
    Zs: Sequence[Any],
    n_points: int | None = None,
    alpha: float = 0.5,
    weights: Sequence[float] | None = None,
    structure: str = "euclidean",
    init: Any = "random",
    max_outer: int = 50,
    tol: float | None = None,
    max_iter: int = 1000,
    inner_tol: float = 1e-9,
    warm_start: bool = False,
    random_state: int | np.random.Generator | None = None,
    callback: Callable[[int, float], None] | None = None,
    n_jobs: int | None = -1,
    method: str = "exact",
    n_anchors: int | None = None,
    block_size: int | None = None,
    sparse_plans: bool = False,
    links: Any = None,
    labels: Sequence[Any] | None = None,
    features: Sequence[Any] | None = None,
) -> BarycenterResult:
    r"""Fused Gromov-Wasserstein barycenter of M code sets.

    Parameters
    ----------
    Zs : list of arrays of shape (N_m, d)
        Latent codes of each modality; the ``N_m`` may differ, ``d`` may not.
    n_points : int, optional
        Barycenter size ``N_B`` (default: the rows of ``init`` when it is an array,
        else the largest ``N_m``). ``N_B == N_m`` lets the exact LMO use an
        assignment solver instead of network simplex.
    alpha : float in [0, 1]
        Weight of the Wasserstein (feature) term.
    weights : sequence of M floats, optional
        Modality weights ``λ_m`` (non-negative, summing to one; uniform by default).
    structure : {"euclidean", "sqeuclidean"}
        Structure matrices: pairwise distances (default) or squared distances.
    init : {"random", "kmeans++"} or array of shape (N_B, d)
        Starting barycenter: a seeded random subset of the pooled codes, seeded
        k-means++ centres over the pooled codes, or given codes.
    max_outer : int
        Maximum outer (plan update + barycenter update) iterations.
    tol : float, optional
        Stop when the objective changes by at most ``tol`` relative (the fast method:
        improves by less), or when no plan changes. Default 1e-6 for the exact method
        and 1e-3 for the approximate one, whose last outer steps would only polish
        an objective that is a few tenths of a per cent off anyway.
    max_iter, inner_tol : int, float
        Conditional-gradient limits of each FGW solve (see :func:`otmix.ot.fgw`);
        exact method only.
    warm_start : bool
        Exact method: start each FGW solve from the previous outer iteration's plan
        instead of the product coupling. Fewer CG steps, but measured here to end in
        worse local minima (0.1-2 % higher objective), hence off by default. The
        exact assignment solver is warm-started from the previous outer iteration's
        duals either way (same plans, less time).
    random_state : int, Generator or None
        Seed for ``init`` drawn at random and for the quantized method's k-means.
    callback : callable ``(outer_iter, value) -> None``, optional
        Called after every outer iteration (progress reporting).
    n_jobs : int or None
        Threads solving the M FGW problems of an outer iteration side by side
        (the assignment solver releases the GIL). ``-1`` (default): one per
        modality; ``None`` or ``1``: sequential. Results do not depend on it.
    method : {"exact", "quantized", "fast"}
        ``"exact"`` (default): conditional gradient with an exact LMO on the full
        problem (module docstring); reaches the same local minimum as POT's CG.
        ``"quantized"``: the approximate two-scale method of
        :mod:`otmix.ot.quantized` (anchors, cluster transport, block assignments),
        from ``init`` alone. Its local minimum depends strongly on the start (so does
        the exact path's: 5-15 % between random starts).
        ``"fast"``: the recommended approximate method. Plans of at most
        ``FAST_MIN_PLAN`` (1024 x 1024) entries, where the approximation does not pay,
        run the exact path instead (``log["fallback"]`` says so). Larger ones run the
        quantized method from ``init`` and from every modality's own codes (linked
        entities first), one outer step each, and continue the start with the lowest
        objective (``log["starts"]``, ``log["start_values"]``, ``log["start"]``), with
        blocks of 512 points: measured within 1 % of the exact path's objective, and
        mostly below it, on clustered codes at N = 2048 and 4096 (both structures,
        with and without links) and on digits2 with euclidean structure, but 4-10 %
        above it on digits2 with squared distances (``benchmarks/RESULTS.md``).
        Use the exact path when the objective must match POT's.
    n_anchors : int, optional
        Quantized method: anchors per code set for the coarse FGW (default
        ``ceil(sqrt(N))``).
    block_size : int, optional
        Approximate methods: points per assignment block (default 256 for
        ``"quantized"``, 512 for ``"fast"``); larger blocks are slower and usually
        closer to the exact objective.
    sparse_plans : bool
        Return the plans as sparse matrices (``scipy.sparse.csr_array``, or torch
        sparse COO tensors on the codes' device) instead of dense arrays: a dense
        plan of 16,384 x 16,384 float64 takes 2 GiB, its permutation form 400 KiB.
    links : int array of shape (n_links, M), optional
        Linked records: row ``links[k, m]`` of modality ``m`` is entity ``k`` (``-1``:
        absent from that modality; every link row has at least two views present).
        The barycenter's first ``n_links`` points are the linked entities: plan
        ``T_m`` sends point ``k`` to row ``links[k, m]`` with fixed mass
        ``min(1/N_B, 1/N_m)`` and only the other rows are optimised (every LMO exactly,
        on the free rows; an assignment for equal sizes). Both methods accept links.
        Those points start at the mean of their rows' codes (unless ``init`` is an
        array). Needs ``n_points >= n_links``.
    labels : sequence of M int arrays (or None), optional
        Class of every row of each modality (``-1`` or a None entry: unknown). The
        barycenter's points get labels in the modalities' mean class shares
        (``point_labels`` of the result; linked points take their entity's label) and
        every plan puts no mass between a point and a row of a different known label
        (the least such mass possible when class shares differ; see :func:`otmix.ot.fgw`).
        Exact method only.
    features : sequence of M arrays of shape (N_m, f), optional
        What the Wasserstein term compares, instead of the codes: the feature cost is
        :math:`\|f^B_i - f^m_j\|^2` with barycenter features
        :math:`F_B = \sum_m \lambda_m \operatorname{diag}(1/\mu_B) T_m F_m` updated with
        ``Z``; the structure term still uses the codes' distances. Use features that are
        comparable across modalities, e.g. :func:`otmix.ot.link_features` (each code
        described by its relation to its own view's linked rows), when the codes'
        coordinates are not.

    Returns
    -------
    BarycenterResult

    Examples
    --------
    >>> import numpy as np
    >>> from otmix.ot import fgw_barycenter
    >>> rng = np.random.default_rng(0)
    >>> Zs = [rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 1.0]
    >>> res = fgw_barycenter(Zs, alpha=0.5, random_state=0)
    >>> res.Z.shape, [T.shape for T in res.plans]
    ((30, 4), [(30, 30), (30, 30)])
    >>> fast = fgw_barycenter(Zs, alpha=0.5, random_state=0, method="fast", sparse_plans=True)
    >>> [T.nnz for T in fast.plans]  # permutations / N
    [30, 30]
    """
    alpha = check_alpha(alpha)
    check_structure_kind(structure)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    Zs_np = [to_numpy(Z) for Z in Zs]
    check_codes(Zs_np)
    lambdas = check_weights(weights, len(Zs_np))
    if n_points is None:
        n_points = to_numpy(init).shape[0] if not isinstance(init, str) else max(Z.shape[0] for Z in Zs_np)
    if int(n_points) < 1:
        raise ValueError(f"n_points must be at least 1, got {n_points}")
    n_points = int(n_points)
    if max_outer < 1:
        raise ValueError(f"max_outer must be at least 1, got {max_outer}")
    if n_anchors is not None and int(n_anchors) < 1:
        raise ValueError(f"n_anchors must be at least 1, got {n_anchors}")
    if block_size is None:
        block_size = FAST_BLOCK_SIZE if method == "fast" else BLOCK_SIZE
    if int(block_size) < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    tol_given = tol
    if tol is None:
        tol = DEFAULT_TOL[method]
    if not tol >= 0:
        raise ValueError(f"tol must be non-negative, got {tol}")
    sizes = [Z.shape[0] for Z in Zs_np]
    links_ = None if links is None else check_links(links, sizes)
    if links_ is not None and links_.shape[0] == 0:
        links_ = None
    if links_ is not None and links_.shape[0] > n_points:
        raise ValueError(f"n_points must be at least the {links_.shape[0]} linked entities, got {n_points}")
    labels_ = None if labels is None else check_labels(labels, sizes)
    if labels_ is not None and all(y is None or not (y >= 0).any() for y in labels_):
        labels_ = None
    if labels_ is not None and method != "exact":
        raise ValueError("labels need method='exact' (the fast path does not take labels)")
    feats = None if features is None else _check_features(features, sizes)
    rng = np.random.default_rng(random_state)
    Z0, init_rows = _initial_codes(Zs_np, n_points, init, rng)
    if links_ is not None and isinstance(init, str):
        Z0[: links_.shape[0]] = _linked_means(Zs_np, links_)
    # FGW does not see a common shift; centring keeps the float32 distances of the loops accurate
    # for codes far from the origin (their error is ~1e-7 of |z|^2, not of the distances)
    centre = np.concatenate(Zs_np).mean(axis=0)
    Zs_np, Z0 = [Zm - centre for Zm in Zs_np], Z0 - centre
    F0 = None
    if feats is not None:
        feature_centre = np.concatenate(feats).mean(axis=0)
        feats = [F - feature_centre for F in feats]
        pooled = np.concatenate(feats)
        F0 = pooled[init_rows if init_rows is not None else _nearest_rows(Z0, np.concatenate(Zs_np))].copy()
        if links_ is not None:
            F0[: links_.shape[0]] = _linked_means(feats, links_)
    point_labels = None
    if labels_ is not None:
        linked = None if links_ is None else linked_point_labels(links_, labels_)
        point_labels = barycenter_point_labels(labels_, lambdas, n_points, linked)
    mu_b = np.full(n_points, 1.0 / n_points)
    constraints = None
    if links_ is not None or labels_ is not None:
        constraints = barycenter_constraints(mu_b, [np.full(n, 1.0 / n) for n in sizes], links_, point_labels,
                                             labels_)

    side = _SideInfo(feats, F0, constraints, links_)
    fallback = method == "fast" and n_points * max(sizes) <= FAST_MIN_PLAN
    if fallback:  # too small for the approximate path to pay: the exact one is about as fast here
        method = "exact"
        tol = DEFAULT_TOL["exact"] if tol_given is None else tol
    if method == "exact":
        Z, plans, value, n_outer, converged, log, F_B = _exact_barycenter(
            Zs_np, lambdas, Z0, alpha, structure, max_outer, tol, max_iter, inner_tol, warm_start, callback,
            _n_workers(n_jobs, len(Zs_np)), side,
        )
    else:
        out = quantized_barycenter(
            Zs_np, lambdas, Z0, alpha, structure, max_outer=max_outer, tol=tol, rng=rng, callback=callback,
            n_anchors=None if n_anchors is None else int(n_anchors),
            block_size=int(block_size),
            n_workers=_n_workers(n_jobs, len(Zs_np)),
            links=links_, features=feats, F0=F0,
            starts=_modality_starts(Zs_np, feats, links_, n_points, rng) if method == "fast" else (),
            screen_outer=FAST_SCREEN_OUTER,
        )
        Z, plans, value, n_outer, converged, F_B = out.Z, out.plans, out.value, out.n_outer, out.converged, out.F
        log = {"values": out.values, **out.log}
    log = {"method": "exact" if method == "exact" else "quantized", **log}
    if fallback:
        log["fallback"] = (f"method='fast' ran the exact path: plans of {n_points} x {max(sizes)} entries are at most "
                           f"FAST_MIN_PLAN = {FAST_MIN_PLAN}, where the exact path takes about as long")
    if links_ is not None:
        log["n_links"] = int(links_.shape[0])
    Z_out, plans_out = _hand_back(Z + centre, plans, Zs, lambdas, sparse_plans)
    F_out = None if F_B is None else like(F_B + feature_centre, features[0])
    return BarycenterResult(Z_out, plans_out, value, n_outer, converged, log, point_labels, F_out)


def _modality_starts(
    Zs: list[np.ndarray], feats: list[np.ndarray] | None, links: np.ndarray | None, n_points: int,
    rng: np.random.Generator,
) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """Extra starting barycenters of the fast method: every modality's own codes (a seeded subset
    when it has more than ``n_points`` rows; none when it has fewer), the linked entities first at the
    mean of their rows, as :func:`fgw_barycenter` places them."""
    n_links = 0 if links is None else links.shape[0]
    out = []
    for m, Zm in enumerate(Zs):
        rest = np.arange(Zm.shape[0]) if links is None else np.setdiff1d(np.arange(Zm.shape[0]), links[:, m])
        if rest.size < n_points - n_links:
            continue
        if rest.size > n_points - n_links:
            rest = np.sort(rng.choice(rest, size=n_points - n_links, replace=False))
        Z = Zm[rest]
        F = None if feats is None else feats[m][rest]
        if n_links:
            Z = np.concatenate([_linked_means(Zs, links), Z])
            F = None if F is None else np.concatenate([_linked_means(feats, links), F])
        out.append((f"modality {m}", Z, F))
    return out


@dataclass
class _SideInfo:
    """What links, labels and features add to the exact loop (all None: the plain problem)."""

    features: list[np.ndarray] | None
    F0: np.ndarray | None
    constraints: list[Any] | None
    links: np.ndarray | None


def _hand_back(
    Z: np.ndarray, plans: list[Any], Zs: Sequence[Any], lambdas: np.ndarray, sparse_plans: bool
) -> tuple[Any, list[Any]]:
    """Barycenter and plans in the caller's array type (dense or sparse plans)."""
    ref = Zs[0]
    n_b = Z.shape[0]
    if sparse_plans:
        plans_sp = [_sparse(T) for T in plans]
        if is_torch(ref):
            torch = torch_module()
            plans_out = [_torch_sparse(T, Zm) for T, Zm in zip(plans_sp, Zs)]
            Z_out = sum(lam * torch.sparse.mm(T, Zm.to(T.dtype)) for lam, T, Zm in zip(lambdas, plans_out, Zs)) * n_b
            return Z_out, plans_out
        return like(Z, ref), plans_sp
    dense = [_dense(T) for T in plans]
    if is_torch(ref):  # recompute in torch so gradients reach every Z_m
        Z_out = sum(lam * matmul_const(T, Zm) for lam, T, Zm in zip(lambdas, dense, Zs)) * n_b
    else:
        Z_out = like(Z, ref)
    return Z_out, [like(T, Zm) for T, Zm in zip(dense, Zs)]


def _torch_sparse(plan: sp.csr_array, Zm: Any) -> Any:
    torch = torch_module()
    coo = plan.tocoo()
    dtype = Zm.dtype if Zm.dtype.is_floating_point else torch.get_default_dtype()  # as like() does
    indices = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.int64, device=Zm.device)
    values = torch.as_tensor(coo.data, dtype=dtype, device=Zm.device)
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=True).coalesce()


@functools.cache
def blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded (found once per process: finding
    them takes ~1-2 ms, a tenth of a training-size barycenter; limiting through it takes 10 us)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_threads(limit: int | None) -> Any:
    """Context manager: BLAS held to ``limit`` threads (None: as it is) while it is open."""
    return contextlib.nullcontext() if limit is None else blas_controller().limit(limits=limit, user_api="blas")


SMALL_PLAN = 512 * 512  # plans up to this many entries: BLAS held to one thread even with one worker


@contextlib.contextmanager
def _workers(n_workers: int, plan_size: int) -> Iterator[Callable[[Callable[[Any], Any], Iterable[Any]], list[Any]]]:
    """``run_all(fn, items) -> [fn(x) for x in items]``, on ``n_workers`` threads with BLAS held to one
    thread each (threads, not BLAS), or in this thread without a pool for one worker (a pool costs
    milliseconds per call, a large share of a training-size barycenter). With one worker BLAS keeps
    its threads for large plans; for plans of at most ``SMALL_PLAN`` entries it is held to one thread
    too: at N = 256 a product takes a third of a millisecond, and BLAS threads that wait on a busy
    core cost many times that (measured: 10x slower barycenters at a load of 6 on 2 cores)."""
    if n_workers <= 1:
        with blas_threads(1 if plan_size <= SMALL_PLAN else None):
            yield lambda fn, items: [fn(x) for x in items]
        return
    with ThreadPoolExecutor(max_workers=n_workers) as pool, blas_threads(1):
        yield lambda fn, items: list(pool.map(fn, items))


def _dense(plan: Any) -> np.ndarray:
    return plan.toarray() if sp.issparse(plan) or isinstance(plan, PermutationPlan) else plan


def _sparse(plan: Any) -> sp.csr_array:
    return plan.to_csr() if isinstance(plan, PermutationPlan) else sp.csr_array(plan)


def _same_plan(old: Any, new: Any) -> bool:
    if isinstance(old, PermutationPlan) and isinstance(new, PermutationPlan):
        return old.scale == new.scale and np.array_equal(old.perm, new.perm)
    old, new = (_sparse(T) if isinstance(T, PermutationPlan) else T for T in (old, new))
    if sp.issparse(old) and sp.issparse(new):
        return (old != new).nnz == 0
    return np.array_equal(_dense(old), _dense(new))


def _plan_objective(X: np.ndarray, Y: np.ndarray, A: np.ndarray, B: np.ndarray, T: Any, alpha: float,
                    const: float) -> float:
    """FGW objective (float64) of plan ``T`` between the sets with features ``X``, ``Y`` and
    structures ``A``, ``B``; ``const`` is :func:`~otmix.ot.fgw.structure_constant` at uniform
    marginals. A permutation plan is evaluated by gathers (the feature term from the codes,
    the pair sum over its n entries); any other through :func:`~otmix.ot.fgw.fgw_objective`."""
    if not isinstance(T, PermutationPlan):
        return fgw_objective(feature_cost(X, Y), A, B, _dense(T), alpha, const=const)
    diff = X - Y[T.perm]
    value = alpha * T.scale * float(np.einsum("ij,ij->", diff, diff))
    if alpha < 1.0:
        n = T.perm.size
        cross = _pair_sum(A, B, np.arange(n), T.perm, np.full(n, T.scale))
        value += (1.0 - alpha) * (const - 2.0 * float(cross))
    return value


def _exact_barycenter(
    Zs_np: list[np.ndarray],
    lambdas: np.ndarray,
    Z: np.ndarray,
    alpha: float,
    structure: str,
    max_outer: int,
    tol: float,
    max_iter: int,
    inner_tol: float,
    warm_start: bool,
    callback: Callable[[int, float], None] | None,
    n_workers: int,
    side: _SideInfo,
) -> tuple[np.ndarray, list[np.ndarray], float, int, bool, dict[str, Any], np.ndarray | None]:
    """The exact alternating loop (module docstring) on validated float64 inputs.

    With ``side.features`` the feature cost compares features (the barycenter's are
    updated with Z); ``side.constraints`` holds each modality's links and label pairs.
    """
    with _workers(n_workers, Z.shape[0] * max(Zm.shape[0] for Zm in Zs_np)) as run_all:  # closed even on errors
        return _exact_loop(Zs_np, lambdas, Z, alpha, structure, max_outer, tol, max_iter, inner_tol, warm_start,
                           callback, run_all, side)


def _exact_loop(Zs_np, lambdas, Z, alpha, structure, max_outer, tol, max_iter, inner_tol, warm_start, callback,
                run_all, side):
    """The body of :func:`_exact_barycenter`, with ``run_all`` from :func:`_workers`."""
    n_points = Z.shape[0]
    feats, F_B = side.features, side.F0
    constraints = side.constraints or [None] * len(Zs_np)
    mu_b = np.full(n_points, 1.0 / n_points)
    mus = [np.full(Zm.shape[0], 1.0 / Zm.shape[0]) for Zm in Zs_np]
    structs = [structure_matrix(Zm, structure) for Zm in Zs_np]
    half_consts = [self_structure_constant(Zm, mu, structure) for mu, Zm in zip(mus, Zs_np)]
    low_rank = structure == "sqeuclidean"  # squared distances have rank d + 2: products in O(N^2 d)
    structs32 = [None if low_rank else Am.astype(np.float32) for Am in structs]
    factors_m = [sqeuclidean_factors(Zm) if low_rank else None for Zm in Zs_np]

    plans: list[Any] = [None] * len(Zs_np)
    duals: list[list[np.ndarray | None] | None] = [None] * len(Zs_np)
    guesses: list[list[np.ndarray] | None] = [None] * len(Zs_np)  # assignments to try first (same start)
    products: list[ProductCache | None] = [None] * len(Zs_np)  # each modality's CG products, updated next time
    values: list[float] = []
    inner_iters: list[list[int]] = []
    times = {"time_lmo": 0.0, "time_products": 0.0, "time_other": 0.0}
    full_products = 0
    Z_previous = None
    converged = False
    n_outer = 0
    t_start = time.perf_counter()
    if True:
        for n_outer in range(1, max_outer + 1):
            # the loop's products, costs and values run in float32, or through low-rank factors
            A32 = None if low_rank else structure_matrix(Z, structure, np.float32)
            factors_b = sqeuclidean_factors(Z) if low_rank else None
            half_const_b = self_structure_constant(Z, mu_b, structure)

            moved = None if Z_previous is None else np.flatnonzero((Z != Z_previous).any(axis=1))
            Z_previous = Z

            def solve(m: int, Z=Z, F_B=F_B, A32=A32, factors_b=factors_b, half_const_b=half_const_b, plans=plans,
                      moved=moved):
                cost = feature_cost(Z, Zs_np[m], np.float32) if feats is None else \
                    feature_cost(F_B, feats[m], np.float32)
                return solve_fgw_cg(
                    cost, A32, structs[m], alpha, mu_b, mus[m],
                    init=_dense(plans[m]) if warm_start else None, max_iter=max_iter, tol=inner_tol,
                    duals=duals[m], const=half_const_b + half_consts[m],
                    structs32=None if low_rank else (A32, structs32[m]),
                    factors=(factors_b, factors_m[m]) if low_rank else None,
                    exact_value=False, dense_plan=False, products=products[m], moved=moved,
                    constraints=constraints[m], assignments=guesses[m],
                )

            outs = run_all(solve, range(len(Zs_np)))
            new_plans, total, iters = [], 0.0, []
            for m, out in enumerate(outs):
                duals[m] = out.log["duals"]
                guesses[m] = out.log["assignments"]
                products[m] = out.log["products"]
                full_products += out.log["full_products"]
                new_plans.append(out.plan)
                total += lambdas[m] * out.value
                iters.append(out.n_iter)
                times["time_lmo"] += out.log["time_lmo"]
                times["time_products"] += out.log["time_products"]
            unchanged = all(old is not None and _same_plan(old, new) for old, new in zip(plans, new_plans))
            small_change = bool(values) and abs(values[-1] - total) <= tol * max(abs(total), 1e-300)
            plans = new_plans
            values.append(total)
            inner_iters.append(iters)
            Z = sum(lam * (T @ Zm) for lam, T, Zm in zip(lambdas, plans, Zs_np)) / mu_b[:, None]
            if feats is not None:
                F_B = sum(lam * (T @ Fm) for lam, T, Fm in zip(lambdas, plans, feats)) / mu_b[:, None]
            if callback is not None:
                callback(n_outer, total)
            if unchanged or small_change:
                converged = True
                break

    A = structure_matrix(Z, structure)
    half_const_b = self_structure_constant(Z, mu_b, structure)
    value = float(sum(
        lam * _plan_objective(Z if feats is None else F_B, Zm if feats is None else feats[m], A, Am, T, alpha,
                              half_const_b + h)
        for m, (lam, T, Zm, Am, h) in enumerate(zip(lambdas, plans, Zs_np, structs, half_consts))
    ))
    times["time_other"] = max(0.0, time.perf_counter() - t_start - times["time_lmo"] - times["time_products"])
    log = {"values": values, "inner_iters": inner_iters, "full_products": full_products, **times}
    return Z, plans, value, n_outer, converged, log, F_B
