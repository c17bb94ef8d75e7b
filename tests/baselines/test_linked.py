import doctest
import itertools

import numpy as np
import pytest
from sklearn.base import clone

import otmix.baselines as baselines
import otmix.baselines.linked as linked
from otmix.baselines.linked import PVC, LinkedKMeans, match_ids, reference_view
from otmix.baselines.mcca import MCCA
from otmix.baselines.simple import PerViewKMeans
from otmix.data import unalign
from otmix.metrics import acc

CLASSES = [LinkedKMeans, PVC]


def linked_views(n=240, widths=(8, 5, 6), n_clusters=4, fraction=0.1, separation=6.0, seed=0):
    """Every view a random linear map of the same clustered latent points, unaligned, a share of entities linked.

    Returns (Xs, ys, links, perms): ``unalign``'s output, with ``links[:, m]`` the row of every linked
    entity in view m (row i of view m is entity ``perms[m][i]``).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 3)) * separation
    y = rng.permutation(np.arange(n) % n_clusters)
    latent = centres[y] + 0.5 * rng.normal(size=(n, 3))
    Xs = [latent @ rng.normal(size=(3, w)) + 0.1 * rng.normal(size=(n, w)) for w in widths]
    Xs, ys, perms = unalign(Xs, y, random_state=seed)
    entities = rng.choice(n, round(fraction * n), replace=False)
    links = np.stack([np.argsort(p)[entities] for p in perms], axis=1)
    return Xs, ys, links, perms


def fast(cls, n_clusters, **kwargs):
    return cls(n_clusters, **{"n_init": 3, **kwargs})


@pytest.mark.parametrize("cls", CLASSES)
def test_recovers_the_clusters_with_ids_consistent_across_views(cls):
    Xs, ys, links, _ = linked_views()
    labels = fast(cls, 4, random_state=0).fit_predict(Xs, links=links)
    assert [lab.shape for lab in labels] == [(240,)] * 3
    assert all(lab.dtype == np.int64 for lab in labels)
    assert acc(np.concatenate(ys), np.concatenate(labels)) >= 0.95  # one id map for every view
    for y, lab in zip(ys, labels):
        assert acc(y, lab) >= 0.95


def test_unmatched_per_view_ids_would_fail_the_pooled_score():
    """The pooled check above can fail: per-view K-means with the same seeds does not share ids here."""
    Xs, ys, links, _ = linked_views()
    per_view = PerViewKMeans(4, n_init=3, random_state=0).fit_predict(Xs)
    assert min(acc(y, lab) for y, lab in zip(ys, per_view)) >= 0.95
    assert acc(np.concatenate(ys), np.concatenate(per_view)) < 0.95


def test_linked_kmeans_renames_per_view_kmeans_so_linked_rows_agree():
    Xs, ys, links, _ = linked_views(seed=3)
    model = fast(LinkedKMeans, 4, random_state=5).fit(Xs, links=links)
    per_view = PerViewKMeans(4, n_init=3, random_state=5).fit_predict(Xs)
    for lab, raw, sigma in zip(model.labels_, per_view, model.permutations_):
        assert np.array_equal(lab, sigma[raw])  # only the names change
        assert sorted(sigma.tolist()) == [0, 1, 2, 3]
    ref = model.reference_
    for m, lab in enumerate(model.labels_):
        agree = np.mean(lab[links[:, m]] == model.labels_[ref][links[:, ref]])
        assert agree == pytest.approx(model.link_agreement_[m])
        assert agree >= 0.95
    assert model.matched_ == [True] * 3


def test_match_ids_maximises_the_agreeing_pairs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.integers(0, 4, size=30), rng.integers(0, 4, size=30)
        sigma = match_ids(a, b, 4)
        best = max(np.sum(a == np.asarray(p)[b]) for p in itertools.permutations(range(4)))
        assert sorted(sigma.tolist()) == [0, 1, 2, 3]
        assert np.sum(a == sigma[b]) == best


def test_reference_is_the_view_with_most_links_and_unshared_views_keep_their_ids():
    Xs, ys, links, _ = linked_views(seed=1)
    partial = links.copy()
    partial[:12, 0] = -1  # view 0 loses 12 links: views 1 and 2 tie, the lower index wins
    assert reference_view(partial) == 1
    model = fast(LinkedKMeans, 4, random_state=0).fit(Xs, links=partial)
    assert model.reference_ == 1
    assert acc(np.concatenate(ys), np.concatenate(model.labels_)) >= 0.95

    only01 = links[:, :2]
    only01 = np.c_[only01, np.full(len(only01), -1)]  # view 2 shares no entity with the reference
    model = fast(LinkedKMeans, 4, random_state=0).fit(Xs, links=only01)
    raw = PerViewKMeans(4, n_init=3, random_state=0).fit_predict(Xs)
    assert model.reference_ == 0 and model.matched_ == [True, True, False]
    assert np.array_equal(model.permutations_[2], np.arange(4)) and np.isnan(model.link_agreement_[2])
    assert np.array_equal(model.labels_[2], raw[2])


@pytest.mark.parametrize("links", [None, np.zeros((0, 3), dtype=int)])
def test_linked_kmeans_without_links_falls_back_to_unmatched_per_view_ids(links):
    Xs, _, _, _ = linked_views(seed=2)
    model = fast(LinkedKMeans, 4, random_state=4).fit(Xs, links=links)
    raw = PerViewKMeans(4, n_init=3, random_state=4).fit_predict(Xs)
    assert all(np.array_equal(a, b) for a, b in zip(model.labels_, raw))
    assert model.matched_ == [True, False, False]  # the reference, and nothing matched to it


def permuted_copy(n=200, fraction=0.1, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 4)
    X = rng.normal(size=(4, 5))[y] * 5 + rng.normal(size=(n, 5))
    perm = rng.permutation(n)  # row i of the copy is row perm[i] of X
    chosen = rng.choice(n, round(fraction * n), replace=False)
    return X, perm, np.c_[perm[chosen], chosen], y


def test_pvc_realigns_a_permuted_copy_exactly():
    X, perm, links, y = permuted_copy()
    model = fast(PVC, 4, random_state=0).fit([X, X[perm]], links=links)
    table = model.entities_
    assert table.shape == (200, 2) and (table >= 0).all()
    assert np.array_equal(table[:len(links)], links)  # the links come first, as given
    assert np.array_equal(table[:, 0], perm[table[:, 1]])  # every entity is a true pair
    assert np.array_equal(model.labels_[0][perm], model.labels_[1])
    assert acc(y, model.labels_[0]) >= 0.95


@pytest.mark.parametrize("subset_first", [False, True])
def test_pvc_matches_the_smaller_set_and_leaves_the_surplus_unmatched(subset_first):
    X, _, _, _ = permuted_copy(seed=1)
    rng = np.random.default_rng(1)
    sub = rng.choice(200, 150, replace=False)  # row i of the small view is row sub[i] of X
    chosen = rng.choice(150, 15, replace=False)
    Xs, links = [X, X[sub]], np.c_[sub[chosen], chosen]
    if subset_first:
        Xs, links = Xs[::-1], links[:, ::-1]
    model = fast(PVC, 4, random_state=0).fit(Xs, links=links)
    table = model.entities_
    big, small = (1, 0) if subset_first else (0, 1)
    for m, n in ((big, 200), (small, 150)):
        rows = table[table[:, m] >= 0, m]
        assert np.array_equal(np.sort(rows), np.arange(n))  # every row exactly once
    pairs = (table >= 0).all(axis=1)
    assert pairs.sum() == 150  # the whole smaller view is matched, correctly
    assert np.array_equal(table[pairs, big], sub[table[pairs, small]])
    assert all(lab.min() >= 0 and lab.max() < 4 for lab in model.labels_)
    assert np.array_equal(model.labels_[big][sub], model.labels_[small])


def test_pvc_reuses_the_mcca_projections_of_the_linked_rows():
    Xs, _, links, _ = linked_views(seed=4)
    model = fast(PVC, 4, n_components=3, reg=0.2, random_state=0).fit(Xs, links=links)
    mcca = MCCA(4, n_components=3, regularization=0.2, random_state=0).fit([X[links[:, m]] for m, X in enumerate(Xs)])
    for W, W_ref, mean, mean_ref in zip(model.weights_, mcca.weights_, model.means_, mcca.means_):
        np.testing.assert_allclose(W, W_ref, atol=1e-10)
        np.testing.assert_allclose(mean, mean_ref, atol=1e-12)
    for X, Z, W, mean in zip(Xs, model.embeddings_, model.weights_, model.means_):
        np.testing.assert_allclose(Z, (X - mean) @ W)
    assert model.n_components_ == 3 and model.cluster_centers_.shape == (4, 9)


def test_pvc_default_dimension_is_capped_by_the_linked_rows():
    Xs, _, links, _ = linked_views(seed=5)
    assert fast(PVC, 4, random_state=0).fit(Xs, links=links).n_components_ == 4
    assert fast(PVC, 4, random_state=0).fit(Xs, links=links[:3]).n_components_ == 2


def test_pvc_uses_partial_links_where_present():
    Xs, ys, links, _ = linked_views(seed=6)
    partial = links.copy()
    partial[:8, 2] = -1  # entities linked in views 0 and 1 only
    partial[8:12, 1] = -1  # and in views 0 and 2 only
    model = fast(PVC, 4, random_state=0).fit(Xs, links=partial)
    table = model.entities_
    given = partial >= 0
    assert np.array_equal(table[:len(partial)][given], partial[given])  # linked rows are never re-matched
    # an entity missing from view 2 but present in the reference (view 0) may take a free row of view 2
    assert (table[:8, 2] >= 0).any() and (table[8:12, 1] >= 0).any()
    for m in range(3):
        rows = table[table[:, m] >= 0, m]
        assert np.array_equal(np.sort(rows), np.arange(240))
    assert acc(np.concatenate(ys), np.concatenate(model.labels_)) >= 0.95


def test_pvc_clusters_when_few_entities_are_complete():
    """Fewer complete entities than clusters: K-means runs on all entities, missing blocks filled."""
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(4, 3)), rng.normal(size=(6, 2)), rng.normal(size=(3, 2))]
    links = np.array([[0, 0, 0], [1, 1, 1], [-1, 2, 2], [2, 3, -1], [3, 4, -1]])  # views 0 and 2 all linked
    model = PVC(3, n_init=2, random_state=0).fit(Xs, links=links)
    assert model.reference_ == 1
    assert [lab.shape for lab in model.labels_] == [(4,), (6,), (3,)]
    assert all(lab.min() >= 0 and lab.max() < 3 for lab in model.labels_)
    assert model.n_components_ == 1
    assert ((model.entities_ >= 0).all(axis=1)).sum() == 2  # only the two complete links
    assert model.entities_.shape == (6, 3)  # the 5 links and reference row 5 alone


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("bad, match", [
    (lambda L: np.r_[L, [[240, 0, 0]]], "out of range"),
    (lambda L: np.r_[L, [[-2, 0, 0]]], "out of range"),
    (lambda L: np.r_[L, L[:1]], "linked more than once"),
    (lambda L: L[:, :2], "3 columns"),
    (lambda L: np.c_[L, L[:, :1]], "3 columns"),
    (lambda L: np.r_[L, [[5, -1, -1]]], "fewer than two views"),
    (lambda L: L.astype(float) + 0.5, "integers"),
    (lambda L: L[:, 0], "2-D"),
])
def test_bad_links_give_one_line_errors(cls, bad, match):
    Xs, _, links, _ = linked_views(seed=7)
    with pytest.raises(ValueError, match=match) as err:
        fast(cls, 4, random_state=0).fit(Xs, links=bad(links))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs, links, match", [
    ({}, None, "at least 2 entities linked in every view"),
    ({}, "one", "at least 2 entities linked in every view"),
    ({"n_components": 99}, "all", "n_components"),
    ({"reg": 0.0}, "all", "reg must be > 0"),
    ({"reg": 1.5}, "all", "reg"),
    ({"n_init": 0}, "all", "n_init"),
])
def test_pvc_bad_input_gives_one_line_errors(kwargs, links, match):
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(40, 30)), rng.normal(size=(40, 4))]
    table = {None: None, "one": np.array([[0, 0]]), "all": np.c_[np.arange(20), np.arange(20)]}[links]
    with pytest.raises(ValueError, match=match) as err:
        fast(PVC, 3, **{"random_state": 0, **kwargs}).fit(Xs, links=table)
    assert "\n" not in str(err.value)


def test_pvc_needs_two_views():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="at least 2 views"):
        PVC(2).fit([X], links=np.zeros((0, 1), dtype=int))


@pytest.mark.parametrize("cls", CLASSES)
def test_reproducible_with_random_state(cls):
    Xs, _, links, _ = linked_views(seed=8, separation=2.0)  # overlapping clusters: seeds matter
    first = fast(cls, 4, random_state=11).fit_predict(Xs, links=links)
    second = fast(cls, 4, random_state=11).fit_predict(Xs, links=links)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    model = clone(fast(cls, 4, random_state=11))
    assert all(np.array_equal(a, b) for a, b in zip(first, model.fit_predict(Xs, links=links)))


def test_exported_and_do_not_need_aligned_rows():
    assert baselines.LinkedKMeans is LinkedKMeans and baselines.PVC is PVC
    assert {"LinkedKMeans", "PVC"} <= set(baselines.__all__)
    assert LinkedKMeans.requires_aligned is False and PVC.requires_aligned is False
    assert "LinkedKMeans" in baselines.__doc__ and "PVC" in baselines.__doc__


def test_docstring_examples_run():
    failures, tried = doctest.testmod(linked, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_pvc_when_the_eigenproblem_gives_fewer_directions_than_asked():
    """digits2, seed 2, 10 % links: LAPACK returned 8 of the 10 directions asked; PVC must use those it got."""
    from otmix.data import load_dataset, simulate_links, unalign
    from otmix.data.links import link_seed

    ds = load_dataset("digits2")
    Xs, ys, perms = unalign(ds.Xs, ds.ys, random_state=2)
    links = simulate_links(perms, 0.1, random_state=link_seed(2))
    model = PVC(n_clusters=10, random_state=2).fit(Xs, links=links)
    assert model.n_components_ == model.weights_[0].shape[1] <= 10
    assert [lab.shape for lab in model.labels_] == [(1797,), (1797,)]
    assert all(lab.min() >= 0 for lab in model.labels_)
