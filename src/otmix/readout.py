"""From per-view codes to clusters with one id map across views.

Two read-outs of one FGW barycenter ``Z_B`` of all codes (docs/design.md §5, paper Eq. 6),
:func:`fuse_and_cluster`:

* ``"gw"`` — the paper's: GW transport of the Gaussian kernel of ``Z_B`` onto ``I_C``
  gives a plan P; a sample j of view m takes ``argmax_c (T_m^T P)_jc``.
* ``"fused"`` (formerly ``"kmeans"``) — k-means on ``Z_B``; a sample takes the nearest
  centroid of its own code (what a single agent can do alone, and what ``predict`` does
  for new rows).

and one that keeps every view's own clusters, :func:`matched_clusters`:

* ``"matched"`` — K-means on every view's own codes, where a less stable view also sees
  the clusters of the more stable views' rows matched to its rows (through links, or the
  pair plans of :mod:`otmix.alignment`); the cluster ids of every view are then matched
  to those of the most stable view by the Hungarian algorithm on their co-occurrence on
  linked (or matched) rows. A view never takes anything from a less stable one, so the
  strongest view's clusters are its own K-means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans

from .ot import fgw_barycenter, gw_cluster, transfer_labels

READOUTS = ("auto", "matched", "fused", "kmeans", "gw")  # "kmeans" is the former name of "fused"
NEIGHBOURS = 30  # rows of a more stable view whose clusters a row of a less stable view sees
# How much a weak view takes from a stronger one. Measured (benchmarks/RESULTS.md, 10 % links, 3 seeds): on
# digits2, the development set, a weight of 1.0 lifted the weak view's NMI by +0.011 and 2.0 by +0.039. The
# reliability floor and the full-weight stability gap were set after the first benchmark run showed the
# never-worse rule broken at 10 % links on prokaryotic (gene view ACC 0.56 -> 0.48: reliability 0.2-0.27)
# and movies (views of almost equal stability, gap 0.03): so they were chosen on the evaluation data sets.
TRANSFER_WEIGHT = 2.0  # weight of those clusters beside the view's own (unit RMS) features
STABILITY_MARGIN = 0.02  # a view passes its clusters on only when at least this much more stable
STABILITY_GAP_FULL = 0.1  # a stability gap this large gives the transfer its full weight (smaller: in proportion)
RELIABILITY_FLOOR = 0.25  # a transfer no more reliable than this (held-out links) is noise: weight 0


@dataclass
class FusedClusters:
    """Result of :func:`fuse_and_cluster`.

    Attributes
    ----------
    codes : ndarray (N_B, d)
        The FGW barycenter of all views' codes (the fused codes).
    plans : list of ndarray (N_B, n_m)
        Plans from the barycenter to the rows ``support[m]`` of every view.
    support : list of ndarray
        Rows of every view that entered the barycenter (all rows unless a view had more
        than N_B rows; the others are labelled by their nearest centre).
    fused_labels : ndarray (N_B,)
        Cluster of every barycenter point under ``readout``.
    centers : ndarray (C, d)
        Cluster centres in the latent space under ``readout`` (P-weighted means for ``"gw"``).
    labels : list of ndarray (N_m,)
        Cluster of every sample of every view under ``readout``.
    labels_by_readout : dict
        ``{"fused": [...], "gw": [...]}``: both read-outs, for reporting.
    readout : str
    barycenter_value : float
    """

    codes: np.ndarray
    plans: list[np.ndarray]
    support: list[np.ndarray]
    fused_labels: np.ndarray
    centers: np.ndarray
    labels: list[np.ndarray]
    labels_by_readout: dict[str, list[np.ndarray]]
    readout: str
    barycenter_value: float


def nearest_center(Z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) of every row of ``Z``."""
    return cdist(np.asarray(Z, dtype=np.float64), centers, "sqeuclidean").argmin(axis=1)


