r"""Exact dense linear assignment with warm-startable duals (shortest augmenting paths).

Solves :math:`\min_\sigma \sum_i C_{i\sigma(i)}` for a square cost by the
Jonker-Volgenant / Crouse shortest-augmenting-path method, keeping dual
potentials :math:`u, v` with :math:`C_{ij} - u_i - v_j \ge 0` and equality on the
assignment. A warm start takes the column duals :math:`v` of a previous, similar
problem (consecutive conditional-gradient steps change the cost little):
:math:`u_i = \min_j (C_{ij} - v_j)` is dual feasible at once, rows whose reduced-cost
minimum falls on a free column are assigned directly, and only the rest need an
augmenting path. The result is optimal whatever the start; only the time depends on it.

Compiled with numba when it is installed (``cache=True``); without numba,
:func:`solve_assignment` falls back to ``scipy.optimize.linear_sum_assignment``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

try:
    from numba import njit
except ImportError:  # pragma: no cover - exercised only without numba
    njit = None

HAVE_NUMBA = njit is not None


def _lsa_kernel(C, v):  # pragma: no cover - compiled; tested through solve_assignment
    n = C.shape[0]
    inf = np.inf
    u = np.empty(n)
    col4row = np.full(n, -1, np.int64)
    row4col = np.full(n, -1, np.int64)
    # Dual-feasible start from the column duals; greedy assignment on zero reduced cost.
    for i in range(n):
        best = inf
        best_j = -1
        for j in range(n):
            r = C[i, j] - v[j]
            if r < best:
                best = r
                best_j = j
        u[i] = best
        if row4col[best_j] == -1:
            row4col[best_j] = i
            col4row[i] = best_j
    shortest = np.empty(n)
    path = np.empty(n, np.int64)
    remaining = np.empty(n, np.int64)
    seen_row = np.zeros(n, np.bool_)
    seen_col = np.zeros(n, np.bool_)
    for cur in range(n):
        if col4row[cur] != -1:
            continue
        for j in range(n):
            shortest[j] = inf
            path[j] = -1
            remaining[j] = n - 1 - j
            seen_col[j] = False
            seen_row[j] = False
        n_remaining = n
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            seen_row[i] = True
            lowest = inf
            idx = -1
            ui = u[i]
            for it in range(n_remaining):
                j = remaining[it]
                r = min_val + C[i, j] - ui - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    idx = it
            min_val = lowest
            if min_val == inf or idx < 0:
                return col4row, u, v, False
            j = remaining[idx]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            seen_col[j] = True
            n_remaining -= 1
            remaining[idx] = remaining[n_remaining]
        u[cur] += min_val
        for r_ in range(n):
            if seen_row[r_] and r_ != cur:
                u[r_] += min_val - shortest[col4row[r_]]
        for c_ in range(n):
            if seen_col[c_]:
                v[c_] -= min_val - shortest[c_]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            tmp = col4row[i]
            col4row[i] = j
            j = tmp
            if i == cur:
                break
    return col4row, u, v, True


if HAVE_NUMBA:
    _lsa_compiled = njit(cache=True, nogil=True)(_lsa_kernel)


def solve_assignment(cost: np.ndarray, col_duals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Optimal assignment of a square cost matrix.

    Parameters
    ----------
    cost : ndarray of shape (n, n), finite
    col_duals : ndarray of shape (n,), optional
        Column potentials of a previous solve to start from (numba path only).

    Returns
    -------
    cols : ndarray of shape (n,)
        ``cols[i]`` is the column assigned to row ``i``.
    col_duals : ndarray of shape (n,) or None
        Column potentials of this solve (None on the scipy fallback).
    """
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    n = cost.shape[0]
    if not HAVE_NUMBA:
        _, cols = linear_sum_assignment(cost)
        return cols, None
    if col_duals is None or col_duals.shape != (n,):
        # two-sided reduction (row minima, then column minima of what is left): a
        # dual-feasible start measured ~1.4x faster than column minima alone
        v = (cost - cost.min(axis=1)[:, None]).min(axis=0)
    else:
        v = np.array(col_duals, dtype=np.float64, copy=True)
    cols, _, v, ok = _lsa_compiled(cost, v)
    if not ok:  # pragma: no cover - only for non-finite costs, rejected upstream
        raise RuntimeError("assignment solver found no feasible augmenting path")
    return cols, v
