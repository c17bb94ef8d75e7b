r"""Aligning unaligned views: Gromov-Wasserstein restarts, orthogonal Procrustes, an alignability score.

Codes of independently encoded views share no coordinates, so the FGW feature term
cannot compare them until the views are aligned. :func:`align_views` aligns every
view onto a reference view :math:`r`:

1. **Scale.** Every view is centred and scaled to unit root-mean-square norm (GW
   compares distances, so views must share a scale).
2. **Pure GW from restarts** (:math:`\alpha = 0`: geometry only). Restart 0 starts
   from the product coupling, restart :math:`s \ge 1` from
   :math:`0.8\, p q^\top + 0.2\, P_{\sigma_s}/N` with a seeded random permutation
   :math:`\sigma_s` (for unequal sizes, a random vertex of :math:`\Pi(p, q)`). The plan
   of the lowest GW objective is kept. With links, the linked rows are fixed in every
   restart (:func:`otmix.ot.fgw`), and the feature term is on from the start
   (:func:`otmix.ot.link_cost` as the cost, at the working α).
3. **Procrustes rounds.** :math:`R_m = \arg\min_{R^\top R = I} \|\,\mathrm{diag}(1/p)\, T Z_m R
   - Z_r\|^2_{p}` , i.e. :math:`R_m = UV^\top` for :math:`Z_m^\top T^\top Z_r = U\Sigma V^\top`
   (with links and no plan yet: fitted on the linked pairs alone); then FGW at the
   working ``alpha`` between :math:`Z_r` and :math:`Z_m R_m` (feature cost: squared
   distances of the rotated codes), warm-started from the current plan; repeated
   ``rounds`` times or until the plan stops changing.

**Alignability** (no labels). If the geometry identifies the matching, the better
restarts agree on it; if it does not (heterogeneous views: the GW objective at the
true pairing is 2–3× above minima found from random starts, DESIGN notes §6),
restarts land in different minima of similar objective. The score of a view pair is
the mean agreement :math:`\operatorname{agree}(T^*, T_s) = \sum_i \max_j
\min(T^*_{ij}, T_{s,ij}) / \sum T^*` — the share of mass that both plans send to the
same place (the share of rows matched alike, for permutations) — between the best
restart's plan and the plans of the other near-optimal restarts, computed on
the free (unlinked) rows. Near-optimal means an objective within 10 % of the mean
restart objective above the best one (at least the second best restart is always
compared, so a lone minimum is not taken as confirmed; when the best restart is alone
that way, more restarts are run, up to 3 × ``restarts``, until another one reaches it).
It lies in [0, 1]; chance is about :math:`1/N`. A pair is
called **alignable** when its score is at least :data:`ALIGNABLE_THRESHOLD` = 0.5,
calibrated on the real data sets (``benchmarks/align_probe.py``): ORL's two identical
views score about 1, the heterogeneous pairs of orl4, digits2, movies and
prokaryotic below 0.1 without links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._backend import to_numpy
from ._constraints import check_links
from ._validation import check_alpha, check_codes
from .fgw import fgw
from .links import link_cost
from .structure import check_structure_kind, feature_cost, structure_matrix

ALIGNABLE_THRESHOLD = 0.5
RESTART_VERTEX = 0.2  # share of the random vertex in a restart's start (0.5 found ORL's twins less often)
MIN_LINKS_TO_HOLD_OUT = 5  # with fewer links the score is the restarts' agreement, as without links
HELD_OUT = 0.2  # share of the links held out per split of the linked score
MAX_RESTART_FACTOR = 3  # a lone best restart: up to this many times ``restarts`` starts in all
NEAR_OPTIMAL = 0.1  # restarts within 10 % (of the mean objective) of the best count as near-optimal


@dataclass
class Alignability:
    """Alignability of one pair of views (module docstring)."""

    views: tuple[int, int]
    score: float
    alignable: bool

    def as_dict(self) -> dict[str, Any]:
        return {"views": list(self.views), "score": self.score, "alignable": self.alignable}


@dataclass
class AlignResult:
    """Result of :func:`align_views`.

    Attributes
    ----------
    reference : int
        The view every other view is aligned onto.
    plans : list of ndarray of shape (N_r, N_m)
        Plan from the reference view to every view (``plans[reference]`` is the identity / N_r).
    rotations : list of ndarray of shape (d, d)
        Orthogonal maps: ``aligned[m] = scaled[m] @ rotations[m]``.
    aligned : list of ndarray of shape (N_m, d)
        Every view centred, scaled to unit RMS norm and rotated onto the reference.
    objectives : ndarray of shape (M, restarts)
        Objective of every restart of every view's problem (NaN on the reference's row;
        restarts added because the best one was alone are in ``log["extra_objectives"]``):
        pure GW without links, FGW at ``alpha`` on the link cost with links.
    alignability : list of Alignability
        One per pair (reference, m).
    log : dict
        ``best_restart`` per view, ``rounds`` done per view, ``scales`` (the RMS norms).
    """

    reference: int
    plans: list[np.ndarray]
    rotations: list[np.ndarray]
    aligned: list[np.ndarray]
    objectives: np.ndarray
    alignability: list[Alignability]
    log: dict[str, Any] = field(default_factory=dict)


def plan_agreement(T_best: np.ndarray, T: np.ndarray, rows: np.ndarray | None = None) -> float:
    """Share of ``T_best``'s mass (on ``rows``) that ``T`` sends to the same columns: ``sum min(T*, T) / sum T*``."""
    if rows is not None:
        T_best, T = T_best[rows], T[rows]
    total = T_best.sum()
    return float(np.minimum(T_best, T).sum() / total) if total > 0 else 1.0


