r"""What the views can support, measured without labels: clustering stability, alignability, pair plans.

:func:`analyse_views` runs on the views' codes before and after training and decides how
far the views may pull on each other (docs/design.md §6: heterogeneous unaligned views
are not identifiable from their geometry, so the product measures alignability instead
of assuming it):

- **Clustering stability** of every view: K-means (``n_clusters``, one k-means++ start)
  fitted on ``n_runs`` seeded 80 % subsamples of the view's codes, every fit labelling all rows; the score is
  the mean NMI between the runs' labellings. A view whose clusters move with the sample is
  a weak view. Measured on the real data sets it ranks every data set's views exactly as
  their (label-scored) K-means NMI does (``benchmarks/RESULTS.md``); information is only
  ever passed from a more stable view to a less stable one.
- **Alignability** of every view pair, in [0, 1] (:mod:`otmix.ot.align`). With links, the
  held-out link recovery of the link-cost assignment (a label-free estimate of the twin
  rate): ``splits`` times, a fifth of the links is held out, the plan is solved with the
  others and the share of held-out rows matched to their partner is counted. Without
  links, the agreement of near-optimal pure-GW restarts (:func:`otmix.ot.align_views`),
  on a seeded subsample of at most ``max_rows`` rows per view (the score only; a pair found
  alignable is then aligned on all rows). Verdict: score ≥
  :data:`otmix.ot.ALIGNABLE_THRESHOLD` (0.5).
- **Pair plans** between the rows of every pair: with links, the exact assignment on the
  link cost (:func:`otmix.ot.link_cost`, kind "both") with the links fixed; without links,
  the aligned plan of an alignable pair, or the subsample's plan extended by nothing (rows
  outside the subsample get no mass; the plan is for diagnostics only) for a pair that is
  not alignable.
- **Pseudo-links**: without user links, the matches of the alignable pairs with the most
  stable view, as a link table (one entity per row of that view).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .metrics import nmi
from .ot import ALIGNABLE_THRESHOLD, align_views, fgw, link_cost
from .ot._constraints import check_links
from .ot.align import Alignability
from .ot.structure import feature_cost, structure_matrix

STABILITY_RUNS = 4
STABILITY_SHARE = 0.8
HELD_OUT = 0.2


@dataclass
class ViewAnalysis:
    """Result of :func:`analyse_views` (module docstring)."""

    stability: np.ndarray
    alignability: list[Alignability]
    pair_plans: dict[tuple[int, int], np.ndarray]
    pair_costs: dict[tuple[int, int], np.ndarray]
    links: np.ndarray | None
    pseudo_links: np.ndarray | None
    log: dict = field(default_factory=dict)

    def score(self, a: int, b: int) -> Alignability:
        for item in self.alignability:
            if set(item.views) == {a, b}:
                return item
        raise KeyError((a, b))

    def effective_links(self) -> np.ndarray | None:
        """The user's links, else the pseudo-links of alignable pairs, else None."""
        return self.links if self.links is not None else self.pseudo_links

    def plan(self, a: int, b: int) -> np.ndarray:
        """The plan between the rows of views a and b (either order)."""
        return self.pair_plans[(a, b)] if a < b else self.pair_plans[(b, a)].T

    def cost(self, a: int, b: int) -> np.ndarray | None:
        """The feature cost the pair was matched on (rows of a x rows of b), when there is one."""
        if (a, b) in self.pair_costs:
            return self.pair_costs[(a, b)]
        if (b, a) in self.pair_costs:
            return self.pair_costs[(b, a)].T
        return None


def clustering_stability(Z: np.ndarray, n_clusters: int, random_state: int | None = None,
                         n_runs: int = STABILITY_RUNS, share: float = STABILITY_SHARE) -> float:
    """Mean NMI between the labellings of K-means fitted on seeded subsamples (module docstring)."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(random_state)
    n = Z.shape[0]
    size = max(n_clusters, int(round(share * n)))
    runs = []
    for _ in range(n_runs):
        rows = rng.choice(n, size=min(n, size), replace=False)
        km = KMeans(n_clusters, n_init=1, random_state=int(rng.integers(2**31 - 1))).fit(Z[rows])
        runs.append(km.predict(Z))
    return float(np.mean([nmi(a, b) for a, b in itertools.combinations(runs, 2)]))


def _pair_links(links: np.ndarray, a: int, b: int) -> np.ndarray | None:
    both = (links[:, a] >= 0) & (links[:, b] >= 0)
    return np.stack([links[both, a], links[both, b]], axis=1) if both.any() else None


def _link_assignment(Za: np.ndarray, Zb: np.ndarray, pairs: np.ndarray, rng: np.random.Generator,
                     splits: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Plan and cost of the link-cost assignment, and the held-out link recovery."""
    A, B = structure_matrix(Za), structure_matrix(Zb)
    cost = link_cost(Za, Zb, pairs)
    plan = fgw(cost, A, B, alpha=1.0, links=pairs).plan
    k = pairs.shape[0]
    if k < 5:
        return plan, cost, float("nan")
    n_out = max(1, int(round(HELD_OUT * k)))
    recovered = []
    for _ in range(splits):
        out = rng.choice(k, size=n_out, replace=False)
        kept = np.delete(pairs, out, axis=0)
        held = fgw(link_cost(Za, Zb, kept), A, B, alpha=1.0, links=kept).plan
        recovered.append(np.mean(held[pairs[out, 0]].argmax(axis=1) == pairs[out, 1]))
    return plan, cost, float(np.mean(recovered))


