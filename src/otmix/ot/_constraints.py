r"""Side information on a transport plan: linked rows fixed, labels that forbid mass.

**Links.** A link is a pair of rows known to be the same entity, :math:`(i_k, j_k)`.
The plan's linked block is fixed, :math:`T_{i_k j_k} = t_k = \min(p_{i_k}, q_{j_k})`
(:math:`= 1/n` for equal sizes with uniform weights, so a linked row sends all its
mass to its partner), and the rest of the plan is free:

.. math::

    T = T_L + T_F, \qquad T_F \in \Pi(p - T_L 1,\; q - T_L^\top 1).

A conditional-gradient step keeps :math:`T_L`: the linear minimisation oracle (LMO)
returns :math:`T_L + \arg\min_{T_F} \langle G, T_F\rangle`, solved exactly on the free
rows and columns only (an assignment for square uniform problems).

**Labels.** Rows of known, different labels should share no mass. With
:math:`F_{ij} = [y_i \ne y'_j,\ y_i \ge 0,\ y'_j \ge 0]` (``-1`` = unknown), the plans
allowed are the ones with the least cross-label mass any plan of
:math:`\Pi(p, q)` can have,

.. math::

    S^* = \arg\min_{T \in \Pi(p, q)} \langle F, T\rangle,

which is zero (no mass at all between different known labels) whenever the class
shares allow it, and otherwise the unavoidable minimum (classes with unequal shares
still give a feasible plan). :math:`F` only depends on the classes, so the problem
reduces to a small transport between class masses :math:`a_c, b_{c'}`; by
complementary slackness a plan is in :math:`S^*` exactly when it puts no mass on the
row/column class pairs whose reduced cost :math:`F_{cc'} - u_c - v_{c'}` under an
optimal dual :math:`(u, v)` of that small problem is positive. Those pairs are
**forbidden**: the LMO solves its linear problem with a penalty :math:`P` on them and
checks that the returned vertex puts no mass there (else it raises :math:`P` and
solves again), so every LMO vertex, hence every CG iterate, lies in :math:`S^*` and the
LMO is exact on it (a penalised optimum that avoids the forbidden pairs is optimal
among the plans that avoid them). No forbidden pair ever carries mass: it is a hard
constraint, not a soft cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._lmo import Vertex, exact_lmo

MAX_PENALTY_ROUNDS = 8


def _integer_array(name: str, value: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size == 0:
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    return arr.astype(np.int64)


def check_links(links: Any, sizes: Sequence[int], name: str = "links") -> np.ndarray:
    """Validate a link table: int array (n_links, M), row indices or -1 where the entity is absent.

    Raises a one-line ``ValueError`` for a wrong number of columns, an index out of
    range, a row linked twice within one view, or a link row with fewer than two
    views present.
    """
    M = len(sizes)
    arr = _integer_array(name, links, 2) if np.ndim(links) == 2 else None
    if arr is None:
        shape = np.shape(links)
        raise ValueError(f"{name} must be a 2-D array of shape (n_links, {M}), got shape {shape}")
    if arr.shape[1] != M:
        raise ValueError(f"{name} must have {M} columns (one per view), got {arr.shape[1]}")
    for m, n in enumerate(sizes):
        col = arr[:, m]
        k, twice = link_column_problem(col, n)
        if k is not None:
            raise ValueError(f"{name}[{k}, {m}] = {col[k]} is out of range for a view of {n} rows (-1 = absent)")
        if twice is not None:
            raise ValueError(f"{name}: row {twice} of view {m} is linked more than once")
    few = (arr >= 0).sum(axis=1) < 2
    if few.any():
        k = int(np.flatnonzero(few)[0])
        raise ValueError(f"{name}[{k}] has fewer than two views present; a link joins at least two rows")
    return arr


def link_column_problem(column: np.ndarray, n: int) -> tuple[int | None, int | None]:
    """The first problem of one view's column of a link table (``-1``: absent): the position of the
    first entry outside ``[-1, n)``, else None; then (only when every entry is in range) the first
    row linked to more than one entity, else None. Callers phrase the error."""
    bad = (column < -1) | (column >= int(n))
    if bad.any():
        return int(np.flatnonzero(bad)[0]), None
    values, counts = np.unique(column[column >= 0], return_counts=True)
    twice = counts > 1
    return None, (int(values[twice][0]) if twice.any() else None)


def check_labels(labels: Any, sizes: Sequence[int], name: str = "labels") -> list[np.ndarray | None]:
    """Validate per-set labels: a sequence of M entries, each None or an int array of that set's
    length, -1 meaning unknown."""
    M = len(sizes)
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype != object:
        raise ValueError(f"{name} must be a sequence of {M} arrays (one per set), got one array")
    try:
        entries = list(labels)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of {M} arrays (one per set)") from None
    if len(entries) != M:
        raise ValueError(f"{name} must hold {M} entries (one per set), got {len(entries)}")
    out: list[np.ndarray | None] = []
    for m, (y, n) in enumerate(zip(entries, sizes)):
        if y is None:
            out.append(None)
            continue
        y = _integer_array(f"{name}[{m}]", y, 1)
        if y.shape[0] != n:
            raise ValueError(f"{name}[{m}] must have length {n} (the rows of set {m}), got {y.shape[0]}")
        if (y < -1).any():
            raise ValueError(f"{name}[{m}] holds {int(y.min())}; labels are >= 0, or -1 for unknown")
        out.append(y)
    return out


@dataclass(frozen=True)
class PlanConstraints:
    """Fixed linked entries and forbidden label pairs of one plan of shape (n, m).

    ``free_rows`` / ``free_cols`` are the rows and columns with mass left after the
    fixed entries, ``p_free`` / ``q_free`` that mass. ``row_class`` / ``col_class``
    give every free row and column its class index and ``allowed[c, c']`` says whether
    a free row of class ``c`` may send mass to a free column of class ``c'``
    (None: no labels, everything allowed).
    """

    shape: tuple[int, int]
    fixed_rows: np.ndarray
    fixed_cols: np.ndarray
    fixed_vals: np.ndarray
    free_rows: np.ndarray
    free_cols: np.ndarray
    p_free: np.ndarray
    q_free: np.ndarray
    row_class: np.ndarray | None = None
    col_class: np.ndarray | None = None
    allowed: np.ndarray | None = None
    class_flow: np.ndarray | None = None  # a feasible class-to-class flow on the allowed pairs

    @property
    def square_free(self) -> bool:
        return self.free_rows.size == self.free_cols.size

    def forbidden_mask(self) -> np.ndarray | None:
        """Boolean (free rows x free columns): pairs that must carry no mass."""
        if self.allowed is None:
            return None
        return ~self.allowed[self.row_class[:, None], self.col_class[None, :]]

    def fixed_vertex_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.fixed_rows, self.fixed_cols, self.fixed_vals

    def lmo(self, G: np.ndarray, duals: np.ndarray | None = None) -> tuple[Vertex, np.ndarray | None]:
        """Exact ``argmin <G, T>`` over the constrained plans (module docstring), and duals."""
        G_free = G[np.ix_(self.free_rows, self.free_cols)] if self.free_rows.size < G.shape[0] \
            or self.free_cols.size < G.shape[1] else G
        forbidden = self.forbidden_mask()
        if self.free_rows.size == 0:
            rows, cols, vals = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        elif forbidden is None or not forbidden.any():
            V, duals = exact_lmo(G_free, self.p_free, self.q_free, duals)
            rows, cols, vals = self.free_rows[V.rows], self.free_cols[V.cols], V.values
        else:
            base = np.asarray(G_free, dtype=np.float64)
            spread = float(base.max() - base.min()) + float(np.abs(base).max()) + 1.0
            penalty = spread * (self.free_rows.size + self.free_cols.size)
            for _ in range(MAX_PENALTY_ROUNDS):
                cost = base + penalty * forbidden
                V, new_duals = exact_lmo(cost.astype(G.dtype, copy=False), self.p_free, self.q_free, duals)
                if not forbidden[V.rows, V.cols][V.values > 0].any():
                    break
                penalty *= 16.0
            else:  # pragma: no cover - a feasible support always exists
                raise RuntimeError("label constraints: no plan avoids the forbidden label pairs")
            duals = new_duals
            rows, cols, vals = self.free_rows[V.rows], self.free_cols[V.cols], V.values
        rows = np.concatenate([self.fixed_rows, rows])
        cols = np.concatenate([self.fixed_cols, cols])
        vals = np.concatenate([self.fixed_vals, vals])
        order = np.argsort(rows, kind="stable")
        return Vertex(rows[order], cols[order], vals[order], self.shape), duals

    def start(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low-rank factors ``U (n x r), W (m x r)`` of the free part of the starting plan.

        The free part is the product coupling of the free masses, or, with labels, the
        class-wise product coupling ``sum_{cc'} X_cc' p_c q_c'^T / (a_c b_c')`` of a
        feasible class flow ``X`` on the allowed class pairs; the starting plan is the
        fixed linked entries plus ``U W^T``.
        """
        n, m = self.shape
        if self.free_rows.size == 0:
            return np.zeros((n, 0)), np.zeros((m, 0))
        if self.allowed is None:
            U = np.zeros((n, 1))
            W = np.zeros((m, 1))
            U[self.free_rows, 0] = self.p_free
            W[self.free_cols, 0] = self.q_free / self.q_free.sum()
            return U, W
        flows = np.argwhere(self.class_flow > 0)
        a = np.bincount(self.row_class, weights=self.p_free, minlength=self.allowed.shape[0])
        b = np.bincount(self.col_class, weights=self.q_free, minlength=self.allowed.shape[1])
        U = np.zeros((n, flows.shape[0]))
        W = np.zeros((m, flows.shape[0]))
        for k, (c, c2) in enumerate(flows):
            rows = self.row_class == c
            cols = self.col_class == c2
            U[self.free_rows[rows], k] = self.p_free[rows] / a[c]
            W[self.free_cols[cols], k] = self.q_free[cols] * (self.class_flow[c, c2] / b[c2])
        return U, W

    def start_dense(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        U, W = self.start(p, q)
        T = U @ W.T
        T[self.fixed_rows, self.fixed_cols] += self.fixed_vals
        return T


def _class_indices(labels: np.ndarray | None, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Class index per entry (unknown -1 kept as its own class) and the label of each class."""
    if labels is None:
        return np.zeros(size, np.int64), np.array([-1])
    values, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64), values


def _allowed_class_pairs(
    row_labels: np.ndarray, col_labels: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Class pairs that an optimal plan of the least cross-label mass may use, and one such flow.

    ``row_labels[c]`` is the label of row class c (-1 unknown), ``a`` its mass; likewise
    for the columns. Complementary slackness of the class-level transport with cost
    ``F = [label differs, both known]`` (module docstring).
    """
    import ot

    F = ((row_labels[:, None] != col_labels[None, :]) & (row_labels[:, None] >= 0)
         & (col_labels[None, :] >= 0)).astype(np.float64)
    flow, log = ot.emd(a, b * (a.sum() / b.sum()), F, log=True)
    reduced = F - log["u"][:, None] - log["v"][None, :]
    allowed = reduced < 0.5  # the duals of a 0/1 cost are integers: reduced costs are 0 or >= 1
    flow = np.where(allowed, flow, 0.0)
    return allowed, flow


def pair_constraints(
    p: np.ndarray,
    q: np.ndarray,
    pairs: np.ndarray | None = None,
    row_labels: np.ndarray | None = None,
    col_labels: np.ndarray | None = None,
) -> PlanConstraints | None:
    """Constraints of one plan in Π(p, q): linked ``pairs`` (k x 2, both present) and labels.

    Returns None when there is nothing to constrain. A link that joins two different
    known labels is refused.
    """
    n, m = p.size, q.size
    has_links = pairs is not None and len(pairs) > 0
    has_labels = row_labels is not None and col_labels is not None \
        and (row_labels >= 0).any() and (col_labels >= 0).any()
    if not has_links and not has_labels:
        return None
    if has_links:
        rows, cols = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        if has_labels:
            yr, yc = row_labels[rows], col_labels[cols]
            clash = (yr >= 0) & (yc >= 0) & (yr != yc)
            if clash.any():
                k = int(np.flatnonzero(clash)[0])
                raise ValueError(f"link {k} joins rows of different labels ({yr[k]} and {yc[k]})")
        vals = np.minimum(p[rows], q[cols])
    else:
        rows = cols = np.empty(0, np.int64)
        vals = np.empty(0)
    p_left, q_left = p.copy(), q.copy()
    np.subtract.at(p_left, rows, vals)
    np.subtract.at(q_left, cols, vals)
    scale_p, scale_q = 1e-12 * p.max(), 1e-12 * q.max()
    free_rows = np.flatnonzero(p_left > scale_p)
    free_cols = np.flatnonzero(q_left > scale_q)
    p_free, q_free = p_left[free_rows], q_left[free_cols]
    if free_rows.size and free_cols.size:  # equal totals, up to rounding
        q_free = q_free * (p_free.sum() / q_free.sum())
    constraints = PlanConstraints((n, m), rows, cols, vals, free_rows, free_cols, p_free, q_free)
    if not has_labels or free_rows.size == 0:
        return constraints
    rc, r_values = _class_indices(row_labels[free_rows], free_rows.size)
    cc, c_values = _class_indices(col_labels[free_cols], free_cols.size)
    a = np.bincount(rc, weights=p_free, minlength=r_values.size)
    b = np.bincount(cc, weights=q_free, minlength=c_values.size)
    allowed, flow = _allowed_class_pairs(r_values, c_values, a, b)
    return PlanConstraints((n, m), rows, cols, vals, free_rows, free_cols, p_free, q_free, rc, cc, allowed, flow)


def linked_point_labels(links: np.ndarray, labels: Sequence[np.ndarray | None]) -> np.ndarray:
    """The label of every linked entity: the known label of its rows (-1 if none is known).

    A link whose rows carry different known labels is refused.
    """
    out = np.full(links.shape[0], -1, np.int64)
    for m, y in enumerate(labels):
        if y is None:
            continue
        present = links[:, m] >= 0
        ym = np.full(links.shape[0], -1, np.int64)
        ym[present] = y[links[present, m]]
        clash = (out >= 0) & (ym >= 0) & (out != ym)
        if clash.any():
            k = int(np.flatnonzero(clash)[0])
            raise ValueError(f"links[{k}] joins rows of different labels ({out[k]} and {ym[k]})")
        out = np.where(out >= 0, out, ym)
    return out


def barycenter_point_labels(
    labels: Sequence[np.ndarray | None], lambdas: np.ndarray, n_points: int, linked: np.ndarray | None = None
) -> np.ndarray:
    r"""Labels of the barycenter's points: class shares :math:`\sum_m \lambda_m n_{m,c} / N_m`.

    The share of rows with unknown labels (a view without labels counts as unknown)
    becomes points labelled ``-1``. Counts are rounded by largest remainder; the first
    points are the linked entities with their labels (``linked``), the others are
    filled class by class with what the linked points leave of each class's count.
    """
    shares: dict[int, float] = {}
    for lam, y in zip(lambdas, labels):
        if y is None:
            shares[-1] = shares.get(-1, 0.0) + lam
            continue
        values, counts = np.unique(y, return_counts=True)
        for v, c in zip(values, counts):
            shares[int(v)] = shares.get(int(v), 0.0) + lam * c / y.size
    classes = np.array(sorted(shares))
    raw = np.array([shares[c] for c in classes]) * n_points
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n_points - counts.sum()]] += 1
    n_linked = 0 if linked is None else linked.size
    out = np.full(n_points, -1, np.int64)
    if n_linked:
        out[:n_linked] = linked
        for k, c in enumerate(classes):
            counts[k] = max(0, counts[k] - int(np.sum(linked == c)))
    rest = np.repeat(classes, counts)
    free = n_points - n_linked
    if rest.size < free:  # linked points took more of some class than its share: pad with the largest class
        rest = np.concatenate([rest, np.full(free - rest.size, classes[np.argmax(raw)])])
    out[n_linked:] = rest[:free]
    return out


def barycenter_constraints(
    mu_b: np.ndarray,
    mus: Sequence[np.ndarray],
    links: np.ndarray | None,
    point_labels: np.ndarray | None,
    labels: Sequence[np.ndarray | None] | None,
) -> list[PlanConstraints | None]:
    """One :class:`PlanConstraints` per modality: barycenter point ``k < n_links`` is linked to
    row ``links[k, m]`` of modality ``m`` (when present), and label pairs as in :func:`pair_constraints`."""
    out = []
    for m, mu in enumerate(mus):
        pairs = None
        if links is not None:
            present = np.flatnonzero(links[:, m] >= 0)
            pairs = np.stack([present, links[present, m]], axis=1)
        y = None if labels is None else labels[m]
        out.append(pair_constraints(mu_b, mu, pairs, point_labels if y is not None else None, y))
    return out
