"""Large views: the analysis and the matched read-out run on a seeded row sample (otmix.subsample)."""

import numpy as np
import pytest
from test_alignment import strong_and_weak

from otmix import OTMClustering
from otmix.metrics import acc
from otmix.ot._constraints import check_links
from otmix.subsample import sample_rows

FAST = dict(batch_size=64, epochs=2, patience=None)


def test_small_views_are_kept_whole():
    links = np.array([[0, 3], [2, -1]])
    sample = sample_rows([10, 8], links, max_rows=10, random_state=0)
    assert sample.full and sample.links is links
    assert [r.tolist() for r in sample.rows] == [list(range(10)), list(range(8))]
    Xs = [np.zeros((10, 2)), np.zeros((8, 3))]
    assert all(a is b for a, b in zip(sample.take(Xs), Xs))


def test_a_sample_keeps_linked_entities_and_maps_them_back():
    rng = np.random.default_rng(0)
    sizes = [1000, 700, 50]
    links = check_links(np.stack([rng.permutation(1000)[:300], rng.permutation(700)[:300],
                                  np.r_[rng.permutation(50)[:40], -np.ones(260, int)]], axis=1), sizes)
    sample = sample_rows(sizes, links, max_rows=200, random_state=1)
    assert not sample.full
    assert [r.size for r in sample.rows] == [200, 200, 50]
    for r, n in zip(sample.rows, sizes):
        assert np.all(np.diff(r) > 0) and r.min() >= 0 and r.max() < n
    assert sample.links.shape == (100, 3)  # half of max_rows linked entities
    back = sample.to_full(sample.links)
    originals = {tuple(row) for row in links.tolist()}
    assert all(tuple(row) in originals for row in back.tolist())  # the same entities, in the views' own rows
    for m, rows in enumerate(sample.rows):  # positions point at the sampled rows
        present = sample.links[:, m] >= 0
        np.testing.assert_array_equal(rows[sample.links[present, m]], back[present, m])
    again = sample_rows(sizes, links, max_rows=200, random_state=1)
    assert all(np.array_equal(a, b) for a, b in zip(again.rows, sample.rows))


def test_without_links_the_sample_is_uniform_and_seeded():
    a = sample_rows([500, 300], None, max_rows=100, random_state=3)
    b = sample_rows([500, 300], None, max_rows=100, random_state=4)
    assert a.links is None and [r.size for r in a.rows] == [100, 100]
    assert not np.array_equal(a.rows[0], b.rows[0])


def test_max_rows_must_be_positive():
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        sample_rows([5], None, max_rows=0)


def test_a_fit_on_views_larger_than_analysis_rows():
    Xs, ys, links, _ = strong_and_weak(n=600)
    est = OTMClustering(n_clusters=4, random_state=0, analysis_rows=200, readout="matched", **FAST)
    est.fit(Xs, links=links)
    assert [len(lab) for lab in est.labels_] == [600, 600]
    assert [r.size for r in est.analysis_rows_] == [200, 200]
    assert est.pair_plans_[(0, 1)].shape == (200, 200)
    assert est.training_["n_links"] == len(links)  # training sees every link
    for m, X in enumerate(Xs):  # rows outside the sample: the nearest matched centre, what predict gives
        outside = np.setdiff1d(np.arange(600), est.analysis_rows_[m])
        np.testing.assert_array_equal(est.labels_[m][outside], est.predict(X, view=m)[outside])
    whole = OTMClustering(n_clusters=4, random_state=0, readout="matched", **FAST).fit(Xs, links=links)
    assert whole.analysis_rows_ is None
    for m in range(2):  # the sample's clusters are about as good as the whole view's
        assert acc(ys[m], est.labels_[m]) >= acc(ys[m], whole.labels_[m]) - 0.05


def test_analysis_rows_below_n_clusters_is_refused():
    Xs, _, _, _ = strong_and_weak(n=100)
    with pytest.raises(ValueError, match="analysis_rows"):
        OTMClustering(n_clusters=4, analysis_rows=3, **FAST).fit(Xs)
