import doctest

import numpy as np
import pytest
from conftest import aligned_blobs, make_blob_views

import otmix.baselines.simple as simple
from otmix.baselines.simple import KMeansConcat, PerViewKMeans, PerViewSpectral, balanced_concat
from otmix.metrics import acc

# well separated blobs give a kNN graph with one component per blob, which is what we want
pytestmark = pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")


def fast(cls, n_clusters, **kwargs):
    """The estimator with few K-means restarts where it has them (the CPU is shared)."""
    return cls(n_clusters, **({"n_init": 3} if cls is not PerViewSpectral else {}), **kwargs)


@pytest.mark.parametrize("cls", [PerViewKMeans, PerViewSpectral])
def test_per_view_recovers_blobs_in_every_view(cls):
    Xs, ys = make_blob_views(n_rows=(90, 75, 60), widths=(6, 4, 5), n_clusters=3, seed=1)
    labels = fast(cls, 3, random_state=0).fit_predict(Xs)
    assert [lab.shape for lab in labels] == [(90,), (75,), (60,)]
    for y, lab in zip(ys, labels):
        assert acc(y, lab) >= 0.95


@pytest.mark.parametrize("cls", [PerViewKMeans, PerViewSpectral])
def test_per_view_is_deterministic_and_views_independent(cls):
    Xs, _ = make_blob_views(seed=2)
    first = fast(cls, 3, random_state=7).fit_predict(Xs)
    second = fast(cls, 3, random_state=7).fit_predict(Xs)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    # a view clustered alone gets the same partition as in company (no information flows between views)
    alone = fast(cls, 3, random_state=0).fit_predict(Xs[:1])[0]
    assert acc(first[0], alone) == 1.0


def test_per_view_spectral_clips_neighbours_to_rows():
    Xs, ys = make_blob_views(n_rows=(12, 9), widths=(3, 2), n_clusters=3, seed=3)
    labels = PerViewSpectral(3, n_neighbors=50, random_state=0).fit_predict(Xs)
    assert [lab.shape for lab in labels] == [(12,), (9,)]
    assert all(lab.dtype == np.int64 for lab in labels)


def test_kmeans_concat_recovers_aligned_blobs():
    Xs, y = aligned_blobs(seed=4)
    model = KMeansConcat(3, random_state=0)
    labels = model.fit_predict(Xs)
    assert len(labels) == 2 and np.array_equal(labels[0], labels[1])
    assert acc(y, labels[0]) >= 0.95
    assert model.n_features_in_ == [6, 4]
    again = KMeansConcat(3, random_state=0).fit_predict(Xs)
    assert np.array_equal(labels[0], again[0])


def test_kmeans_concat_wide_noise_view_does_not_dominate():
    # a 200-wide pure-noise view next to an informative 4-wide one: without the sqrt(width) balance
    # the noise holds 98% of the variance and K-means fails
    Xs, y = aligned_blobs(n_rows=90, widths=(4,), seed=5)
    noise = np.random.default_rng(5).normal(size=(90, 200))
    labels = KMeansConcat(3, random_state=0).fit_predict([Xs[0], noise])
    assert acc(y, labels[0]) >= 0.95


def test_balanced_concat_gives_every_view_unit_variance():
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(50, 3)) * 100, rng.normal(size=(50, 40)), np.c_[rng.normal(size=(50, 2)), np.ones(50)]]
    Z = balanced_concat(Xs)
    assert Z.shape == (50, 46)
    bounds = np.cumsum([0, 3, 40, 3])
    totals = [Z[:, a:b].var(axis=0).sum() for a, b in zip(bounds[:-1], bounds[1:])]
    np.testing.assert_allclose(totals, [1.0, 1.0, 2.0 / 3.0])  # the constant column adds nothing


def test_kmeans_concat_refuses_unaligned_views():
    Xs, _ = make_blob_views(n_rows=(90, 75))
    with pytest.raises(ValueError, match="needs aligned views"):
        KMeansConcat(3).fit(Xs)


@pytest.mark.parametrize("cls, kwargs, match", [
    (KMeansConcat, {"n_init": 0}, "n_init"),
    (PerViewKMeans, {"n_init": 1.5}, "n_init"),
    (PerViewSpectral, {"n_neighbors": 0}, "n_neighbors"),
    (PerViewKMeans, {"n_clusters": 0}, "n_clusters"),
])
def test_bad_parameters_raise(cls, kwargs, match):
    Xs, _ = aligned_blobs(seed=6)
    params = {"n_clusters": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(Xs)


def test_get_params_round_trip():
    model = PerViewSpectral(4, n_neighbors=5, random_state=3)
    assert model.get_params() == {"n_clusters": 4, "n_neighbors": 5, "random_state": 3}


def test_docstring_examples_run():
    failures, tried = doctest.testmod(simple, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_every_baseline_is_exported_and_says_whether_it_needs_aligned_rows():
    import otmix.baselines as baselines

    aligned = {name: getattr(baselines, name).requires_aligned for name in baselines.__all__[1:]}
    assert aligned == {"KMeansConcat": True, "PerViewKMeans": False, "PerViewSpectral": False, "MCCA": True,
                       "DCCAE": True, "MultiNMF": True, "GWMAC": False, "LinkedKMeans": False, "PVC": False}
