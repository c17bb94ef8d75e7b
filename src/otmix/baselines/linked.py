r"""Baselines for the *linked* setting: unaligned views plus a table of rows known to be one entity.

Every view's rows are permuted on their own, except that a link table says which rows
of different views describe the same entity: ``links`` is an int array of shape
``(n_links, M)``, one column per view, holding row indices, ``-1`` where the entity is
absent from a view (validated by :func:`otmix.ot._constraints.check_links`: indices in
range, no row linked twice in a view, at least two views present per link).

Both estimators give **consistent cluster ids**: id :math:`c` means the same cluster in
every view, so scores pooled over the rows of all views make sense.

* :class:`LinkedKMeans` clusters every view alone and renames each view's clusters to
  agree with a reference view on the linked rows (Hungarian matching of the ids).
* :class:`PVC` follows Huang et al. (2020): a shared space learnt on the linked rows
  (multi-set CCA, :func:`otmix.baselines.mcca.mcca_directions`), every row projected into
  it, the unlinked rows re-aligned to the reference view by Hungarian matching, and
  K-means on the concatenated projections of the re-aligned entities.

The **reference view** of both is the view with the most rows present in the link
table (the lowest index on a tie): it has the most anchors to the other views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans

from ..ot._constraints import check_links
from ..params import check_int, check_real
from .base import MultiViewClusterer
from .mcca import mcca_directions
from .simple import _view_seeds


def _links_or_empty(links: Any, sizes: Sequence[int]) -> np.ndarray:
    """The validated link table, or an empty ``(0, M)`` one for ``links=None``."""
    if links is None:
        return np.zeros((0, len(sizes)), dtype=np.int64)
    return check_links(links, sizes)


def reference_view(links: np.ndarray) -> int:
    """The view with the most rows present in ``links`` (the lowest index on a tie).

    Examples
    --------
    >>> reference_view(np.array([[0, -1, 1], [2, 3, -1], [-1, 0, 4]]))
    0
    >>> reference_view(np.array([[-1, 1, 0], [2, 3, -1]]))
    1
    """
    return int(np.argmax((links >= 0).sum(axis=0))) if links.shape[1] else 0


def match_ids(reference: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    r"""Rename the ids of ``labels`` so that they agree with ``reference`` on as many pairs as possible.

    With the contingency table :math:`N_{ab} = \#\{k : r_k = a,\ \ell_k = b\}` of the
    paired ids, the Hungarian algorithm finds the permutation :math:`\sigma` maximising
    :math:`\sum_b N_{\sigma(b)\,b}`, the pairs whose ids agree after the renaming
    :math:`b \mapsto \sigma(b)`.

    Parameters
    ----------
    reference, labels : int ndarrays of shape (n_pairs,)
        Ids in ``0..n_clusters-1`` of the two members of every pair.
    n_clusters : int
        Number of ids.

    Returns
    -------
    sigma : int64 ndarray of shape (n_clusters,)
        The new id of every old id of ``labels`` (a permutation); apply as ``sigma[labels]``.

    Examples
    --------
    >>> match_ids(np.array([0, 0, 1, 2]), np.array([2, 2, 0, 1]), 3).tolist()
    [1, 2, 0]
    """
    table = np.zeros((n_clusters, n_clusters))
    np.add.at(table, (reference, labels), 1.0)
    rows, cols = linear_sum_assignment(table, maximize=True)
    sigma = np.empty(n_clusters, dtype=np.int64)
    sigma[cols] = rows
    return sigma


class _LinkedClusterer(MultiViewClusterer):
    """``fit(Xs, y=None, links=None)``: the base's checks plus a validated link table."""

    requires_aligned = False

    def _fit_linked(self, Xs: list[np.ndarray], links: np.ndarray) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def fit(self, Xs: Sequence[Any], y: Any = None, links: Any = None) -> _LinkedClusterer:
        """Cluster the views ``Xs`` with the link table ``links`` (labels, if given, are ignored).

        Parameters
        ----------
        Xs : list of array-likes of shape (n_samples[m], n_features[m])
            Unaligned views.
        y : ignored
        links : int array-like of shape (n_links, n_views) or None
            Row indices of the same entity in every view, ``-1`` where it is absent.

        Returns
        -------
        self
        """
        Xs = self._check(Xs)
        table = _links_or_empty(links, [X.shape[0] for X in Xs])
        labels = self._fit_linked(Xs, table)
        self.labels_ = [np.asarray(lab, dtype=np.int64) for lab in labels]
        self.n_features_in_ = [X.shape[1] for X in Xs]
        return self

    def fit_predict(self, Xs: Sequence[Any], y: Any = None, links: Any = None) -> list[np.ndarray]:
        """Fit and return the cluster of every row of every view (one array per view, consistent ids)."""
        return self.fit(Xs, links=links).labels_