def procrustes_rotation(X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    r"""Orthogonal :math:`R = \arg\min_{R^\top R = I} \|XR - Y\|^2`.

    :math:`R = UV^\top` for :math:`X^\top Y = U\Sigma V^\top`.

    ``weights`` (optional) weighs the rows. X and Y have the same shape.
    """
    M = X.T @ (Y if weights is None else Y * weights[:, None])
    U, _, Vt = np.linalg.svd(M)
    return U @ Vt


def _scaled(Z: np.ndarray) -> tuple[np.ndarray, float]:
    Z = Z - Z.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum(Z * Z, axis=1))))
    return (Z / scale if scale > 0 else Z), scale


def _restart_start(n: int, m: int, rng: np.random.Generator, pairs: np.ndarray | None = None) -> np.ndarray:
    """Mostly the product coupling, a share ``RESTART_VERTEX`` of a random vertex, on the rows left free
    by the linked ``pairs`` (which keep their fixed entries)."""
    import ot

    p, q = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    T = np.zeros((n, m))
    if pairs is not None:
        vals = np.minimum(p[pairs[:, 0]], q[pairs[:, 1]])
        T[pairs[:, 0], pairs[:, 1]] = vals
        p, q = p.copy(), q.copy()
        p[pairs[:, 0]] -= vals
        q[pairs[:, 1]] -= vals
    rows, cols = np.flatnonzero(p > 1e-15), np.flatnonzero(q > 1e-15)
    pf, qf = p[rows], q[cols] * (p[rows].sum() / q[cols].sum())
    if rows.size == cols.size:
        vertex = np.zeros((rows.size, rows.size))
        vertex[np.arange(rows.size), rng.permutation(rows.size)] = pf
    else:
        vertex = ot.emd(pf, qf, rng.random((rows.size, cols.size)))
    T[np.ix_(rows, cols)] += (1.0 - RESTART_VERTEX) * np.outer(pf, qf) / pf.sum() + RESTART_VERTEX * vertex
    return T


def _pair_from_links(links: np.ndarray | None, r: int, m: int) -> np.ndarray | None:
    if links is None:
        return None
    both = (links[:, r] >= 0) & (links[:, m] >= 0)
    return np.stack([links[both, r], links[both, m]], axis=1) if both.any() else None


