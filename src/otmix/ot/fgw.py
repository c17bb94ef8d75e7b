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
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._backend import like, to_numpy
from ._lmo import exact_lmo
from ._validation import check_alpha, check_distribution, check_matrix, check_structure

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


def _sandwich(A: np.ndarray, T: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ T @ B`` that exploits a sparse ``T`` (at most n + m non-zeros)."""
    n, m = T.shape
    if np.count_nonzero(T) <= n + m:
        return A @ (sp.csr_matrix(T) @ B)
    return A @ (T @ B)


def half_structure_constant(A: np.ndarray, p: np.ndarray) -> float:
    """``p^T (A∘A) p``: one side's share of :func:`structure_constant`."""
    return float(p @ (A * A) @ p)


def structure_constant(A: np.ndarray, B: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """``p^T (A∘A) p + q^T (B∘B) q``: the value of ``<c, T>`` on Π(p, q)."""
    return half_structure_constant(A, p) + half_structure_constant(B, q)


def fgw_objective(
    cost: np.ndarray, A: np.ndarray, B: np.ndarray, plan: np.ndarray, alpha: float
) -> float:
    r"""FGW objective :math:`\alpha\langle D,T\rangle + (1-\alpha)\sum (A_{ik}-B_{jl})^2 T_{ij}T_{kl}`.

    ``plan`` must be feasible (its marginals are read off the plan itself).
    Numpy arrays, float64.
    """
    p, q = plan.sum(axis=1), plan.sum(axis=0)
    value = alpha * float(np.vdot(cost, plan))
    if alpha < 1.0:
        quad = structure_constant(A, B, p, q) - 2.0 * float(np.vdot(_sandwich(A, plan, B), plan))
        value += (1.0 - alpha) * quad
    return value


def _line_search(a: float, b: float) -> float:
    if a > 0.0:
        return min(1.0, max(0.0, -b / (2.0 * a)))
    return 1.0 if a + b < 0.0 else 0.0


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
) -> _CGOutput:
    """Conditional gradient on validated float64 numpy inputs (see module docstring).

    ``duals`` are the assignment potentials of a previous, similar solve, one per
    CG iteration (``log["duals"]`` of that solve): iteration k starts from the k-th
    (or, past its end, from this solve's latest). They change the time, never the plan.
    ``const`` is :func:`structure_constant` of (A, B, p, q) when the caller has it.
    """
    t_start = time.perf_counter()
    t_lmo = t_prod = 0.0
    structured = alpha < 1.0
    if init is None:
        T = np.outer(p, q)
        ATB = np.outer(A @ p, B @ q) if structured else None  # A (p q^T) B is rank one
    else:
        T = np.array(init, dtype=np.float64, copy=True)
        t0 = time.perf_counter()
        ATB = _sandwich(A, T, B) if structured else None
        t_prod += time.perf_counter() - t0
    if const is None:
        const = structure_constant(A, B, p, q) if structured else 0.0

    def value_of(T: np.ndarray, ATB: np.ndarray | None) -> float:
        v = alpha * float(np.vdot(D, T))
        if structured:
            v += (1.0 - alpha) * (const - 2.0 * float(np.vdot(ATB, T)))
        return v

    alpha_D = alpha * D
    G = np.empty_like(D)

    f = value_of(T, ATB)
    values = [f]
    converged = False
    gap = np.inf
    n_iter = 0
    previous_duals = list(duals) if duals is not None else []
    dual_log: list[np.ndarray | None] = []
    current_duals = None
    for n_iter in range(1, max_iter + 1):
        if structured:  # G = αD - 4(1-α) A T B, in place
            np.multiply(ATB, -4.0 * (1.0 - alpha), out=G)
            G += alpha_D
        else:
            G = alpha_D
        t0 = time.perf_counter()
        start = previous_duals[n_iter - 1] if n_iter - 1 < len(previous_duals) else current_duals
        V, current_duals = exact_lmo(G, p, q, start)
        dual_log.append(current_duals)
        t_lmo += time.perf_counter() - t0
        b = V.inner(G) - float(np.vdot(G, T))
        gap = -b
        if gap <= tol * abs(f) + tol_abs:
            converged = True
            break
        if structured:
            t0 = time.perf_counter()
            AVB = A @ V.right_product(B)  # the one dense product of the iteration
            t_prod += time.perf_counter() - t0
            s_vv = V.inner(AVB)  # <A V B, V>: a gather, since V is a vertex
            s_v0 = V.inner(ATB)
            s_00 = float(np.vdot(ATB, T))
            a = -2.0 * (1.0 - alpha) * (s_vv - 2.0 * s_v0 + s_00)
        else:
            a = 0.0
        tau = _line_search(a, b)
        if tau <= 0.0:
            converged = True
            break
        T *= 1.0 - tau
        T[V.rows, V.cols] += tau * V.values
        if structured:
            ATB *= 1.0 - tau
            ATB += tau * AVB
        f_new = f + b * tau + a * tau * tau
        values.append(f_new)
        decrease = f - f_new
        f = f_new
        if abs(decrease) <= tol * abs(f) + tol_abs:
            converged = True
            break
    value = value_of(T, ATB)
    elapsed = time.perf_counter() - t_start
    log = {
        "values": values,
        "gap": float(gap),
        "time_lmo": t_lmo,
        "time_products": t_prod,
        "time_other": elapsed - t_lmo - t_prod,
        "duals": dual_log,
    }
    return _CGOutput(T, value, n_iter, converged, log)


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
    """
    alpha = check_alpha(alpha)
    D = check_matrix("cost", to_numpy(cost))
    n, m = D.shape
    A = check_structure("struct_a", to_numpy(struct_a), n)
    B = check_structure("struct_b", to_numpy(struct_b), m)
    p_ = check_distribution("p", None if p is None else to_numpy(p), n)
    q_ = check_distribution("q", None if q is None else to_numpy(q), m)
    T0 = None if init is None else check_plan_init(to_numpy(init), p_, q_)
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    out = solve_fgw_cg(D, A, B, alpha, p_, q_, T0, max_iter=max_iter, tol=tol, tol_abs=tol_abs)
    return FGWResult(like(out.plan, cost), out.value, out.n_iter, out.converged, out.log)
