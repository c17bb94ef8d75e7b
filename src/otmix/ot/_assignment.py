r"""Exact dense linear assignment with warm-startable duals (Jonker-Volgenant).

Solves :math:`\min_\sigma \sum_i C_{i\sigma(i)}` for a square cost by the
Jonker-Volgenant method, keeping dual potentials :math:`u, v` with reduced costs
:math:`\bar C_{ij} = C_{ij} - u_i - v_j \ge 0` and equality on the assignment. Only
:math:`v` is stored: an assigned row always sits on a column attaining
:math:`\min_j (C_{ij} - v_j)`, so :math:`u_i = C_{i x_i} - v_{x_i}` is implicit. Three phases:

1. **Initial duals.** Cold: two-sided reduction :math:`u_i = \min_j C_{ij}`,
   :math:`v_j = \min_i (C_{ij} - u_i)`. Warm, from the column duals :math:`v` of a previous,
   similar cost (consecutive conditional-gradient steps change the cost little): one
   round of the same reduction, :math:`u_i = \min_j (C_{ij} - v_j)`, then
   :math:`v_j \leftarrow \min_i (C_{ij} - u_i) \ge v_j`. Any finite :math:`v` is a valid
   start; afterwards :math:`|v_j - v_k| \le \max C - \min C`, and :math:`v` is shifted by a
   constant (which changes no reduced cost) to keep the arithmetic well conditioned.
2. **Augmenting row reduction** (the auction-like phase of LAPJV). A free row :math:`i`
   finds the smallest value :math:`u^1 = C_{ij_1} - v_{j_1}` and the second smallest
   :math:`u^2` (at :math:`j_2`) of :math:`C_{ij} - v_j`. If :math:`u^1 < u^2`, it lowers
   :math:`v_{j_1}` by :math:`u^2 - u^1` (so :math:`j_1` still attains row :math:`i`'s
   minimum, now :math:`u^2`), takes :math:`j_1`, and the row it evicts is processed next;
   on a tie it takes :math:`j_1` if free, else :math:`j_2` without a dual change, and the
   evicted row waits for the next pass. Lowering :math:`v_j` only raises other rows'
   reduced costs, so every assigned row stays on a row minimum. Two passes, at most
   ``2 n`` row scans (ties or tiny gaps can otherwise start long price wars).
3. **Shortest augmenting paths.** From each row still free, Dijkstra on the reduced
   costs (row :math:`i` reached at distance :math:`\delta` through its column relaxes
   :math:`d_j \leftarrow \min(d_j, \delta + C_{ij} - v_j - u_i)`) until the nearest column
   is free, at distance :math:`D`; then :math:`v_j \mathrel{+}= d_j - D` on the columns
   finished before it, which keeps :math:`\bar C \ge 0` and makes the path tight, and the
   path is flipped. Among equal distances a free column is preferred.

A guessed assignment can be given too (:func:`_solve_from`: consecutive conditional-gradient
steps often return the same one): after phase 1, every row whose guessed column attains its
row minimum of :math:`C_{ij} - v_j` keeps it, and phases 2 and 3 only see the other rows.

The result is optimal whatever the start (exact in the arithmetic of the input: a
float32 cost is read as float32 and every difference, distance and dual is float64, so
it is the exact optimum of the float32 matrix as given); only the time depends on the
start. The relaxation scan is blocked by 64 columns so that it compiles to SIMD: the
running minimum is taken over order-preserving int64 keys of the float64 distances
(LLVM vectorises integer, not float, min reductions without fast-math), and finished
columns hold NaN, which no comparison selects, instead of being skipped.

Compiled with numba when it is installed (``cache=True``); without numba,
:func:`solve_assignment` falls back to ``scipy.optimize.linear_sum_assignment``.
"""

from __future__ import annotations

import numpy as np

try:
    from llvmlite import ir
    from numba import njit, types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only without numba
    njit = None

HAVE_NUMBA = njit is not None

_B = 64  # columns per block of the vectorised scans
_ARR_PASSES = 2
_ARR_SCANS_PER_ROW = 2  # cap on augmenting-row-reduction row scans, in units of n
_SIGN_OFF = np.int64(0x7FFFFFFFFFFFFFFF)
_KEY_MAX = np.int64(0x7FFFFFFFFFFFFFFF)  # above the key of every float64 but NaN