def align_views(
    Zs: Sequence[Any],
    restarts: int = 8,
    alpha: float = 0.5,
    links: Any = None,
    structure: str = "euclidean",
    reference: int = 0,
    rounds: int = 5,
    random_state: int | np.random.Generator | None = None,
    max_iter: int = 200,
) -> AlignResult:
    """Align every view onto a reference: pure-GW restarts, then Procrustes + FGW rounds.

    See the module docstring for the method and the alignability score.

    Parameters
    ----------
    Zs : list of arrays of shape (N_m, d)
        Codes of every view (shared width d; lengths may differ).
    restarts : int >= 1
        Seeded starts of the first (geometry-only) solve per view; the lowest objective
        is kept and their agreement is the alignability score.
    alpha : float in [0, 1]
        Working α of the Procrustes rounds (weight of the feature term).
    links : int array (n_links, M), optional
        Linked records (as in :func:`otmix.ot.fgw_barycenter`): fixed in every plan;
        the first rotation is fitted on them and the first solves use
        :func:`otmix.ot.link_cost`.
    structure : {"euclidean", "sqeuclidean"}
    reference : int
        The view the others are aligned onto.
    rounds : int >= 0
        Procrustes + FGW rounds after the restarts.
    random_state : int, Generator or None
    max_iter : int
        Conditional-gradient iterations per solve.

    Returns
    -------
    AlignResult

    Examples
    --------
    A rotated, permuted copy of a point cloud is recovered:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)) * [3.0, 2.0, 1.0]
    >>> Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]; perm = rng.permutation(60)
    >>> res = align_views([X, X[perm] @ Q], restarts=4, random_state=0)
    >>> bool(np.all(res.plans[1].argmax(axis=1) == np.argsort(perm)))
    True
    >>> res.alignability[0].alignable
    True
    """
    Zs_np = [to_numpy(Z) for Z in Zs]
    check_codes(Zs_np)
    alpha = check_alpha(alpha)
    check_structure_kind(structure)
    M = len(Zs_np)
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
    if not (isinstance(reference, (int, np.integer)) and 0 <= reference < M):
        raise ValueError(f"reference must be a view index in [0, {M}), got {reference!r}")
    links_ = None if links is None else check_links(links, [Z.shape[0] for Z in Zs_np])
    rng = np.random.default_rng(random_state)
    scaled, scales = zip(*(_scaled(Z) for Z in Zs_np))
    r = int(reference)
    Zr = scaled[r]
    A = structure_matrix(Zr, structure)
    d = Zr.shape[1]
    n_r = Zr.shape[0]
    plans: list[np.ndarray] = [np.eye(n_r) / n_r if m == r else None for m in range(M)]
    rotations = [np.eye(d) for _ in range(M)]
    objectives = np.full((M, int(restarts)), np.nan)
    best_restart, rounds_done, pairs_out = [None] * M, [0] * M, []
    extra: list[list[float]] = [[] for _ in range(M)]
    for m in range(M):
        if m == r:
            continue
        Zm = scaled[m]
        B = structure_matrix(Zm, structure)
        pairs = _pair_from_links(links_, r, m)
        if pairs is not None:
            cost, first_alpha = link_cost(Zr, Zm, pairs), alpha
        else:
            cost, first_alpha = np.zeros((n_r, Zm.shape[0])), 0.0
        if pairs is not None and pairs.shape[0] >= MIN_LINKS_TO_HOLD_OUT:
            T, score, objectives[m] = _held_out_score(Zr, Zm, A, B, pairs, alpha, int(restarts), rng, max_iter)
            best_restart[m] = None
        else:
            found, values = [], []
            while len(found) < int(restarts) or (len(found) < MAX_RESTART_FACTOR * int(restarts)
                                                 and _lone_minimum(np.array(values))):
                init = None if not found else _restart_start(n_r, Zm.shape[0], rng, pairs)
                res = fgw(cost, A, B, alpha=first_alpha, init=init, max_iter=max_iter, links=pairs)
                values.append(res.value)
                found.append(res.plan)
            extra[m] = values[int(restarts):]
            objectives[m] = values[: int(restarts)]
            order = np.argsort(values)
            best = int(order[0])
            best_restart[m] = best
            free = np.setdiff1d(np.arange(n_r), pairs[:, 0]) if pairs is not None else None
            others = _near_optimal(np.array(values), order)
            score = float(np.mean([plan_agreement(found[best], found[k], free) for k in others])) if len(others) \
                else 1.0
            T = found[best]
        pairs_out.append(Alignability((r, m), score, score >= ALIGNABLE_THRESHOLD))
        R = _plan_rotation(T, Zr, Zm)
        for k in range(int(rounds)):
            rotated = feature_cost(Zr, Zm @ R)
            if pairs is not None:  # keep what the links say beside the rotated coordinates
                rotated = rotated / max(rotated.mean(), 1e-300) + cost / max(cost.mean(), 1e-300)
            res = fgw(rotated, A, B, alpha=alpha, init=T, max_iter=max_iter, links=pairs)
            changed = not np.array_equal(res.plan, T)
            T = res.plan
            R = _plan_rotation(T, Zr, Zm)
            rounds_done[m] = k + 1
            if not changed:
                break
        plans[m], rotations[m] = T, R
    aligned = [Z @ R for Z, R in zip(scaled, rotations)]
    log = {"best_restart": best_restart, "rounds": rounds_done, "scales": list(scales), "extra_objectives": extra}
    return AlignResult(r, plans, rotations, aligned, objectives, pairs_out, log)