def analyse_views(
    Zs: Sequence[np.ndarray],
    n_clusters: int,
    links: np.ndarray | None = None,
    restarts: int = 8,
    max_rows: int = 400,
    splits: int = 3,
    random_state: int | None = None,
) -> ViewAnalysis:
    """Stability, alignability, pair plans and pseudo-links of the views' codes (module docstring).

    Parameters
    ----------
    Zs : list of arrays (N_m, d)
        Codes of every view, rows in the fit's order.
    n_clusters : int
    links : int array (n_links, M), optional
        User links (-1: absent), as in :func:`otmix.ot.fgw_barycenter`.
    restarts : int
        GW restarts of the alignability score without links.
    max_rows : int
        Rows per view (a seeded subsample) on which the score without links is computed.
    splits : int
        Held-out splits of the score with links.
    random_state : int or None

    Returns
    -------
    ViewAnalysis
    """
    Zs = [np.asarray(Z, dtype=np.float64) for Z in Zs]
    M = len(Zs)
    links_ = None if links is None else check_links(links, [Z.shape[0] for Z in Zs])
    if links_ is not None and links_.shape[0] == 0:
        links_ = None
    rng = np.random.default_rng(random_state)
    stability = np.array([clustering_stability(Z, n_clusters, int(rng.integers(2**31 - 1))) for Z in Zs])
    scores: list[Alignability] = []
    plans: dict[tuple[int, int], np.ndarray] = {}
    costs: dict[tuple[int, int], np.ndarray] = {}
    for a, b in itertools.combinations(range(M), 2):
        pairs = None if links_ is None else _pair_links(links_, a, b)
        if pairs is not None:
            plan, cost, score = _link_assignment(Zs[a], Zs[b], pairs, rng, splits)
            if np.isnan(score):  # too few links to hold some out: the restarts decide, as without links
                score = align_views([Zs[a], Zs[b]], restarts=restarts, links=pairs, rounds=0,
                                    random_state=int(rng.integers(2**31 - 1))).alignability[0].score
            plans[(a, b)], costs[(a, b)] = plan, cost
        else:
            rows_a = _subsample(Zs[a].shape[0], max_rows, rng)
            rows_b = _subsample(Zs[b].shape[0], max_rows, rng)
            probe = align_views([Zs[a][rows_a], Zs[b][rows_b]], restarts=restarts, rounds=0,
                                random_state=int(rng.integers(2**31 - 1)))
            score = probe.alignability[0].score
            if score >= ALIGNABLE_THRESHOLD:
                full = align_views([Zs[a], Zs[b]], restarts=1, random_state=int(rng.integers(2**31 - 1)))
                plans[(a, b)] = full.plans[1]
                costs[(a, b)] = feature_cost(full.aligned[0], full.aligned[1])
            else:
                plan = np.zeros((Zs[a].shape[0], Zs[b].shape[0]))
                plan[np.ix_(rows_a, rows_b)] = probe.plans[1]
                plans[(a, b)] = plan
        scores.append(Alignability((a, b), float(score), bool(score >= ALIGNABLE_THRESHOLD)))
    analysis = ViewAnalysis(stability, scores, plans, costs, links_, None)
    if links_ is None:
        analysis.pseudo_links = _pseudo_links(analysis, M)
    return analysis


def _subsample(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= max_rows else np.sort(rng.choice(n, size=max_rows, replace=False))


def _pseudo_links(analysis: ViewAnalysis, M: int) -> np.ndarray | None:
    """Matches of the alignable pairs with the most stable view, one entity per row of that view."""
    ref = int(np.argmax(analysis.stability))
    n_ref = analysis.plan(ref, (ref + 1) % M).shape[0] if M > 1 else 0
    table = np.full((n_ref, M), -1, dtype=np.int64)
    table[:, ref] = np.arange(n_ref)
    for m in range(M):
        if m == ref or not analysis.score(ref, m).alignable:
            continue
        plan = analysis.plan(ref, m)
        best = plan.argmax(axis=1)
        mutual = plan.argmax(axis=0)[best] == np.arange(n_ref)  # a row of m is linked once
        table[mutual, m] = best[mutual]
    keep = (table >= 0).sum(axis=1) >= 2
    return table[keep] if keep.any() else None
