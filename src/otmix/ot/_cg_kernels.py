"""Compiled pieces of the conditional-gradient loop (:func:`otmix.ot.fgw.solve_fgw_cg`) for
assignment LMOs: the assignment and the gathers it feeds in one call, the rank-one start, sums
without float64 copies. Imported on first use (numba)."""

from __future__ import annotations

import numpy as np

from ._assignment import _jit, _jit_sum, _solve, _solve_from


@_jit
def assign_and_gather(G, v, guess, D, ATB):  # pragma: no cover - compiled; tested through fgw
    """The CG step's LMO in one call: the optimal assignment ``cols`` of ``G`` from the column duals
    ``v`` (updated in place) and, unless ``guess`` is empty, a guessed assignment
    (:func:`_solve_from`), and the gathers ``sum_i D[i, cols[i]]``, ``sum_i ATB[i, cols[i]]``
    (``cols`` is returned twice, as the assignment and as the next guess)."""
    if guess.shape[0] == G.shape[0]:
        cols, ok = _solve_from(G, v, guess)
    else:
        cols, ok = _solve(G, v)
    sd = 0.0
    sa = 0.0
    if ok:
        for i in range(cols.shape[0]):
            sd += D[i, cols[i]]
            sa += ATB[i, cols[i]]
    return cols, cols, ok, sd, sa


@_jit
def assign_free_and_gather(G, v, guess, free_rows, free_cols, fixed_rows, fixed_cols, D, ATB):  # pragma: no cover
    """:func:`assign_and_gather` with linked rows: the assignment of the free block
    ``G[free_rows][:, free_cols]`` (duals ``v`` of its columns), the linked rows kept on
    their columns; ``cols`` covers every row, ``c`` is the free block's assignment (the next guess)."""
    nf = free_rows.shape[0]
    C = np.empty((nf, nf), G.dtype)
    for a in range(nf):
        r = free_rows[a]
        for b in range(nf):
            C[a, b] = G[r, free_cols[b]]
    if guess.shape[0] == nf:  # a guess of the free block's assignment
        c, ok = _solve_from(C, v, guess)
    else:
        c, ok = _solve(C, v)
    n = G.shape[0]
    cols = np.empty(n, np.int64)
    for k in range(fixed_rows.shape[0]):
        cols[fixed_rows[k]] = fixed_cols[k]
    for a in range(nf):
        cols[free_rows[a]] = free_cols[c[a]]
    sd = 0.0
    sa = 0.0
    if ok:
        for i in range(n):
            sd += D[i, cols[i]]
            sa += ATB[i, cols[i]]
    return cols, c, ok, sd, sa


@_jit_sum
def bilinear(p, X, q):  # pragma: no cover - compiled; tested through fgw
    """``p^T X q`` in float64 for a float32 or float64 ``X`` (no float64 copy of ``X``)."""
    total = 0.0
    for i in range(X.shape[0]):
        row = 0.0
        for j in range(X.shape[1]):
            row += X[i, j] * q[j]
        total += p[i] * row
    return total


@_jit
def gather_sum(X, rows, cols, vals):  # pragma: no cover - compiled; tested through fgw
    """``sum_k vals[k] X[rows[k], cols[k]]`` in float64."""
    total = 0.0
    for k in range(vals.shape[0]):
        total += vals[k] * X[rows[k], cols[k]]
    return total


@_jit
def rank_one_start(a, b, D, alpha32, coef, ATB, G, alpha_D):  # pragma: no cover - compiled; tested through fgw
    """The product-coupling start in one pass, rounded as the numpy expressions it replaces:
    ``ATB = outer(a, b)`` (float32 products, widened), ``alpha_D = alpha * D`` (float32) and
    ``G = float32(coef * ATB) + alpha_D`` (float32)."""
    for i in range(D.shape[0]):
        for j in range(D.shape[1]):
            x = np.float64(a[i] * b[j])
            ATB[i, j] = x
            ad = alpha32 * D[i, j]
            alpha_D[i, j] = ad
            G[i, j] = np.float32(coef * x) + ad