def _held_out_score(
    Zr: np.ndarray, Zm: np.ndarray, A: np.ndarray, B: np.ndarray, pairs: np.ndarray, alpha: float, splits: int,
    rng: np.random.Generator, max_iter: int,
) -> tuple[np.ndarray, float, np.ndarray]:
    """With links: the plan from all links, and the share of held-out linked rows matched to their partner.

    Every split holds out ``HELD_OUT`` of the links, solves with the others (link cost, FGW at
    ``alpha``) and counts the held-out rows whose heaviest match is their linked partner: an
    estimate of the twin rate of the unlinked rows, free of labels.
    """
    plan = fgw(link_cost(Zr, Zm, pairs), A, B, alpha=alpha, max_iter=max_iter, links=pairs).plan
    k = pairs.shape[0]
    n_out = max(1, int(round(HELD_OUT * k)))
    recovered, values = [], np.full(splits, np.nan)
    for s in range(splits):
        out = rng.choice(k, size=n_out, replace=False)
        kept = np.delete(pairs, out, axis=0)
        res = fgw(link_cost(Zr, Zm, kept), A, B, alpha=alpha, max_iter=max_iter, links=kept)
        values[s] = res.value
        recovered.append(np.mean(res.plan[pairs[out, 0]].argmax(axis=1) == pairs[out, 1]))
    return plan, float(np.mean(recovered)), values


def _lone_minimum(values: np.ndarray) -> bool:
    """True when no restart but the best is near-optimal (so the score would rest on the second best)."""
    if values.size < 2:
        return True
    order = np.argsort(values)
    best = values[order[0]]
    slack = NEAR_OPTIMAL * max(float(np.mean(values)), abs(float(best)), 1e-300)
    return not np.any(values[order[1:]] <= best + slack)


def _near_optimal(values: np.ndarray, order: np.ndarray, share: float = NEAR_OPTIMAL) -> np.ndarray:
    """Restarts other than the best whose objective is within ``share`` of the mean objective above the
    best one; at least the second best (so a lone minimum is never taken as confirmed)."""
    if order.size < 2:
        return order[:0]
    best = values[order[0]]
    slack = share * max(float(np.mean(values)), abs(float(best)), 1e-300)
    near = order[1:][values[order[1:]] <= best + slack]
    return near if near.size else order[1:2]


def _plan_rotation(T: np.ndarray, Zr: np.ndarray, Zm: np.ndarray) -> np.ndarray:
    r"""Procrustes rotation of view m onto the reference through a plan: :math:`\max_R \langle T,
    Z_r (Z_m R)^\top\rangle`, i.e. the SVD of :math:`Z_m^\top T^\top Z_r`."""
    U, _, Vt = np.linalg.svd(Zm.T @ T.T @ Zr)
    return U @ Vt