if HAVE_NUMBA:

    @intrinsic
    def _f64_bits(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen

    @intrinsic
    def _bits_f64(typingctx, k):
        if k != types.int64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen

    _jit = njit(cache=True, nogil=True)
    _jit_inline = njit(cache=True, nogil=True, inline="always")
    _jit_sum = njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})  # sums in any order: SIMD
else:  # pragma: no cover - exercised only without numba

    def _jit(f):
        return f

    _jit_inline = _jit_sum = _jit


@_jit_inline
def _key(x):  # pragma: no cover - compiled
    """Order-preserving int64 key of a float64 (-0.0 keys just below +0.0)."""
    b = _f64_bits(x)
    return b ^ ((b >> 63) & _SIGN_OFF)


@_jit_inline
def _unkey(k):  # pragma: no cover - compiled
    return _bits_f64(k ^ ((k >> 63) & _SIGN_OFF))


@_jit_inline
def _relax(Ci, v, d, pred, base, i, lo, hi):  # pragma: no cover - compiled
    """d_j = min(d_j, base + Ci_j - v_j) (pred_j = i where it drops) on lo:hi; min key of d."""
    km = _KEY_MAX
    for j in range(lo, hi):
        h = base + Ci[j] - v[j]
        dj = d[j]
        if h < dj:
            dj = h
            pred[j] = i
        d[j] = dj
        k = _key(dj)
        km = k if k < km else km
    return km


@_jit
def _scan(Ci, v, d, pred, base, i, bkey):  # pragma: no cover - compiled
    """Relax every column from row i; per-block minimum keys of d into bkey, overall minimum key out."""
    n = Ci.shape[0]
    nb = n // _B  # loop bounds from n (not bkey.shape): LLVM then vectorises the inner loop
    kall = _KEY_MAX
    for b in range(nb):
        km = _relax(Ci, v, d, pred, base, i, b * _B, b * _B + _B)
        bkey[b] = km
        kall = km if km < kall else kall
    if nb * _B < n:
        km = _relax(Ci, v, d, pred, base, i, nb * _B, n)
        bkey[nb] = km
        kall = km if km < kall else kall
    return kall


@_jit
def _argmin(d, row4col, bkey, kall):  # pragma: no cover - compiled
    """First column of minimal d, a free one if several tie; -1 if none is finite."""
    n = d.shape[0]
    lowest = _unkey(kall)
    if not lowest < np.inf:
        return -1
    first = -1
    for b in range(bkey.shape[0]):
        if bkey[b] == kall:
            for j in range(b * _B, min(b * _B + _B, n)):
                if d[j] == lowest:
                    if row4col[j] < 0:
                        return j
                    if first < 0:
                        first = j
    return first


@_jit_inline
def _reduced_block(Ci, v, h, lo, hi):  # pragma: no cover - compiled
    """h_j = Ci_j - v_j on lo:hi; min key of h."""
    km = _KEY_MAX
    for j in range(lo, hi):
        hj = Ci[j] - v[j]
        h[j] = hj
        k = _key(hj)
        km = k if k < km else km
    return km


@_jit
def _reduced_row(Ci, v, h, bkey):  # pragma: no cover - compiled
    """h = Ci - v with per-block minimum keys into bkey; overall minimum key out."""
    n = Ci.shape[0]
    nb = n // _B
    kall = _KEY_MAX
    for b in range(nb):
        km = _reduced_block(Ci, v, h, b * _B, b * _B + _B)
        bkey[b] = km
        kall = km if km < kall else kall
    if nb * _B < n:
        km = _reduced_block(Ci, v, h, nb * _B, n)
        bkey[nb] = km
        kall = km if km < kall else kall
    return kall


