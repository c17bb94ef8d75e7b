"""One clustering job: a data set, several seeds, scores per view and over all samples, mean ± std.

The CLI (`otmix cluster`) and `benchmarks/cluster_table.py` both run this. Labels
are used only to score, after fitting.

Links (rows of different views known to be the same entity, :mod:`otmix.data.links`)
come in two kinds: a **fraction** (a simulation: the views of an aligned data set are
permuted with the seed and that share of the entities stays linked,
:func:`otmix.data.simulate_links` on the seed's permutations and its own stream
:func:`otmix.data.link_seed`) or a **table** of rows of the data as given (a user's
link file; the rows are then never permuted). Beside the scores a job reports, per view
pair, the estimator's alignability verdict and, when labels exist, how its transport plan
between the two views aligns them (:func:`pair_alignment`), and the reference of every
view: K-means on that view's preprocessed features alone (:func:`reference_labels`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..configs import clustering_config
from ..data.dataset import Dataset
from ..data.links import link_seed, simulate_links
from ..data.unalign import unalign
from ..metrics import clustering_scores, mean_std

METRICS = ("acc", "purity", "nmi", "ari")
REFERENCE_N_INIT = 10  # the reference: K-means with 10 restarts on each view alone


def dataset_config(name: str | None) -> dict[str, Any]:
    """The fixed hyper-parameters for a data set: the ``default`` block updated by the data set's own."""
    return clustering_config(name)