class LinkedKMeans(_LinkedClusterer):
    r"""K-means on every view alone, the cluster ids matched across views through the links.

    View :math:`m` is clustered by K-means on its own rows (``n_init`` restarts, one seed
    per view drawn from ``random_state`` as in :class:`~otmix.baselines.simple.PerViewKMeans`),
    giving :math:`\ell^{(m)}`. The reference view :math:`r` (the most rows present in the
    link table; the lowest index on a tie) keeps its ids; every other view's ids are
    renamed by the permutation :math:`\sigma_m` maximising the linked entities present in
    both views whose clusters agree,

    .. math::

        \sigma_m = \arg\max_{\sigma} \sum_{k:\ i_k^{(r)} \ge 0,\ i_k^{(m)} \ge 0}
        \bigl[\ell^{(r)}_{i_k^{(r)}} = \sigma\bigl(\ell^{(m)}_{i_k^{(m)}}\bigr)\bigr],

    solved by the Hungarian algorithm on their contingency table (:func:`match_ids`).
    The partitions themselves are those of per-view K-means; only the names change.

    A view that shares no linked entity with the reference keeps its own ids (no chaining
    through a third view), and so does every view when ``links`` is ``None`` or empty:
    the estimator then equals :class:`~otmix.baselines.simple.PerViewKMeans` with the same
    ``random_state`` and the ids are **not** consistent (``matched_`` says which views were
    matched).

    Parameters
    ----------
    n_clusters : int
        Number of clusters in every view.
    n_init : int, default=10
        K-means restarts per view.
    random_state : int, RandomState instance or None
        One seed per view is drawn from it.

    Attributes
    ----------
    labels_ : list of int64 ndarrays
        Cluster of every row of every view, ids consistent with the reference view.
    reference_ : int
        The reference view.
    permutations_ : list of int64 ndarrays of shape (n_clusters,)
        :math:`\sigma_m`, the new id of every K-means id of view m (identity for the reference
        and for unmatched views).
    matched_ : list of bool
        Whether each view's ids were matched to the reference (True for the reference).
    link_agreement_ : list of float
        Share of the linked entities present in view m and the reference whose ids agree
        after the matching (1.0 for the reference, NaN where none is shared).
    n_features_in_ : list of int
        Width of each view.

    Examples
    --------
    >>> X = np.r_[np.zeros((4, 2)), np.ones((4, 2)) * 10]
    >>> links = np.array([[0, 7], [4, 3]])  # view 1 is view 0 upside down: row i there is row 7 - i here
    >>> labels = LinkedKMeans(2, random_state=0).fit_predict([X, X[::-1]], links=links)
    >>> bool((labels[0] == labels[1][::-1]).all())
    True
    """

    def __init__(self, n_clusters: int, n_init: int = 10, random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def _fit_linked(self, Xs: list[np.ndarray], links: np.ndarray) -> list[np.ndarray]:
        n_init = check_int("n_init", self.n_init, low=1)
        n_clusters = int(self.n_clusters)
        seeds = _view_seeds(self.random_state, len(Xs))
        labels = [KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(X)
                  for X, seed in zip(Xs, seeds)]
        ref = reference_view(links)
        identity = np.arange(n_clusters, dtype=np.int64)
        permutations, matched, agreement = [], [], []
        for m, lab in enumerate(labels):
            shared = (links[:, ref] >= 0) & (links[:, m] >= 0) if m != ref else np.zeros(len(links), bool)
            if m == ref or not shared.any():
                permutations.append(identity.copy())
                matched.append(m == ref)
                agreement.append(1.0 if m == ref else float("nan"))
                continue
            a, b = labels[ref][links[shared, ref]], lab[links[shared, m]]
            sigma = match_ids(a, b, n_clusters)
            permutations.append(sigma)
            matched.append(True)
            agreement.append(float(np.mean(a == sigma[b])))
        self.reference_, self.permutations_ = ref, permutations
        self.matched_, self.link_agreement_ = matched, agreement
        return [sigma[lab] for sigma, lab in zip(permutations, labels)]


class PVC(_LinkedClusterer):
    r"""PVC-style pipeline: shared space from the linked rows, Hungarian re-alignment, K-means.

    After Huang et al., "Partially View-aligned Clustering" (NeurIPS 2020), with a linear
    shared space in place of their deep one:

    1. **Shared space.** On the :math:`L` entities linked in *every* view, multi-set CCA
       (:func:`~otmix.baselines.mcca.mcca_directions`, regularised auto-covariances
       :math:`(1-r) C_{mm} + r\,\tau_m I`) gives :math:`W_m \in \mathbb R^{D_m\times k}`;
       the views are centred by their linked rows' means :math:`\bar x_m`.
    2. **Projection.** Every row of every view: :math:`z^{(m)}_i = (x^{(m)}_i - \bar x_m) W_m`.
    3. **Re-alignment.** The reference view :math:`r` (the most rows present in the link
       table; the lowest index on a tie) anchors the entities: the linked entities, plus one
       entity per reference row outside the links. For every other view :math:`m`, the rows
       of :math:`m` outside the link table are matched to the entities holding a reference
       row and no row of :math:`m` by the Hungarian algorithm on the squared distances in
       the shared space,

       .. math::

           \min_{\pi} \sum_{i} \bigl\lVert z^{(m)}_i - z^{(r)}_{\pi(i)} \bigr\rVert^2,

       :math:`\pi` injective (:func:`scipy.optimize.linear_sum_assignment`). With unequal
       numbers the smaller set is matched entirely and the surplus of the larger stays
       unmatched: surplus rows of :math:`m` become entities of their own, surplus entities
       simply have no row of :math:`m`. Each view is matched independently (only its own
       column of the entity table is filled), so the order of the views does not matter.
       Rows of entities linked without the reference view keep their links and are not
       re-matched.
    4. **Clustering.** Entity :math:`e` is the concatenation
       :math:`[z^{(1)}_{e}, \dots, z^{(M)}_{e}]` of its rows' projections. K-means
       (``n_init`` restarts) is fitted on the entities present in every view (on all
       entities, a missing block filled with the mean of the entity's present blocks, when
       fewer than ``n_clusters`` are complete). Every entity then takes the nearest centre
       :math:`\mu_c = [\mu_{c,1}, \dots, \mu_{c,M}]` measured on its present blocks only,
       :math:`\arg\min_c \sum_{m \text{ present}} \lVert z^{(m)}_e - \mu_{c,m}\rVert^2`, so
       an unmatched row gets the nearest centre of its own projection within its view's
       block; every row takes its entity's cluster, so ids are consistent across views.

    Entities linked in only some views take part where present: in the re-alignment
    (their rows are never re-matched) and in the clustering (their present blocks), but
    the shared space is learnt only on entities linked in every view.

    Parameters
    ----------
    n_clusters : int
        Number of clusters.
    n_components : int or None, default=None
        Dimension :math:`k` of the shared space. ``None`` uses
        :math:`\min(C,\ L - 1,\ \sum_m \min(D_m, L))`: the number of clusters, capped by the
        rank of the :math:`L` centred linked rows and by the size of the CCA problem.
    reg : float in [0, 1], default=0.5
        Shrinkage :math:`r` of the auto-covariances towards :math:`\tau_m I`; must be
        positive when a view has at least as many features as there are linked rows.
        The default is stronger than :class:`~otmix.baselines.mcca.MCCA`'s 0.1 because
        the space is learnt on a few linked rows only: measured at 10 % links (seeds
        0-2), 0.5 beat 0.1 on digits2 and orl4 (pooled NMI 0.44 vs 0.32, 0.53 vs 0.46) and
        tied on movies and prokaryotic, where 0.9 lost (prokaryotic 0.03 vs 0.07).
    n_init : int, default=10
        K-means restarts.
    random_state : int, RandomState instance or None
        Seeds K-means (the shared space and the matching are deterministic).

    Attributes
    ----------
    labels_ : list of int64 ndarrays
        Cluster of every row of every view (consistent ids).
    reference_ : int
        The reference view.
    n_components_ : int
        The :math:`k` used.
    weights_ : list of ndarrays of shape (n_features[m], k)
        :math:`W_m`, applied to the centred view.
    means_ : list of ndarrays of shape (n_features[m],)
        :math:`\bar x_m`, means of the linked rows.
    eigenvalues_ : ndarray of shape (k,)
        MCCA generalised eigenvalues, decreasing.
    embeddings_ : list of ndarrays of shape (n_samples[m], k)
        :math:`z^{(m)}`, every row projected into the shared space.
    entities_ : int64 ndarray of shape (n_entities, n_views)
        The re-aligned entity table, ``-1`` where absent: the links first (in their order),
        then one entity per reference row outside the links, then the unmatched rows of the
        other views. Every row of every view appears exactly once.
    entity_labels_ : int64 ndarray of shape (n_entities,)
        Cluster of every entity.
    cluster_centers_ : ndarray of shape (n_clusters, n_views * k)
        K-means centres in the concatenated space.
    n_features_in_ : list of int
        Width of each view.

    References
    ----------
    Z. Huang, P. Hu, J. T. Zhou, J. Lv, X. Peng, "Partially View-aligned Clustering",
    NeurIPS 2020.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 8]
    >>> perm = rng.permutation(40)
    >>> links = np.c_[perm[:4], np.arange(4)]  # row i of view 1 is row perm[i] of view 0
    >>> model = PVC(2, random_state=0).fit([X, X[perm]], links=links)
    >>> bool((model.labels_[0][perm] == model.labels_[1]).all())
    True
    """

    def __init__(self, n_clusters: int, n_components: int | None = None, reg: float = 0.5, n_init: int = 10,
                 random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.reg = reg
        self.n_init = n_init
        self.random_state = random_state

    def _shared_space(self, Xs: list[np.ndarray], complete: np.ndarray) -> None:
        """Fit MCCA on the rows of the entities linked in every view; sets the projection attributes."""
        r = check_real("reg", self.reg, low=0.0, high=1.0)
        n_linked = complete.shape[0]
        if n_linked < 2:
            raise ValueError(f"PVC needs at least 2 entities linked in every view to learn the shared space, "
                             f"got {n_linked}")
        linked = [X[complete[:, m]] for m, X in enumerate(Xs)]
        if r == 0.0:
            for m, X in enumerate(linked):
                if X.shape[1] >= n_linked:
                    raise ValueError(f"view {m} has {X.shape[1]} features but only {n_linked} linked rows; "
                                     f"its covariance is singular, so reg must be > 0")
        limit = sum(min(X.shape[1], n_linked) for X in linked)
        if self.n_components is None:
            k = max(1, min(int(self.n_clusters), n_linked - 1, limit))
        else:
            k = check_int("n_components", self.n_components, low=1, high=limit,
                          why=f"(the CCA of {n_linked} linked rows has {limit} directions)")
        means = [X.mean(axis=0) for X in linked]
        weights, eigenvalues = mcca_directions([X - mean for X, mean in zip(linked, means)], k, r)
        k = int(weights[0].shape[1])  # the eigenproblem may give fewer directions than asked (rank)
        self.means_, self.weights_, self.eigenvalues_, self.n_components_ = means, weights, eigenvalues, k
        self.embeddings_ = [(X - mean) @ W for X, mean, W in zip(Xs, means, weights)]

    @staticmethod
    def _realign(Zs: list[np.ndarray], links: np.ndarray, ref: int) -> np.ndarray:
        """The entity table: links, reference rows outside them, Hungarian matches, unmatched rows."""
        n_views = len(Zs)
        sizes = [Z.shape[0] for Z in Zs]
        free = []  # rows of every view outside the link table
        for m, n in enumerate(sizes):
            taken = np.zeros(n, dtype=bool)
            taken[links[:, m][links[:, m] >= 0]] = True
            free.append(np.flatnonzero(~taken))
        ref_entities = np.full((free[ref].size, n_views), -1, dtype=np.int64)
        ref_entities[:, ref] = free[ref]
        table = np.vstack([links.astype(np.int64), ref_entities])
        open_rows = table[:, ref] >= 0  # entities anchored in the reference, before any matching
        extra = []
        for m in range(n_views):
            if m == ref:
                continue
            targets = np.flatnonzero(open_rows & (table[:, m] < 0))
            rows = free[m]
            matched = np.zeros(rows.size, dtype=bool)
            if rows.size and targets.size:
                cost = cdist(Zs[m][rows], Zs[ref][table[targets, ref]], metric="sqeuclidean")
                i, j = linear_sum_assignment(cost)
                table[targets[j], m] = rows[i]
                matched[i] = True
            alone = np.full((int((~matched).sum()), n_views), -1, dtype=np.int64)
            alone[:, m] = rows[~matched]
            extra.append(alone)
        return np.vstack([table, *extra])

    def _cluster(self, Zs: list[np.ndarray], table: np.ndarray) -> np.ndarray:
        """K-means on the concatenated projections of the entities; the label of every entity."""
        n_init = check_int("n_init", self.n_init, low=1)
        n_clusters, k = int(self.n_clusters), self.n_components_
        present = table >= 0
        blocks = np.zeros((table.shape[0], len(Zs), k))
        for m, Z in enumerate(Zs):
            blocks[present[:, m], m] = Z[table[present[:, m], m]]
        complete = present.all(axis=1)
        km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=self.random_state)
        if complete.sum() >= n_clusters:
            km.fit(blocks[complete].reshape(int(complete.sum()), -1))
        else:  # too few complete entities: fill each missing block with the mean of the present ones
            fill = blocks.sum(axis=1, keepdims=True) / present.sum(axis=1)[:, None, None]
            km.fit(np.where(present[:, :, None], blocks, fill).reshape(table.shape[0], -1))
        centres = km.cluster_centers_.reshape(n_clusters, len(Zs), k)
        self.cluster_centers_ = km.cluster_centers_
        dist = np.zeros((table.shape[0], n_clusters))
        for m in range(len(Zs)):
            d = ((blocks[:, m, None, :] - centres[None, :, m, :]) ** 2).sum(axis=2)
            dist += np.where(present[:, m, None], d, 0.0)
        return np.argmin(dist, axis=1).astype(np.int64)

    def _fit_linked(self, Xs: list[np.ndarray], links: np.ndarray) -> list[np.ndarray]:
        if len(Xs) < 2:
            raise ValueError(f"PVC needs at least 2 views, got {len(Xs)}")
        complete = links[(links >= 0).all(axis=1)]
        self._shared_space(Xs, complete)
        ref = reference_view(links)
        table = self._realign(self.embeddings_, links, ref)
        entity_labels = self._cluster(self.embeddings_, table)
        labels = []
        for m, X in enumerate(Xs):
            lab = np.full(X.shape[0], -1, dtype=np.int64)
            rows = table[:, m] >= 0
            lab[table[rows, m]] = entity_labels[rows]
            labels.append(lab)
        self.reference_, self.entities_, self.entity_labels_ = ref, table, entity_labels
        return labels