@_jit
def _reduce(C, v):  # pragma: no cover - compiled
    """Phase 1: u = rowmin(C - v) (cold: v = 0), then v = colmin(C - u), in place."""
    n = C.shape[0]
    h = np.empty(n)
    bkey = np.empty((n + _B - 1) // _B, np.int64)
    w = np.empty(n)
    for j in range(n):
        w[j] = np.inf
    for i in range(n):
        ui = _unkey(_reduced_row(C[i], v, h, bkey))
        for j in range(n):
            c = C[i, j] - ui
            if c < w[j]:
                w[j] = c
    vmax = -np.inf
    for j in range(n):
        vmax = max(vmax, w[j])
    for j in range(n):  # a constant shift of v changes no reduced cost
        v[j] = w[j] - vmax


@_jit
def _two_smallest(Ci, v, h, bkey):  # pragma: no cover - compiled
    """Smallest value u1 of Ci - v at its first column j1, smallest u2 over the other columns at j2."""
    n = Ci.shape[0]
    k1 = _reduced_row(Ci, v, h, bkey)
    u1 = _unkey(k1)
    j1 = -1
    b1 = 0
    for b in range(bkey.shape[0]):
        if bkey[b] == k1:
            for j in range(b * _B, min(b * _B + _B, n)):
                if h[j] == u1:
                    j1 = j
                    break
            if j1 >= 0:
                b1 = b
                break
    k2 = _KEY_MAX
    for b in range(bkey.shape[0]):
        if b != b1 and bkey[b] < k2:
            k2 = bkey[b]
    for j in range(b1 * _B, min(b1 * _B + _B, n)):
        if j != j1:
            k = _key(h[j])
            if k < k2:
                k2 = k
    u2 = _unkey(k2)
    j2 = -1
    for b in range(bkey.shape[0]):
        if bkey[b] <= k2:  # the block of j1 or a block attaining u2
            for j in range(b * _B, min(b * _B + _B, n)):
                if h[j] == u2 and j != j1:
                    j2 = j
                    break
            if j2 >= 0:
                break
    return u1, j1, u2, j2


@_jit
def _augmenting_row_reduction(C, v, col4row, row4col, free, nfree, max_scans):  # pragma: no cover - compiled
    """Phase 2 on the rows free[:nfree]; returns how many stay free (listed in free[:result])."""
    n = C.shape[0]
    h = np.empty(n)
    bkey = np.empty((n + _B - 1) // _B, np.int64)
    scans = 0
    for _ in range(_ARR_PASSES):
        k = 0
        n_prev = nfree
        nfree = 0
        while k < n_prev:
            if scans >= max_scans:  # keep the rest free for phase 3
                while k < n_prev:
                    free[nfree] = free[k]
                    nfree += 1
                    k += 1
                break
            i = free[k]
            k += 1
            scans += 1
            u1, j1, u2, j2 = _two_smallest(C[i], v, h, bkey)
            i0 = row4col[j1]
            if u1 < u2:
                v[j1] -= u2 - u1
            elif i0 >= 0:
                j1 = j2
                i0 = row4col[j2]
            col4row[i] = j1
            row4col[j1] = i
            if i0 >= 0:
                col4row[i0] = -1
                if u1 < u2:  # reprocess the evicted row at once
                    k -= 1
                    free[k] = i0
                else:
                    free[nfree] = i0
                    nfree += 1
    return nfree


@_jit
def _shortest_augmenting_paths(C, v, col4row, row4col, free, nfree):  # pragma: no cover - compiled
    """Phase 3 for the rows free[:nfree]; False if some row reaches no column (non-finite cost)."""
    n = C.shape[0]
    d = np.empty(n)
    d_done = np.empty(n)
    pred = np.empty(n, np.int64)
    done = np.empty(n, np.int64)
    bkey = np.empty((n + _B - 1) // _B, np.int64)
    for q in range(nfree):
        f = free[q]
        for j in range(n):
            d[j] = np.inf
        kall = _scan(C[f], v, d, pred, 0.0, f, bkey)  # u_f = 0: shifts every path from f alike
        n_done = 0
        while True:
            j = _argmin(d, row4col, bkey, kall)
            if j < 0:
                return False
            lowest = d[j]
            d_done[j] = lowest
            d[j] = np.nan  # finished: no comparison selects or relaxes it any more
            done[n_done] = j
            n_done += 1
            if row4col[j] < 0:
                break
            i = row4col[j]
            # relax from row i at distance `lowest`, u_i = C_ij - v_j (row i sits on column j)
            kall = _scan(C[i], v, d, pred, lowest - (C[i, j] - v[j]), i, bkey)
        for t in range(n_done):
            jj = done[t]
            v[jj] += d_done[jj] - lowest
        while True:  # flip the path back from the free column j to row f
            i = pred[j]
            row4col[j] = i
            nxt = col4row[i]
            col4row[i] = j
            j = nxt
            if i == f:
                break
    return True


@_jit
def _solve(C, v):  # pragma: no cover - compiled
    n = C.shape[0]
    col4row = np.empty(n, np.int64)
    row4col = np.empty(n, np.int64)
    free = np.empty(n, np.int64)
    for j in range(n):
        col4row[j] = -1
        row4col[j] = -1
        free[j] = j
    _reduce(C, v)
    nfree = _augmenting_row_reduction(C, v, col4row, row4col, free, n, _ARR_SCANS_PER_ROW * n)
    ok = _shortest_augmenting_paths(C, v, col4row, row4col, free, nfree)
    return col4row, ok


@_jit
def _solve_from(C, v, guess):  # pragma: no cover - compiled
    """:func:`_solve` from duals ``v`` and a guessed assignment ``guess`` (a permutation): after
    phase 1, every row whose guessed column attains its row minimum of ``C - v`` keeps that column
    (the invariant of phases 2 and 3), and only the other rows go through them. Consecutive
    conditional-gradient steps often return the same assignment: then one extra pass replaces
    phases 2 and 3. The result is optimal whatever the guess."""
    n = C.shape[0]
    col4row = np.empty(n, np.int64)
    row4col = np.empty(n, np.int64)
    free = np.empty(n, np.int64)
    for j in range(n):
        col4row[j] = -1
        row4col[j] = -1
    _reduce(C, v)
    h = np.empty(n)
    bkey = np.empty((n + _B - 1) // _B, np.int64)
    nfree = 0
    for i in range(n):
        lowest = _unkey(_reduced_row(C[i], v, h, bkey))
        j = guess[i]
        if h[j] == lowest and row4col[j] < 0:
            col4row[i] = j
            row4col[j] = i
        else:
            free[nfree] = i
            nfree += 1
    if nfree:
        nfree = _augmenting_row_reduction(C, v, col4row, row4col, free, nfree, _ARR_SCANS_PER_ROW * n)
        ok = _shortest_augmenting_paths(C, v, col4row, row4col, free, nfree)
    else:
        ok = True
    return col4row, ok


def solve_assignment(cost: np.ndarray, col_duals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Optimal assignment of a square cost matrix.

    Parameters
    ----------
    cost : ndarray of shape (n, n), finite
        float64 or float32 (read as given, computed in float64: the exact optimum of the
        float32 matrix); other dtypes are converted to float64.
    col_duals : ndarray of shape (n,), optional
        Column potentials of a previous solve to start from (numba path only). Any finite
        values are a valid start; those of a similar cost make the solve faster. Ignored
        if the shape does not match or a value is not finite.

    Returns
    -------
    cols : ndarray of shape (n,)
        ``cols[i]`` is the column assigned to row ``i``.
    col_duals : ndarray of shape (n,) or None
        Column potentials ``v`` of this solve (float64; None on the scipy fallback): with
        ``u_i = min_j (cost[i, j] - v[j])``, ``cost - u[:, None] - v[None, :] >= 0`` up to
        rounding, with equality on the assignment.
    """
    cost = np.asarray(cost)
    if cost.dtype != np.float32:
        cost = cost.astype(np.float64, copy=False)
    cost = np.ascontiguousarray(cost)
    n = cost.shape[0]
    if not HAVE_NUMBA:
        from scipy.optimize import linear_sum_assignment

        _, cols = linear_sum_assignment(cost)
        return cols, None
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    warm = col_duals is not None and np.shape(col_duals) == (n,) and bool(np.isfinite(col_duals).all())
    v = np.array(col_duals, dtype=np.float64) if warm else np.zeros(n)
    cols, ok = _solve(cost, v)
    if not ok:  # pragma: no cover - only for non-finite costs, rejected upstream
        raise RuntimeError("assignment solver found no feasible augmenting path")
    return cols, v

