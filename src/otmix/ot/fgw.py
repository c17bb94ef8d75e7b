r"""Fused Gromov-Wasserstein (FGW) between two code sets: conditional gradient solver.

For a feature cost :math:`D \in \mathbb{R}^{n\times m}`, symmetric structure matrices
:math:`A \in \mathbb{R}^{n\times n}`, :math:`B \in \mathbb{R}^{m\times m}` and weights
:math:`p, q`, the FGW problem (paper Eq. 2; α weights the Wasserstein term) is

.. math::

    \mathrm{FGW}_\alpha = \min_{T \in \Pi(p, q)}
        \alpha \langle D, T\rangle
        + (1-\alpha) \sum_{ijkl} (A_{ik} - B_{jl})^2 T_{ij} T_{kl}.

On :math:`\Pi(p, q)` the quadratic part equals :math:`\langle c - 2 A T B, T\rangle`
with :math:`c = (A\odot A)p\,1^\top + 1\,q^\top (B\odot B)`, and
:math:`\langle c, T\rangle = p^\top (A\odot A) p + q^\top (B\odot B) q` is the same for
every feasible :math:`T`. Conditional gradient (Frank-Wolfe, Vayer et al. 2020):

1. linear cost :math:`G = \alpha D - 4(1-\alpha) A T B` (the gradient less terms that
   are constant on :math:`\Pi`), exact LMO :math:`\tilde T = \arg\min_{\Pi}\langle G, \cdot\rangle`;
2. exact line search on :math:`f(T + \tau\Delta) = f(T) + b\tau + a\tau^2`, with
   :math:`\Delta = \tilde T - T`, :math:`b = \langle G, \Delta\rangle` and
   :math:`a = -2(1-\alpha)\langle A\Delta B, \Delta\rangle`:
   :math:`\tau = \mathrm{clip}(-b/2a, 0, 1)` if :math:`a > 0`, else
   :math:`\tau = 1` if :math:`a + b < 0` else :math:`0`;
3. :math:`T \leftarrow T + \tau\Delta` and :math:`ATB \leftarrow (1-\tau)ATB + \tau A\tilde TB`.

Because :math:`\tilde T` is a vertex (a permutation / n, or a network-simplex basis
with at most n + m - 1 entries), every inner product with it is a gather; the only
dense n·n·m product per iteration is :math:`A (\tilde T B)`. The Frank-Wolfe gap
:math:`-b = \langle G, T - \tilde T\rangle` is the stopping test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._backend import like, to_numpy
from ._constraints import PlanConstraints, check_labels, check_links, pair_constraints
from ._jit import lazy_njit
from ._lmo import PermutationPlan, Vertex, exact_lmo, is_uniform
from ._validation import check_alpha, check_distribution, check_matrix, check_structure

if TYPE_CHECKING:
    import scipy.sparse as sp

TINY = 1e-300


@dataclass
class FGWResult:
    """Result of :func:`fgw`.

    Attributes
    ----------
    plan : array of shape (n, m)
        Transport plan in Π(p, q), same array type as the inputs.
    value : float
        FGW objective at ``plan``.
    n_iter : int
        Conditional-gradient iterations (one exact LMO each).
    converged : bool
        True when the Frank-Wolfe gap or the relative decrease fell below ``tol``
        (or the line search returned τ = 0) before ``max_iter``.
    log : dict
        ``values`` per iteration, final ``gap``, and seconds spent in ``time_lmo``
        (exact OT), ``time_products`` (A T B products) and ``time_other``.
    """

    plan: Any
    value: float
    n_iter: int
    converged: bool
    log: dict[str, Any] = field(default_factory=dict)


@dataclass
class _CGOutput:
    plan: np.ndarray
    value: float
    n_iter: int
    converged: bool
    log: dict[str, Any]


@lazy_njit(cache=True, nogil=True)
def _pair_sum(A, B, rows, cols, vals):  # pragma: no cover - compiled; tested through fgw_objective
    """``sum_{e,f} vals[e] vals[f] A[rows[e], rows[f]] B[cols[e], cols[f]]`` in float64."""
    total = 0.0
    for e in range(vals.size):
        r, c = rows[e], cols[e]
        acc = 0.0
        for f in range(vals.size):
            acc += vals[f] * A[r, rows[f]] * B[c, cols[f]]
        total += vals[e] * acc
    return total


def sparse_quadratic(A: np.ndarray, B: np.ndarray, plan: np.ndarray) -> float:
    """``<A T B, T>`` in float64: a pair sum over the non-zeros when ``T`` has at most
    ``n + m`` of them (a vertex, e.g. a permutation / n), else two dense products."""
    n, m = plan.shape
    rows, cols = np.nonzero(plan)
    if rows.size <= n + m:
        return float(_pair_sum(A, B, rows.astype(np.int64), cols.astype(np.int64), plan[rows, cols]))
    return float(np.vdot(_sandwich(A, plan, B), plan))


def _sandwich(A: np.ndarray, T: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ T @ B`` that exploits a sparse ``T`` (at most n + m non-zeros)."""
    n, m = T.shape
    if np.count_nonzero(T) <= n + m:
        import scipy.sparse as sp

        return A @ (sp.csr_matrix(T) @ B)
    return A @ (T @ B)