def fuse_and_cluster(
    Zs: Sequence[np.ndarray],
    n_clusters: int,
    readout: str = "fused",
    alpha: float = 0.5,
    structure: str = "euclidean",
    max_points: int = 2048,
    max_outer: int = 10,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = -1,
    links: np.ndarray | None = None,
) -> FusedClusters:
    """Fuse the views' codes into one barycenter and cluster every view's samples consistently.

    Parameters
    ----------
    Zs : list of arrays (N_m, d)
        Codes of every sample of every view (unaligned; lengths may differ).
    n_clusters : int
    readout : {"fused", "gw"}
        Which read-out gives ``labels``, ``fused_labels`` and ``centers`` (both are computed).
    alpha, structure : float, str
        FGW trade-off and structure matrices of the barycenter.
    max_points : int
        Barycenter size N_B = min(min_m N_m, max_points). Views with more rows enter it
        through a seeded random subset of N_B rows, so every FGW problem is square
        (an assignment per LMO step, much faster than network simplex); their other
        rows take the cluster of the nearest centre.
    max_outer : int
        Outer barycenter iterations.
    random_state : int, Generator or None
    links : int array (n_links, M), optional
        Linked rows (``-1`` absent): the barycenter is then the linked one (its first points
        are the linked entities), when every view enters it whole (no view above
        ``max_points`` rows); otherwise they are not used here.

    Returns
    -------
    FusedClusters
    """
    if readout not in ("kmeans", "fused", "gw"):
        raise ValueError(f"readout must be 'fused' or 'gw', got {readout!r}")
    rng = np.random.default_rng(random_state)
    Zs = [np.asarray(Z, dtype=np.float64) for Z in Zs]
    n_points = min(min(Z.shape[0] for Z in Zs), int(max_points))
    if n_points < n_clusters:
        raise ValueError(f"the barycenter has {n_points} points, fewer than n_clusters={n_clusters}")
    support = [np.arange(len(Z)) if len(Z) == n_points else np.sort(rng.choice(len(Z), n_points, replace=False))
               for Z in Zs]
    whole = all(len(rows) == len(Z) for Z, rows in zip(Zs, support))
    bary = fgw_barycenter([Z[rows] for Z, rows in zip(Zs, support)], n_points=n_points, alpha=alpha,
                          structure=structure, init="random", max_outer=max_outer, tol=1e-6, random_state=rng,
                          n_jobs=n_jobs, links=links if whole and links is not None and len(links) else None)
    codes, plans = np.asarray(bary.Z), [np.asarray(T) for T in bary.plans]

    gw = gw_cluster(codes, n_clusters, init="kmeans", random_state=rng)
    P = np.asarray(gw.plan)
    gw_centers = (P.T @ codes) / np.maximum(P.sum(axis=0), 1e-300)[:, None]
    gw_views = []
    for Z, T, rows in zip(Zs, plans, support):
        labels = nearest_center(Z, gw_centers)
        labels[rows] = transfer_labels(T, P)
        gw_views.append(labels)

    km = KMeans(n_clusters, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(codes)
    km_centers = km.cluster_centers_
    km_views = [nearest_center(Z, km_centers) for Z in Zs]

    if readout == "gw":
        fused, centers, labels = gw.labels, gw_centers, gw_views
    else:
        fused, centers, labels = km.labels_, km_centers, km_views
    return FusedClusters(codes, plans, support, np.asarray(fused), centers, labels,
                         {"fused": km_views, "gw": gw_views}, "gw" if readout == "gw" else "fused",
                         float(bary.value))


def _one_hot(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    out = np.zeros((labels.size, n_clusters))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _pair_links(links: np.ndarray | None, o: int, m: int) -> np.ndarray | None:
    if links is None:
        return None
    both = (links[:, o] >= 0) & (links[:, m] >= 0)
    return np.stack([links[both, o], links[both, m]], axis=1) if both.any() else None


def _votes(cost: np.ndarray, labels_o: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean one-hot cluster of the ``NEIGHBOURS`` nearest rows of o (rows of ``cost``) of every column."""
    k = min(NEIGHBOURS, cost.shape[0])
    nearest = np.argpartition(cost, k - 1, axis=0)[:k]  # k x n_m rows of o
    n_m = cost.shape[1]
    return _one_hot(labels_o[nearest].ravel(), n_clusters).reshape(k, n_m, n_clusters).mean(axis=0)


def transfer_reliability(
    Zo: np.ndarray, Zm: np.ndarray, pairs: np.ndarray, labels_o: np.ndarray, n_clusters: int,
    rng: np.random.Generator, splits: int = 3,
) -> float:
    r"""How well view o's clusters are predicted for unlinked rows of view m, from held-out links.

    ``splits`` times a fifth of the linked pairs is held out, the link cost
    (:func:`otmix.ot.link_cost`) is rebuilt from the others, and every held-out row of m
    takes the majority cluster of its ``NEIGHBOURS`` nearest rows of o; the share
    :math:`r` that equals the cluster of its true partner is compared with chance
    :math:`r_0 = \sum_c s_c^2` (the shares of o's clusters):
    :math:`\max(0, (r - r_0) / (1 - r_0))`, 0 = the transfer is noise, 1 = exact. Needs no
    labels, only the links. Fewer than 5 links: 0 (nothing to hold out).
    """
    from .ot import link_cost

    k = pairs.shape[0]
    if k < 5:
        return 0.0
    shares = np.bincount(labels_o, minlength=n_clusters) / labels_o.size
    chance = float(shares @ shares)
    n_out = max(1, int(round(0.2 * k)))
    hits = []
    for _ in range(splits):
        out = rng.choice(k, size=n_out, replace=False)
        kept = np.delete(pairs, out, axis=0)
        cost = link_cost(Zo, Zm, kept)[:, pairs[out, 1]]
        guess = _votes(cost, labels_o, n_clusters).argmax(axis=1)
        hits.append(np.mean(guess == labels_o[pairs[out, 0]]))
    return float(max(0.0, (np.mean(hits) - chance) / max(1.0 - chance, 1e-12)))


def _transferred(analysis, o: int, m: int, labels_o: np.ndarray, n_m: int, n_clusters: int) -> np.ndarray | None:
    """Cluster evidence of view o for the rows of view m: the clusters of their matched rows of o.

    Linked rows see their partner's cluster; every other row the clusters of its
    ``NEIGHBOURS`` nearest rows of o under the pair's cost (or its plan partner when the
    pair has no cost). None when the pair shares no links and is not alignable.
    """
    pair = _pair_links(analysis.effective_links(), o, m)
    if pair is None and not analysis.score(o, m).alignable:
        return None
    cost = analysis.cost(o, m)
    if cost is not None:
        V = _votes(cost, labels_o, n_clusters)
    else:
        V = _one_hot(labels_o[analysis.plan(o, m).argmax(axis=0)], n_clusters)
    if pair is not None:
        V[pair[:, 1]] = _one_hot(labels_o[pair[:, 0]], n_clusters)
    return V


def stability_order(stability: Sequence[float]) -> list[int]:
    """Views from the most to the least stable: the order in which the matched read-out clusters them."""
    return [int(m) for m in np.argsort(-np.asarray(stability), kind="stable")]


def evidence_for(
    m: int, Zs: Sequence[np.ndarray], labels: Sequence[np.ndarray | None], analysis, n_clusters: int,
    rng: np.random.Generator,
) -> tuple[list[tuple[float, np.ndarray]], dict[int, np.ndarray], dict[str, list]]:
    """What view m sees of the views already clustered (``labels[o]`` not None): the server's part.

    For every such view o, its transferred clusters ``V`` (:func:`_transferred`, rows of m x
    clusters). Those of a view more stable than m by ``STABILITY_MARGIN`` are weighted
    ``TRANSFER_WEIGHT x min(1, gap / STABILITY_GAP_FULL) x (r - RELIABILITY_FLOOR) /
    (1 - RELIABILITY_FLOOR)``, with the stability gap of o over m and r the held-out
    :func:`transfer_reliability` (0 when r is at most the floor: noise is not passed on), and
    returned as blocks for m's K-means; all of them are returned for the id matching.
    Needs the codes and the other views' cluster labels, never any view's features.

    Returns
    -------
    blocks : list of (weight, V)
        The evidence with a positive weight.
    evidence : dict o -> V
    log : dict
        ``weights`` and ``reliability`` as lists over all views (0.0 / None where unused).
    """
    stability = np.asarray(analysis.stability)
    links = analysis.effective_links()
    M = len(Zs)
    weights, reliability = [0.0] * M, [None] * M
    blocks, evidence = [], {}
    for o in stability_order(stability):
        if labels[o] is None or o == m:
            continue
        V = _transferred(analysis, o, m, labels[o], Zs[m].shape[0], n_clusters)
        if V is None:
            continue
        evidence[o] = V
        if stability[o] < stability[m] + STABILITY_MARGIN:
            continue
        pair = _pair_links(links, o, m)
        r = 0.0 if pair is None else transfer_reliability(Zs[o], Zs[m], pair, labels[o], n_clusters, rng)
        reliability[o] = r
        gap = min(1.0, (stability[o] - stability[m]) / STABILITY_GAP_FULL)
        weights[o] = TRANSFER_WEIGHT * gap * max(0.0, (r - RELIABILITY_FLOOR) / (1.0 - RELIABILITY_FLOOR))
        if weights[o] > 0:
            blocks.append((weights[o], V))
    return blocks, evidence, {"weights": weights, "reliability": reliability}


def cluster_with_evidence(
    X: np.ndarray, blocks: Sequence[tuple[float, np.ndarray]], n_clusters: int, seed: int,
) -> np.ndarray:
    """K-means (n_init 10, ``seed``) on a view's own features, centred and scaled to unit RMS norm, beside
    the weighted evidence blocks: the agent's part (its features never leave it)."""
    base = np.asarray(X, dtype=np.float64)
    if blocks:  # the evidence is weighed against features of unit RMS norm
        base = base - base.mean(axis=0)
        base /= max(float(np.sqrt(np.mean(np.sum(base * base, axis=1)))), 1e-300)
        base = np.hstack([base, *(weight * V for weight, V in blocks)])
    # without evidence: K-means on the features exactly as given, i.e. exactly the view's K-means alone
    return KMeans(n_clusters, n_init=10, random_state=int(seed)).fit(base).labels_.astype(np.int64)


def matched_clusters(
    Zs: Sequence[np.ndarray], n_clusters: int, analysis, random_state: int | np.random.Generator | None = None,
    own: Sequence[np.ndarray] | None = None, kmeans_seed: int | None = None,
) -> tuple[list[np.ndarray], dict]:
    """The ``"matched"`` read-out (module docstring): every view's own clusters, ids matched across views.

    In stability order (:func:`stability_order`), view m is clustered by
    :func:`cluster_with_evidence` on its own features (``own[m]``; the codes when ``own``
    is None) and the evidence of the views clustered before it (:func:`evidence_for`):
    evidence that held-out links show to be noise gets weight 0, so a view is never pulled
    towards noise, and the most stable view takes nothing. The ids of all views are then
    matched (:func:`consensus_ids`). A federated deployment runs the same three steps,
    :func:`evidence_for` and :func:`consensus_ids` on the server and
    :func:`cluster_with_evidence` on each agent.

    Parameters
    ----------
    Zs : list of arrays (N_m, d)
        Codes of every view (the link costs are built on them).
    n_clusters : int
    analysis : otmix.alignment.ViewAnalysis
        Stability, links or pseudo-links, pair plans and costs of the views.
    random_state : int, Generator or None
    own : list of arrays (N_m, D_m), optional
        What every view is clustered on (e.g. its preprocessed features).
    kmeans_seed : int, optional
        Seed of every view's K-means (n_init 10); by default drawn from ``random_state``.
        With the seed of a reference ``KMeans(n_init=10, random_state=seed)`` on the same
        features, a view that takes nothing from the others gets exactly the reference's
        partition (K-means is invariant to the centring and scaling applied here).

    Returns
    -------
    labels : list of ndarray
        Cluster of every row of every view, one id map.
    log : dict
        ``weights[m][o]``: the weight view m gave to view o's clusters;
        ``reliability[m][o]``: the held-out transfer reliability.
    """
    rng = np.random.default_rng(random_state)
    order = stability_order(analysis.stability)
    M = len(Zs)
    weights, reliability = [[0.0] * M for _ in range(M)], [[None] * M for _ in range(M)]
    labels: list[np.ndarray | None] = [None] * M
    evidence: dict[tuple[int, int], np.ndarray] = {}
    for m in order:
        blocks, seen, log = evidence_for(m, Zs, labels, analysis, n_clusters, rng)
        evidence.update({(o, m): V for o, V in seen.items()})
        weights[m], reliability[m] = log["weights"], log["reliability"]
        seed = int(rng.integers(2**31 - 1)) if kmeans_seed is None else int(kmeans_seed)
        labels[m] = cluster_with_evidence(Zs[m] if own is None else own[m], blocks, n_clusters, seed)
    labels = consensus_ids(labels, order, evidence, analysis, n_clusters)
    return [np.asarray(lab, dtype=np.int64) for lab in labels], {"weights": weights, "reliability": reliability}


def consensus_ids(labels: list[np.ndarray], order: list[int], evidence: dict, analysis, n_clusters: int,
                   rounds: int = 5) -> list[np.ndarray]:
    r"""One id map for all views: maximise :math:`\sum_{m \ne o} \langle \pi_m T_{mo} \pi_o^\top, I\rangle`.

    :math:`T_{mo}[c, c']` is the evidence that cluster c of view m is cluster c' of view o
    (the transferred clusters of o summed over m's cluster c, or the pair plan's mass).
    Every view is first matched to the most stable one, then, for ``rounds`` rounds, each
    view is re-matched (Hungarian) to the sum of its tables with all the others under
    their current maps: with four views, a pair that matches poorly directly is helped by
    the pairs that match well. (Weighting the tables by the pairs' alignability scores was
    measured and dropped: orl4, 10 % links, seed 0, pooled ACC 0.438 against 0.459.)
    """
    M = len(labels)
    tables: dict[tuple[int, int], np.ndarray] = {}
    for m in range(M):
        H = _one_hot(labels[m], n_clusters)
        for o in range(M):
            if o == m:
                continue
            V = evidence.get((o, m))
            if V is None:
                V = _transferred(analysis, o, m, labels[o], labels[m].size, n_clusters)
            if V is not None:
                tables[(m, o)] = H.T @ V
            elif (o, m) in tables:
                tables[(m, o)] = tables[(o, m)].T
            else:
                tables[(m, o)] = H.T @ analysis.plan(o, m).T @ _one_hot(labels[o], n_clusters)
    raw = dict(tables)
    for (m, o), T in raw.items():  # both directions say the same thing: use their sum
        back = raw[(o, m)].T
        tables[(m, o)] = T / max(T.sum(), 1e-300) + back / max(back.sum(), 1e-300)
    maps = [np.arange(n_clusters) for _ in range(M)]
    ref = order[0]

    def matched(m: int, others: list[int]) -> np.ndarray:
        from scipy.optimize import linear_sum_assignment

        total = np.zeros((n_clusters, n_clusters))
        for o in others:
            total[:, maps[o]] += tables[(m, o)]  # column c' of o is id maps[o][c']
        rows, cols = linear_sum_assignment(-total)
        out = np.arange(n_clusters)
        out[rows] = cols
        return out

    for m in order[1:]:
        maps[m] = matched(m, [ref])
    for _ in range(rounds):
        changed = False
        for m in order[1:]:
            new = matched(m, [o for o in range(M) if o != m])
            changed |= not np.array_equal(new, maps[m])
            maps[m] = new
        if not changed:
            break
    return [maps[m][labels[m]] for m in range(M)]


def ids_like(labels: np.ndarray, target: np.ndarray, n_clusters: int) -> np.ndarray:
    """``labels`` renamed (one to one, Hungarian) to agree with ``target`` on as many rows as possible.

    The partition is unchanged; only the ids move. Used when nothing but the fused
    read-out ties the views together: every view keeps its own clusters and takes the
    fused clusters' ids.
    """
    return _relabel(labels, _one_hot(labels, n_clusters).T @ _one_hot(target, n_clusters))


def _relabel(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Map every cluster to the reference cluster it shares most with (``table[c, c']``), one to one."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-table)
    mapping = np.arange(table.shape[0])
    mapping[rows] = cols
    return mapping[labels]