def score_views(ys: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> tuple[dict, list[dict]]:
    """Scores over all samples of all views together, and per view."""
    overall = clustering_scores(np.concatenate(ys), np.concatenate(labels))
    return overall, [clustering_scores(y, p) for y, p in zip(ys, labels)]


def aggregate_per_view(runs: Sequence[dict[int, dict[str, float]]], view_names: Sequence[str]) -> list[dict[str, Any]]:
    """Per-view scores of several runs, mean ± std: ``[{"view", "name", m: {mean, std}}, ...]``.

    Every run maps a view index to its scores; a view no run has is left out.
    """
    return [
        {"view": m, "name": view_names[m],
         **{k: mean_std([views[m][k] for views in runs if m in views]) for k in METRICS}}
        for m in range(len(view_names)) if any(m in views for views in runs)
    ]


def aggregate_scores(
    runs: Sequence[tuple[dict[str, float], dict[int, dict[str, float]], dict[str, dict[str, float]]]],
    view_names: Sequence[str],
) -> dict[str, Any]:
    """The score blocks of a clustering payload, mean ± std over runs.

    Every run is ``(overall, per_view, by_readout)`` with ``per_view`` mapping a view index to
    its scores (a federated run may miss a view whose agent dropped out). Returns
    ``{"metrics", "per_view": [{"view", "name", ...}], "metrics_by_readout"}``.
    """
    return {
        "metrics": {k: mean_std([overall[k] for overall, _, _ in runs]) for k in METRICS},
        "per_view": aggregate_per_view([views for _, views, _ in runs], view_names),
        "metrics_by_readout": {
            name: {k: mean_std([by[name][k] for _, _, by in runs]) for k in METRICS} for name in runs[0][2]
        },
    }


def reference_labels(Xs: Sequence[np.ndarray], n_clusters: int, seed: int) -> list[np.ndarray]:
    """The reference clustering: K-means (``n_init=10``, ``random_state=seed``) on every view alone.

    Each view's ids are its own (nothing matches them across views): score it per view.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10]
    >>> [np.bincount(labels).tolist() for labels in reference_labels([X, X[:, :1]], 2, seed=0)]
    [[5, 5], [5, 5]]
    """
    from sklearn.cluster import KMeans

    return [KMeans(n_clusters=n_clusters, n_init=REFERENCE_N_INIT, random_state=int(seed)).fit_predict(X)
            for X in Xs]


class ReferenceKMeans:
    """:func:`reference_labels` as an estimator with ``fit_predict(Xs)`` (the benchmark's ``reference`` method).

    Parameters
    ----------
    n_clusters : int
    random_state : int
        The seed of every view's K-means.
    """

    def __init__(self, n_clusters: int, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit_predict(self, Xs: Sequence[np.ndarray], y: Any = None) -> list[np.ndarray]:
        """One label array per view, each view clustered alone (ids not matched across views)."""
        self.labels_ = reference_labels(Xs, self.n_clusters, self.random_state)
        return self.labels_


def _dense(plan: Any) -> np.ndarray:
    return np.asarray(plan.toarray() if hasattr(plan, "toarray") else plan, dtype=np.float64)


def pair_alignment(
    plan: Any, a: int, b: int, ys: Sequence[np.ndarray], links: np.ndarray | None = None,
    perms: Sequence[np.ndarray] | None = None,
) -> dict[str, float | None]:
    """How a transport plan between the rows of views ``a`` and ``b`` aligns them, over ``a``'s unlinked rows.

    Parameters
    ----------
    plan : array of shape (n_a, n_b)
        The plan (any scale; e.g. ``OTMClustering.pair_plans_[(a, b)]``).
    a, b : int
        The views: ``ys[a]`` labels the plan's rows, ``ys[b]`` its columns.
    ys : list of label arrays, one per view
    links : int array (n_links, n_views), optional
        The rows of ``a`` in ``links[:, a]`` are linked (their partner is given, not found), so they
        are left out of both scores.
    perms : list of permutations, optional
        The true permutations (``unalign``'s ``Xs_out[m] = Xs[m][perms[m]]`` of aligned views): row
        ``i`` of view ``a`` holds entity ``perms[a][i]``, whose row in view ``b`` is its twin.
        Without them the twin rate is None.

    Returns
    -------
    dict
        ``class_mass``: the share of the plan mass on ``a``'s unlinked rows that joins rows of the
        same class; ``twin_rate``: the share of ``a``'s unlinked rows whose heaviest plan entry is
        their true twin (None without ``perms``); ``chance``: the class mass of the independent
        coupling (``sum_c share_a(c) share_b(c)``), what a plan that knows nothing scores. The
        scores are None when every row of ``a`` is linked.

    Examples
    --------
    >>> ys = [np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])]
    >>> plan = np.array([[0, .25, 0, 0], [.2, 0, .05, 0], [0, 0, 0, .25], [0, 0, 0, .25]])
    >>> pair_alignment(plan, 0, 1, ys, perms=[np.arange(4), np.array([1, 0, 3, 2])])
    {'class_mass': 0.95, 'twin_rate': 0.75, 'chance': 0.5}
    """
    P = _dense(plan)
    ya, yb = np.asarray(ys[a]), np.asarray(ys[b])
    if P.shape != (ya.size, yb.size):
        raise ValueError(f"the plan of views ({a}, {b}) has shape {P.shape}; the views have {ya.size} and {yb.size} "
                         "rows")
    n_a = P.shape[0]
    linked = np.asarray(links)[:, a] if links is not None and np.size(links) else np.empty(0, dtype=np.int64)
    free = np.setdiff1d(np.arange(n_a), linked[linked >= 0])
    classes = np.union1d(ya, yb)
    share_a = np.array([np.mean(ya == c) for c in classes])
    share_b = np.array([np.mean(yb == c) for c in classes])
    out: dict[str, float | None] = {"class_mass": None, "twin_rate": None, "chance": float(share_a @ share_b)}
    total = P[free].sum()
    if free.size == 0 or total <= 0:
        return out
    out["class_mass"] = float((P[free] * (ya[free][:, None] == yb[None, :])).sum() / total)
    if perms is not None:
        twins = np.argsort(np.asarray(perms[b]), kind="stable")[np.asarray(perms[a])[free]]
        out["twin_rate"] = float(np.mean(P[free].argmax(axis=1) == twins))
    return out


def alignment_scores(pair_plans: dict, ys: Sequence[np.ndarray], links: np.ndarray | None = None,
                     perms: Sequence[np.ndarray] | None = None) -> dict[str, Any]:
    """:func:`pair_alignment` of every pair ``(a, b)`` of ``pair_plans``, as lists in pair order.

    Returns ``{"pairs": [[a, b], ...], "class_mass": [...], "twin_rate": [...] or None,
    "chance_class_mass": [...]}`` (``twin_rate`` is None without ``perms``).
    """
    pairs = sorted(pair_plans)
    scores = [pair_alignment(pair_plans[p], p[0], p[1], ys, links, perms) for p in pairs]
    return {"pairs": [[int(a), int(b)] for a, b in pairs], "class_mass": [s["class_mass"] for s in scores],
            "twin_rate": None if perms is None else [s["twin_rate"] for s in scores],
            "chance_class_mass": [s["chance"] for s in scores]}


def _mean_std_or_none(values: Sequence[float | None]) -> dict[str, float] | None:
    kept = [v for v in values if v is not None]
    return mean_std(kept) if kept else None


def aggregate_alignment(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`alignment_scores` of several seeds, mean ± std per pair (``twin_rate`` None when no seed has it)."""
    first = per_seed[0]
    n_pairs = len(first["pairs"])
    twin = [s["twin_rate"] for s in per_seed if s["twin_rate"] is not None]
    return {
        "pairs": first["pairs"],
        "class_mass": [_mean_std_or_none([s["class_mass"][k] for s in per_seed]) for k in range(n_pairs)],
        "twin_rate": [_mean_std_or_none([t[k] for t in twin]) for k in range(n_pairs)] if twin else None,
        "chance_class_mass": [float(np.mean([s["chance_class_mass"][k] for s in per_seed])) for k in range(n_pairs)],
    }


def aggregate_alignability(per_seed: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The estimator's ``alignability_`` of several seeds, per view pair: mean score and majority verdict.

    Every entry is ``{"views": [a, b], "score": mean, "score_std": std, "alignable": bool,
    "alignable_seeds": k, "seeds": n}``; the pair is called alignable when more than half of
    the seeds call it so (a tie is not alignable). One seed: its own score and verdict.

    Examples
    --------
    >>> aggregate_alignability([[{"views": [0, 1], "score": 0.9, "alignable": True}],
    ...                         [{"views": [0, 1], "score": 0.5, "alignable": False}]])
    [{'views': [0, 1], 'score': 0.7, 'score_std': 0.2, 'alignable': False, 'alignable_seeds': 1, 'seeds': 2}]
    """
    pairs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for entries in per_seed:
        for entry in entries:
            pairs.setdefault(tuple(int(v) for v in entry["views"]), []).append(entry)
    out = []
    for views in sorted(pairs):
        entries = pairs[views]
        scores = mean_std([float(e["score"]) for e in entries])
        yes = sum(bool(e["alignable"]) for e in entries)
        out.append({"views": list(views), "score": round(scores["mean"], 12), "score_std": round(scores["std"], 12),
                    "alignable": 2 * yes > len(entries), "alignable_seeds": yes, "seeds": len(entries)})
    return out


def _json_alignability(entries: Any) -> list[dict[str, Any]] | None:
    if entries is None:
        return None
    return [{"views": [int(v) for v in e["views"]], "score": float(e["score"]), "alignable": bool(e["alignable"])}
            for e in entries]


@dataclass
class SeedRun:
    seed: int
    overall: dict[str, float]
    per_view: list[dict[str, float]]
    by_readout: dict[str, dict[str, float]]
    seconds: float
    epochs_run: int
    estimator: Any = field(default=None, repr=False)
    ys: list[np.ndarray] | None = field(default=None, repr=False)
    links: np.ndarray | None = field(default=None, repr=False)
    alignability: list[dict[str, Any]] | None = None
    alignment: dict[str, Any] | None = None
    reference: list[dict[str, float]] | None = None
    readout: str | None = None


def check_links_spec(links: Any, aligned: bool, sizes: Sequence[int]) -> float | np.ndarray | None:
    """Validate the ``links`` of a job: None, a fraction in [0, 1) (unaligned only) or a table (aligned only).

    A fraction simulates links on views this job permutes, so it needs ``aligned=False`` and
    views of one size; a table names rows of the data as given, so it needs ``aligned=True``
    (the rows are kept as loaded) and passes :func:`otmix.ot._constraints.check_links`.
    Raises a one-line ``ValueError`` otherwise.
    """
    if links is None:
        return None
    if np.ndim(links) == 0:
        from ..data.links import _check_fraction

        fraction = _check_fraction(links)
        if aligned:
            raise ValueError("a link fraction simulates links on views it permutes; it needs the unaligned setting")
        if len(set(sizes)) > 1:
            raise ValueError("a link fraction needs an aligned data set to simulate on (every view the same rows); "
                             f"got views of {list(sizes)} rows")
        return fraction
    from ..ot._constraints import check_links

    if not aligned:
        raise ValueError("a link table names rows of the data as given; it needs the rows kept as loaded "
                         "(aligned), not permuted")
    return check_links(links, sizes)


def run_seed(
    data: Dataset, seed: int, aligned: bool, params: dict[str, Any], n_clusters: int,
    verbose: bool = False, unalign_rate: float = 1.0, links: float | np.ndarray | None = None,
    rows_match: bool = False, reference: bool = True,
) -> SeedRun:
    """Fit one :class:`OTMClustering` (after permuting every view with ``seed`` unless ``aligned``) and score it.

    Parameters
    ----------
    links : None, float or int array (n_links, n_views)
        A fraction in [0, 1): that share of the entities stays linked after the permutation
        (:func:`otmix.data.simulate_links` with :func:`otmix.data.link_seed`); a table: links
        between the rows as given (needs ``aligned``). The fit gets ``links=`` when there is
        at least one link, else none.
    rows_match : bool
        The views as loaded are aligned (row i of every view is one entity), so the true twin
        of every row is known and the twin rate is scored; implied by a link fraction.
    reference : bool
        Also score :func:`reference_labels` on the same rows (when labels exist).
    """
    from ..estimators import OTMClustering

    spec = check_links_spec(links, aligned, data.n_samples)
    Xs, ys = list(data.Xs), list(data.ys) if data.ys is not None else None
    perms = [np.arange(n) for n in data.n_samples]
    if not aligned:
        Xs, ys, perms = unalign(Xs, ys, rate=unalign_rate, random_state=seed)
    table = simulate_links(perms, spec, random_state=link_seed(seed)) if isinstance(spec, float) else spec
    fit_links = table if table is not None and len(table) else None
    start = time.perf_counter()
    est = OTMClustering(n_clusters=n_clusters, random_state=seed, verbose=verbose, **params)
    est = est.fit(Xs) if fit_links is None else est.fit(Xs, links=fit_links)
    seconds = time.perf_counter() - start
    overall, per_view, by_readout = {}, [], {}
    alignment, ref = None, None
    if ys is not None:
        overall, per_view = score_views(ys, est.labels_)
        by_readout = {name: score_views(ys, labels)[0] for name, labels in est.labels_by_readout_.items()}
        plans = getattr(est, "pair_plans_", None)  # None: an estimator before issue 14
        if plans is not None:
            twins_known = (rows_match or isinstance(spec, float)) and len(set(data.n_samples)) == 1
            alignment = alignment_scores(plans, ys, table, perms if twins_known else None)
        if reference:
            ref = score_views(ys, reference_labels(Xs, n_clusters, seed))[1]
    return SeedRun(seed, overall, per_view, by_readout, seconds, len(est.history_["total"]), est, ys, table,
                   _json_alignability(getattr(est, "alignability_", None)), alignment, ref,
                   getattr(est, "readout_", None))


def run_clustering(
    data: Dataset,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    aligned: bool = False,
    n_clusters: int | None = None,
    overrides: dict[str, Any] | None = None,
    verbose: bool = False,
    on_seed: Callable[[SeedRun], None] | None = None,
    unalign_rate: float = 1.0,
    keep_estimators: int | None = None,
    links: float | np.ndarray | None = None,
    rows_match: bool = False,
    reference: bool = True,
) -> tuple[dict[str, Any], list[SeedRun]]:
    """Run every seed and return the JSON payload of ``otmix cluster`` and the per-seed runs.

    Payload: ``{"dataset", "aligned", "n_views", "seeds", "config", "metrics": {m: {mean, std}},
    "per_view": [{"view", m: {mean, std}}...], "metrics_by_readout", "seconds", "data", "links",
    "alignability", "alignability_per_seed", "alignment", "reference"}``; the score blocks are empty
    when the data set has no labels. ``keep_estimators``: how many of the first runs keep their
    fitted estimator (``None``: all; each holds dense plans). ``links``, ``rows_match`` and
    ``reference`` as in :func:`run_seed`.

    - ``links``: None without links; else ``{"fraction": f or None, "n": k, "source": "simulated" or
      "given"}`` (k link rows; ``--links 0`` gives ``{"fraction": 0.0, "n": 0, ...}``, a fit without links).
    - ``alignability``: per view pair ``{"views", "score", "score_std", "alignable", "alignable_seeds",
      "seeds"}``: the mean score over seeds and the majority verdict (:func:`aggregate_alignability`);
      ``alignability_per_seed`` keeps every seed's own list. None when the estimator gives none.
    - ``alignment`` (labels only): per pair, mean ± std over seeds of the plan's class mass and twin
      rate over the first view's unlinked rows (:func:`pair_alignment`; ``twin_rate`` is None unless the
      true twins are known) and the chance class mass.
    - ``reference`` (labels only): ``{"per_view": [...]}``, K-means on each view alone, same seeds and rows.
    - ``readout_used``: the read-out ``labels_`` came from, per seed (the estimator's ``readout_``), or None.
    """
    n_clusters = n_clusters or data.n_clusters
    if n_clusters is None:
        raise ValueError(f"{data.name} has no labels; give the number of clusters")
    spec = check_links_spec(links, aligned, data.n_samples)  # before any fit
    params = dataset_config(data.name)
    params.update(overrides or {})
    start = time.perf_counter()
    runs = []
    for seed in seeds:
        run = run_seed(data, int(seed), aligned, params, int(n_clusters), verbose, unalign_rate, spec, rows_match,
                       reference)
        if keep_estimators is not None and len(runs) >= keep_estimators:
            run.estimator = None
        runs.append(run)
        if on_seed is not None:
            on_seed(run)
    payload: dict[str, Any] = {
        "dataset": data.name, "aligned": bool(aligned), "n_views": data.n_views, "seeds": [int(s) for s in seeds],
        "config": {"n_clusters": int(n_clusters), **params, "unalign_rate": None if aligned else unalign_rate},
        "data": data.summary(), "metrics": {}, "per_view": [], "metrics_by_readout": {},
        "seconds_per_seed": mean_std([r.seconds for r in runs]),
        "epochs_run": [r.epochs_run for r in runs],
        "links": None if spec is None else {
            "fraction": spec if isinstance(spec, float) else None, "n": int(len(runs[0].links)),
            "source": "simulated" if isinstance(spec, float) else "given"},
        "alignability": None, "alignability_per_seed": None, "alignment": None, "reference": None,
        "readout_used": [r.readout for r in runs] if all(r.readout is not None for r in runs) else None,
    }
    if all(r.alignability is not None for r in runs):
        payload["alignability"] = aggregate_alignability([r.alignability for r in runs])
        payload["alignability_per_seed"] = [r.alignability for r in runs]
    if data.ys is not None:
        payload.update(aggregate_scores([(r.overall, dict(enumerate(r.per_view)), r.by_readout) for r in runs],
                                        data.view_names))
        if all(r.alignment is not None for r in runs):
            payload["alignment"] = aggregate_alignment([r.alignment for r in runs])
        if all(r.reference is not None for r in runs):
            payload["reference"] = {
                "per_view": aggregate_per_view([dict(enumerate(r.reference)) for r in runs], data.view_names)}
    payload["seconds"] = time.perf_counter() - start
    return payload, runs