def half_structure_constant(A: np.ndarray, p: np.ndarray) -> float:
    """``p^T (A∘A) p``: one side's share of :func:`structure_constant`."""
    return float(p @ (A * A) @ p)


def structure_constant(A: np.ndarray, B: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """``p^T (A∘A) p + q^T (B∘B) q``: the value of ``<c, T>`` on Π(p, q)."""
    return half_structure_constant(A, p) + half_structure_constant(B, q)


def fgw_objective(
    cost: np.ndarray, A: np.ndarray, B: np.ndarray, plan: np.ndarray, alpha: float, const: float | None = None
) -> float:
    r"""FGW objective :math:`\alpha\langle D,T\rangle + (1-\alpha)\sum (A_{ik}-B_{jl})^2 T_{ij}T_{kl}`.

    ``plan`` must be feasible (its marginals are read off the plan itself).
    Numpy arrays, float64. ``const``: :func:`structure_constant` at the plan's
    marginals, when the caller has it.
    """
    p, q = plan.sum(axis=1), plan.sum(axis=0)
    value = alpha * float(np.vdot(cost, plan))
    if alpha < 1.0:
        quad = (structure_constant(A, B, p, q) if const is None else const) - 2.0 * sparse_quadratic(A, B, plan)
        value += (1.0 - alpha) * quad
    return value


def _line_search(a: float, b: float) -> float:
    if a > 0.0:
        return min(1.0, max(0.0, -b / (2.0 * a)))
    return 1.0 if a + b < 0.0 else 0.0


MAX_CACHED_PRODUCTS = 4  # CG steps whose products a solve keeps for the next one (N x M float32 each)
INCREMENTAL_SHARE = 0.25  # update a product instead of recomputing it when (changed rows) < this share of N


@dataclass
class ProductCache:
    """Products :math:`A V_k B` (float32) of one solve's CG steps, with the ``A`` and the
    permutations ``V_k`` they were computed for; the next solve of the same modality
    updates them (see :func:`_updated_product`)."""

    A32: np.ndarray | None
    perms: list[np.ndarray]
    products: list[np.ndarray]


def _moved_points(A: np.ndarray, A_old: np.ndarray) -> np.ndarray:
    """A set ``S`` with ``A - A_old`` zero outside the rows and columns ``S``.

    For distance matrices a moved point changes (almost) its whole row while any other
    row changes only in the moved columns: rows with more than half their entries
    changed are taken first, then every row that still has a change outside those
    columns (symmetry makes the result cover every change).
    """
    changed = A != A_old
    first = np.count_nonzero(changed, axis=1) > A.shape[1] // 2
    rest = changed[~first][:, ~first].any(axis=1)
    moved = first.copy()
    moved[np.flatnonzero(~first)[rest]] = True
    return np.flatnonzero(moved)


def _updated_product(
    A32: np.ndarray, B32: np.ndarray, V, cache: ProductCache, k: int, changed: np.ndarray
) -> np.ndarray | None:
    r""":math:`A' V' B` from a cached :math:`A V B`, or None when too much changed.

    With :math:`E = A' - A` non-zero only in the rows and columns :math:`S` that
    changed (the barycenter points that moved) and :math:`R` the rows where the
    permutations differ,

    .. math::

        A'V'B = AVB + E\,VB + A'(V' - V)B,

    where :math:`E\,VB = E_{:,S}(VB)_S + [E_{S,:}VB - E_{S,S}(VB)_S]` placed in rows
    :math:`S`, and :math:`A'(V'-V)B = \sum_{r\in R} A'_{:,r}(B_{\sigma'(r)} - B_{\sigma(r)})/n`:
    :math:`O((|R| + 2|S|)\,n\,m)` instead of :math:`O(n^2 m)`. ``changed`` is
    :math:`S`, the points whose rows and columns of ``A32`` differ from ``cache.A32``.
    """
    if not V.is_permutation():
        return None
    old_perm, old = cache.perms[k], cache.products[k]
    n = A32.shape[0]
    moved = np.flatnonzero(V.cols != old_perm)
    if moved.size + 2 * changed.size > INCREMENTAL_SHARE * n:
        return None
    out = old.copy()
    scale = np.float32(V.values[0])
    if changed.size:
        E_rows = A32[changed] - cache.A32[changed]  # E[S, :]; E is symmetric, so E[:, S] = E_rows.T
        M_rows = B32[old_perm[changed]] * scale  # (V B)[S]
        out += E_rows.T @ M_rows
        inverse = np.empty_like(old_perm)
        inverse[old_perm] = np.arange(n)
        out[changed] += E_rows[:, inverse] @ B32 * scale - E_rows[:, changed] @ M_rows
    if moved.size:
        out += A32[:, moved] @ ((B32[V.cols[moved]] - B32[old_perm[moved]]) * scale)
    return out


class LowRankStart:
    """A starting plan ``T0 = T_L + U W^T``: fixed entries ``T_L`` (linked rows) plus a
    low-rank free part (a product coupling, or one per class pair with labels); see
    :meth:`otmix.ot._constraints.PlanConstraints.start`."""

    def __init__(self, constraints, p: np.ndarray, q: np.ndarray):
        self.rows, self.cols, self.vals = constraints.fixed_vertex_parts()
        self.U, self.W = constraints.start(p, q)
        self.shape = (p.size, q.size)

    def inner(self, X: np.ndarray) -> float:
        from ._cg_kernels import bilinear, gather_sum  # compiled: no float64 copy of a float32 X

        total = float(gather_sum(X, self.rows, self.cols, self.vals)) if self.vals.size else 0.0
        for k in range(self.U.shape[1]):
            total += float(bilinear(self.U[:, k], X, self.W[:, k]))
        return total

    def dense(self) -> np.ndarray:
        T = self.U @ self.W.T
        np.add.at(T, (self.rows, self.cols), self.vals)
        return T

    def sandwich(self, structs32=None, factors=None) -> np.ndarray:
        """``A T0 B`` in float64, from float32 structures or low-rank structure factors."""
        if factors is not None:  # A = L_A R_A^T, B = L_B R_B^T: A T0 B = L_A core R_B^T
            (La, Ra), (Lb, Rb) = factors
            core = (Ra.T @ self.U) @ (self.W.T @ Lb)
            if self.vals.size:
                core += (Ra[self.rows] * self.vals[:, None]).T @ Lb[self.cols]
            return (La @ core) @ Rb.T
        A32, B32 = structs32  # float32 products, accumulated in float64
        out = (A32 @ self.U.astype(np.float32)).astype(np.float64) @ (B32 @ self.W.astype(np.float32)).T.astype(
            np.float64)
        if self.vals.size:
            out += A32[:, self.rows] @ (self.vals[:, None].astype(np.float32) * B32[self.cols])
        return out


class _SparsePlan:
    """A CG iterate ``T = w0 * T0 + sum_k t_k e_{i_k j_k}``, kept without dense passes.

    ``T0`` is the product coupling ``p q^T`` (implicit), a given dense start, or a
    :class:`LowRankStart` (links, labels); the rest is the accumulated vertices, so every
    inner product with ``T`` is a gather of its non-zeros (plus one pass over ``T0``
    while ``w0 > 0``).
    """

    def __init__(self, p: np.ndarray, q: np.ndarray, base: np.ndarray | LowRankStart | None):
        self.p, self.q, self.base = p, q, base
        self.w0 = 1.0
        self.rows = np.empty(0, np.int64)
        self.cols = np.empty(0, np.int64)
        self.vals = np.empty(0, np.float64)
        self.perm: np.ndarray | None = None  # sigma while T is exactly one permutation vertex P_sigma / n

    def _base_inner(self, X: np.ndarray) -> float:
        if self.base is None:
            from ._cg_kernels import bilinear  # compiled: no float64 copy of a float32 X

            return float(bilinear(self.p, X, self.q))
        if isinstance(self.base, LowRankStart):
            return self.base.inner(X)
        return float(np.vdot(X, self.base))

    def inner(self, X: np.ndarray) -> float:
        total = 0.0
        if self.vals.size:
            from ._cg_kernels import gather_sum

            total = float(gather_sum(X, self.rows, self.cols, self.vals))
        if self.w0 > 0.0:
            total += self.w0 * self._base_inner(X)
        return total

    def step(self, tau: float, V) -> None:
        """``T <- (1 - tau) T + tau V``; duplicates are merged once they outnumber the rows."""
        self.w0 *= 1.0 - tau
        if tau >= 1.0:
            self.w0 = 0.0
        self.perm = V.perm if tau >= 1.0 else None
        self.vals *= 1.0 - tau
        self.rows = np.concatenate([self.rows, V.rows])
        self.cols = np.concatenate([self.cols, V.cols])
        self.vals = np.concatenate([self.vals, tau * V.values])
        keep = self.vals > 0.0
        if not keep.all():
            self.rows, self.cols, self.vals = self.rows[keep], self.cols[keep], self.vals[keep]
        if self.vals.size > 4 * (self.p.size + self.q.size):
            import scipy.sparse as sp

            merged = sp.coo_array((self.vals, (self.rows, self.cols)), shape=(self.p.size, self.q.size))
            merged.sum_duplicates()
            self.rows, self.cols, self.vals = merged.row.astype(np.int64), merged.col.astype(np.int64), merged.data

    def to_csr(self) -> sp.csr_array:
        """The plan as a sparse matrix (only when no dense start is left, ``w0 == 0``)."""
        import scipy.sparse as sp

        plan = sp.csr_array((self.vals, (self.rows, self.cols)), shape=(self.p.size, self.q.size))
        plan.sum_duplicates()
        return plan

    def dense(self) -> np.ndarray:
        if self.w0 > 0.0:
            if self.base is None:
                T = self.w0 * np.outer(self.p, self.q)
            elif isinstance(self.base, LowRankStart):
                T = self.w0 * self.base.dense()
            else:
                T = self.w0 * self.base
        else:
            T = np.zeros((self.p.size, self.q.size))
        np.add.at(T, (self.rows, self.cols), self.vals)
        return T


@lazy_njit(cache=True, nogil=True)
def _cg_update(ATB, AVB, tau, G, alpha_D, coef):  # pragma: no cover - compiled; tested through fgw
    """One pass: ``ATB <- (1-τ) ATB + τ AVB`` and ``G <- αD + coef ATB`` (G in its own dtype)."""
    n, m = ATB.shape
    keep = 1.0 - tau
    for i in range(n):
        for j in range(m):
            x = keep * ATB[i, j] + tau * AVB[i, j]
            ATB[i, j] = x
            G[i, j] = alpha_D[i, j] + coef * x


def _permutation_lmo(p: np.ndarray, q: np.ndarray, constraints: PlanConstraints | None):
    """The LMO as one compiled call when every vertex is a permutation / n (equal sizes, uniform
    weights; linked rows, if any, fixed on whole rows; no labels): ``(G, duals, D, ATB) ->
    (vertex, new duals, <D, V>, <ATB, V>)``, the assignment and both gathers together. None otherwise
    (the general :func:`~otmix.ot._lmo.exact_lmo` or constrained LMO is used)."""
    n = p.size
    if n != q.size or not (is_uniform(p) and is_uniform(q)) or p[0] != q[0]:
        return None
    scale = float(p[0])
    rows = np.arange(n)
    values = np.full(n, scale)
    if constraints is not None:
        c = constraints
        if c.allowed is not None or c.free_rows.size != c.free_cols.size or c.free_rows.size == 0 \
                or c.fixed_rows.size + c.free_rows.size != n or not np.all(c.fixed_vals == scale) \
                or not (is_uniform(c.p_free) and is_uniform(c.q_free)):
            return None
        free_rows, free_cols = c.free_rows.astype(np.int64), c.free_cols.astype(np.int64)
        fixed_rows, fixed_cols = c.fixed_rows.astype(np.int64), c.fixed_cols.astype(np.int64)
    n_free = n if constraints is None else free_rows.size

    no_guess = np.empty(0, np.int64)

    def lmo(G, duals, guess, D, ATB):
        from ._cg_kernels import assign_and_gather, assign_free_and_gather

        warm = duals is not None and duals.shape == (n_free,) and bool(np.isfinite(duals).all())
        v = np.array(duals, dtype=np.float64) if warm else np.zeros(n_free)
        guess = guess if warm and guess is not None and guess.shape == (n_free,) else no_guess
        if constraints is None:
            cols, block, ok, sd, sa = assign_and_gather(G, v, guess, D, ATB)
        else:
            cols, block, ok, sd, sa = assign_free_and_gather(G, v, guess, free_rows, free_cols, fixed_rows,
                                                             fixed_cols, D, ATB)
        if not ok:  # pragma: no cover - only for non-finite costs, rejected upstream
            raise RuntimeError("assignment solver found no feasible augmenting path")
        return Vertex(rows, cols, values, (n, n), perm=cols), v, block, scale * sd, scale * sa

    return lmo


def solve_fgw_cg(
    D: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    alpha: float,
    p: np.ndarray,
    q: np.ndarray,
    init: np.ndarray | None = None,
    max_iter: int = 1000,
    tol: float = 1e-9,
    tol_abs: float = 1e-12,
    duals: list[np.ndarray | None] | None = None,
    const: float | None = None,
    structs32: tuple[np.ndarray, np.ndarray] | None = None,
    exact_value: bool = True,
    dense_plan: bool = True,
    factors: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    products: ProductCache | None = None,
    moved: np.ndarray | None = None,
    constraints: PlanConstraints | None = None,
    assignments: list[np.ndarray] | None = None,
) -> _CGOutput:
    r"""Conditional gradient on validated float64 numpy inputs (see module docstring).

    ``duals`` are the assignment potentials of a previous, similar solve, one per
    CG iteration (``log["duals"]`` of that solve): iteration k starts from the k-th
    (or, past its end, from this solve's latest). They change the time, never the plan.
    ``const`` is :func:`structure_constant` of (A, B, p, q) when the caller has it.

    With ``exact_value=False`` the float64 ``A`` and ``B`` are not read unless ``init``
    is given, and ``D`` may be float32. ``factors = ((L_A, R_A), (L_B, R_B))`` with
    :math:`A = L_A R_A^\top`, :math:`B = L_B R_B^\top` (e.g. squared distances, rank
    d + 2: :func:`~otmix.ot.structure.sqeuclidean_factors`) replace the dense product by
    :math:`L_A (R_A^\top \tilde T L_B) R_B^\top` in float64: :math:`O(n m r)` instead
    of :math:`O(n^2 m)`, and ``structs32`` is not needed. ``products``: the
    :class:`ProductCache` of a previous, similar solve (``log["products"]``): step k's
    product is then updated from that solve's step k (:func:`_updated_product`) when
    few rows changed, instead of recomputed; ``moved`` (optional) lists the points
    whose rows and columns of ``A`` differ from the cached one's (found by comparing
    the matrices otherwise). ``constraints`` (:class:`~otmix.ot._constraints.PlanConstraints`):
    linked entries fixed and label pairs forbidden; every LMO is then solved on the
    free rows and columns with the forbidden pairs excluded, and the start (when
    ``init`` is None) is the constraints' own feasible plan. None: today's problem.

    Speed: the iterate is kept sparse (:class:`_SparsePlan`), the one dense product
    :math:`A(\tilde T B)` per step runs in float32 (``structs32``: float32 copies of
    A and B, made here when not given) and is accumulated into the float64
    :math:`ATB`, and the LMO reads a float32 copy of the gradient that one compiled
    pass writes with that update. Objective values, the gap and the line search use
    float64 gathers of :math:`D` and :math:`ATB`; the returned value is recomputed
    in float64 (:func:`fgw_objective`) unless ``exact_value=False``, when it carries
    the float32 products' rounding (relative ~1e-7). ``dense_plan=False`` returns
    the plan as a ``scipy.sparse.csr_array`` when it has no dense part left, or as a
    :class:`~otmix.ot._lmo.PermutationPlan` when it is one assignment vertex.
    """
    t_start = time.perf_counter()
    t_lmo = t_prod = 0.0
    structured = alpha < 1.0
    if structured and structs32 is None and factors is None:
        structs32 = (A.astype(np.float32), B.astype(np.float32))
    if init is None and constraints is not None:
        base = LowRankStart(constraints, p, q)
    else:
        base = None if init is None else np.array(init, dtype=np.float64, copy=True)
    T = _SparsePlan(p, q, base)
    ATB = G = alpha_D = None
    if structured and isinstance(base, LowRankStart):
        if factors is None and structs32 is None:
            structs32 = (A.astype(np.float32), B.astype(np.float32))
        ATB = base.sandwich(structs32=None if factors is not None else structs32, factors=factors)
    elif structured and init is None and factors is not None:  # A (p q^T) B is rank one
        (La, Ra), (Lb, Rb) = factors
        ATB = np.outer(La @ (Ra.T @ p), Lb @ (Rb.T @ q))
    elif structured and init is None:
        A32, B32 = structs32
        a32, b32 = A32 @ p.astype(np.float32), B32 @ q.astype(np.float32)
        if D.dtype == np.float32:  # ATB, alpha D and G in one compiled pass
            from ._cg_kernels import rank_one_start

            ATB = np.empty(D.shape)
            G = np.empty(D.shape, dtype=np.float32)
            alpha_D = np.empty(D.shape, dtype=np.float32)
            rank_one_start(a32, b32, D, np.float32(alpha), -4.0 * (1.0 - alpha), ATB, G, alpha_D)
        else:
            ATB = np.outer(a32, b32).astype(np.float64)
    elif structured:
        t0 = time.perf_counter()
        if factors is not None:
            (La, Ra), (Lb, Rb) = factors
            ATB = (La @ ((Ra.T @ T.base) @ Lb)) @ Rb.T
        else:
            ATB = np.asarray(_sandwich(A, T.base, B), dtype=np.float64)
        t_prod += time.perf_counter() - t0
    if const is None:
        const = structure_constant(A, B, p, q) if structured else 0.0
    coef = -4.0 * (1.0 - alpha)

    def linear(X_D: float, X_ATB: float) -> float:  # <G, X> from <D, X> and <ATB, X>
        return alpha * X_D + (coef * X_ATB if structured else 0.0)

    def value_of(T_D: float, T_ATB: float) -> float:
        return alpha * T_D + ((1.0 - alpha) * (const - 2.0 * T_ATB) if structured else 0.0)

    if G is None:
        alpha_D = alpha * D
        G = np.empty(D.shape, dtype=np.float32)
        if structured:
            np.multiply(ATB, coef, out=G, casting="unsafe")
            G += alpha_D
        else:
            G[...] = alpha_D

    T_D, T_ATB = T.inner(D), (T.inner(ATB) if structured else 0.0)
    f = value_of(T_D, T_ATB)
    values = [f]
    converged = False
    gap = np.inf
    n_iter = 0
    previous_duals = list(duals) if duals is not None else []
    new_products = ProductCache(structs32[0] if structs32 is not None else None, [], [])
    n_full = 0
    changed = None  # rows of A that differ from the cached products' A
    if structs32 is not None and products is not None and products.A32 is not None \
            and products.A32.shape == structs32[0].shape:
        changed = _moved_points(structs32[0], products.A32) if moved is None else moved
    dual_log: list[np.ndarray | None] = []
    current_duals = None
    permutation_lmo = _permutation_lmo(p, q, constraints) if structured else None
    previous_guesses = list(assignments) if assignments is not None else []
    guess_log: list[np.ndarray] = []
    current_guess = None
    for n_iter in range(1, max_iter + 1):
        t0 = time.perf_counter()
        start = previous_duals[n_iter - 1] if n_iter - 1 < len(previous_duals) else current_duals
        if permutation_lmo is not None:  # guess: this solve's previous assignment, else the last solve's first
            guess = current_guess if n_iter > 1 else (previous_guesses[0] if previous_guesses else None)
            V, current_duals, current_guess, V_D, V_ATB = permutation_lmo(G, start, guess, D, ATB)
            guess_log.append(current_guess)
        else:
            if constraints is None:
                V, current_duals = exact_lmo(G, p, q, start)
            else:
                V, current_duals = constraints.lmo(G, start)
            V_D = V.inner(D)
            V_ATB = V.inner(ATB) if structured else 0.0
        dual_log.append(current_duals)
        t_lmo += time.perf_counter() - t0
        b = linear(V_D, V_ATB) - linear(T_D, T_ATB)
        gap = -b
        if gap <= tol * abs(f) + tol_abs:
            converged = True
            break
        if structured:
            t0 = time.perf_counter()
            if factors is not None:  # A V B = L_A (R_A^T V L_B) R_B^T
                (La, Ra), (Lb, Rb) = factors
                core = (Ra[V.rows] * V.values[:, None]).T @ Lb[V.cols]
                AVB = (La @ core) @ Rb.T
            else:
                A32, B32 = structs32
                AVB = None
                if changed is not None and n_iter - 1 < len(products.perms):
                    AVB = _updated_product(A32, B32, V, products, n_iter - 1, changed)
                if AVB is None:
                    AVB = A32 @ V.right_product(B32).astype(np.float32, copy=False)  # the one dense product
                    n_full += 1
                if V.is_permutation() and n_iter - 1 < MAX_CACHED_PRODUCTS:
                    new_products.perms.append(V.cols)
                    new_products.products.append(AVB)
            t_prod += time.perf_counter() - t0
            s_vv = V.inner(AVB)  # <A V B, V>: a gather, since V is a vertex
            a = -2.0 * (1.0 - alpha) * (s_vv - 2.0 * V_ATB + T_ATB)
        else:
            a = 0.0
        tau = _line_search(a, b)
        if tau <= 0.0:
            converged = True
            break
        T.step(tau, V)
        if structured:
            _cg_update(ATB, AVB, tau, G, alpha_D, coef)
        T_D = (1.0 - tau) * T_D + tau * V_D
        T_ATB = T.inner(ATB) if structured else 0.0
        f_new = f + b * tau + a * tau * tau
        values.append(f_new)
        decrease = f - f_new
        f = f_new
        if abs(decrease) <= tol * abs(f) + tol_abs:
            converged = True
            break
    if not dense_plan and T.perm is not None:
        plan = PermutationPlan(T.perm, float(T.vals[0]))
    else:
        plan = T.to_csr() if not dense_plan and T.w0 == 0.0 else T.dense()
    if exact_value:
        value = fgw_objective(D, A, B, plan.toarray() if isinstance(plan, PermutationPlan) else plan, alpha)
    else:
        value = value_of(T.inner(D), T.inner(ATB) if structured else 0.0)
    elapsed = time.perf_counter() - t_start
    log = {
        "values": values,
        "gap": float(gap),
        "time_lmo": t_lmo,
        "time_products": t_prod,
        "time_other": elapsed - t_lmo - t_prod,
        "duals": dual_log,
        "assignments": guess_log,
        "products": new_products,
        "full_products": n_full,
    }
    return _CGOutput(plan, value, n_iter, converged, log)


def check_plan_init(init: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """A starting plan: finite, non-negative, of shape (n, m), with marginals p and q."""
    n, m = p.shape[0], q.shape[0]
    check_matrix("init", init)
    if init.shape != (n, m):
        raise ValueError(f"init must have shape ({n}, {m}), got {init.shape}")
    if np.any(init < 0):
        raise ValueError("init has negative entries")
    if not (np.allclose(init.sum(axis=1), p, atol=1e-8) and np.allclose(init.sum(axis=0), q, atol=1e-8)):
        raise ValueError("init does not have the marginals p and q")
    return init


def check_init_constraints(init: np.ndarray, constraints: PlanConstraints) -> None:
    """A starting plan must already hold the linked entries and no forbidden label mass."""
    fixed = init[constraints.fixed_rows, constraints.fixed_cols]
    if not np.allclose(fixed, constraints.fixed_vals, atol=1e-12):
        raise ValueError("init does not hold the linked entries at their fixed values")
    forbidden = constraints.forbidden_mask()
    if forbidden is not None:
        block = init[np.ix_(constraints.free_rows, constraints.free_cols)]
        if block[forbidden].sum() > 1e-12:
            raise ValueError("init puts mass between rows of different labels")


def fgw(
    cost: Any,
    struct_a: Any,
    struct_b: Any,
    alpha: float = 0.5,
    p: Any = None,
    q: Any = None,
    init: Any = None,
    max_iter: int = 1000,
    tol: float = 1e-9,
    tol_abs: float = 1e-12,
    links: Any = None,
    labels: Any = None,
) -> FGWResult:
    r"""Fused Gromov-Wasserstein plan and value by conditional gradient.

    Solves :math:`\min_{T\in\Pi(p,q)} \alpha\langle D,T\rangle + (1-\alpha)\sum_{ijkl}
    (A_{ik}-B_{jl})^2 T_{ij}T_{kl}` with an exact LMO and the exact line search
    (module docstring). POT's ``fused_gromov_wasserstein(M, C1, C2, alpha=1 - α)``
    solves the same problem.

    Parameters
    ----------
    cost : array of shape (n, m)
        Feature cost ``D`` (e.g. squared Euclidean distances between codes).
    struct_a, struct_b : arrays of shape (n, n) and (m, m)
        Symmetric structure matrices ``A`` and ``B``.
    alpha : float in [0, 1]
        Weight of the Wasserstein (feature) term; ``1 - alpha`` weighs the structure.
    p, q : arrays of shape (n,), (m,), optional
        Marginals (uniform by default).
    init : array of shape (n, m), optional
        Feasible starting plan (default: the product coupling ``p q^T``).
    max_iter : int
        Maximum conditional-gradient iterations.
    tol, tol_abs : float
        Stop when the Frank-Wolfe gap or the decrease of the objective is at most
        ``tol * |f| + tol_abs``.
    links : int array of shape (n_links, 2), optional
        Linked pairs ``(i, j)``: row ``i`` of the first set and row ``j`` of the second
        are the same entity. Their plan entries are fixed at ``min(p_i, q_j)`` (the whole
        row's mass for equal sizes with uniform weights) and only the other rows are
        optimised, exactly: the problem solved is
        :math:`\min \{ f(T) : T \in \Pi(p, q),\ T_{ij} = \min(p_i, q_j)\ \forall (i, j)
        \in \text{links} \}`. A row may be linked once.
    labels : pair of int arrays of lengths n and m, optional
        Class of every row (``-1`` = unknown; either entry may be None). Plans then put
        no mass between rows of different known labels; when the class shares of the
        two sets differ so that some cross-label mass is unavoidable, the plans carry
        the least such mass possible (a hard constraint solved exactly, see
        :mod:`otmix.ot._constraints`; unknown labels are free).

    Returns
    -------
    FGWResult
        ``plan`` has the type, dtype and device of ``cost``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> from otmix.ot import fgw
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 3)); perm = rng.permutation(20)
    >>> res = fgw(cdist(X, X[perm], "sqeuclidean"), cdist(X, X), cdist(X[perm], X[perm]))
    >>> round(res.value, 12)
    0.0

    With a tenth of the rows linked, the permutation is recovered from links alone
    (α = 1: no structure term):

    >>> links = np.stack([np.arange(2), np.argsort(perm)[:2]], axis=1)
    >>> fgw(cdist(X, X[perm], "sqeuclidean"), cdist(X, X), cdist(X[perm], X[perm]), alpha=1.0,
    ...     links=links).plan[links[:, 0], links[:, 1]] * 20
    array([1., 1.])
    """
    alpha = check_alpha(alpha)
    A_ = to_numpy(struct_a)
    B_ = to_numpy(struct_b)
    D = check_matrix("cost", to_numpy(cost))
    n, m = D.shape
    square = all(S.ndim == 2 and S.shape[0] == S.shape[1] for S in (A_, B_))
    if square and A_.shape[0] != n and B_.shape[0] != m:  # both structures disagree: the cost is wrong
        raise ValueError(f"cost must have shape ({A_.shape[0]}, {B_.shape[0]}) to match struct_a and struct_b, "
                         f"got {D.shape}")
    if square and A_.shape[0] != n:
        raise ValueError(f"struct_a must have shape ({n}, {n}) to match the {n} rows of cost, got {A_.shape}")
    if square and B_.shape[0] != m:
        raise ValueError(f"struct_b must have shape ({m}, {m}) to match the {m} columns of cost, got {B_.shape}")
    A = check_structure("struct_a", A_, n)
    B = check_structure("struct_b", B_, m)
    p_ = check_distribution("p", None if p is None else to_numpy(p), n)
    q_ = check_distribution("q", None if q is None else to_numpy(q), m)
    pairs = None if links is None else check_links(links, (n, m))
    yr = yc = None
    if labels is not None:
        yr, yc = check_labels(labels, (n, m))
    constraints = pair_constraints(p_, q_, pairs, yr, yc)
    T0 = None if init is None else check_plan_init(to_numpy(init), p_, q_)
    if T0 is not None and constraints is not None:
        check_init_constraints(T0, constraints)
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    out = solve_fgw_cg(D, A, B, alpha, p_, q_, T0, max_iter=max_iter, tol=tol, tol_abs=tol_abs,
                       constraints=constraints)
    for internal in ("products", "full_products", "assignments"):  # the barycenter's reuse, not for callers
        out.log.pop(internal, None)
    return FGWResult(like(out.plan, cost), out.value, out.n_iter, out.converged, out.log)
