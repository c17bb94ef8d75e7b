import numpy as np
from sklearn.cluster import KMeans

from otmix.data import Dataset, load_dataset, make_digits2
from otmix.metrics import acc


def test_shapes_labels_and_preprocessing():
    ds = make_digits2()
    assert isinstance(ds, Dataset)
    assert ds.Xs[0].shape == (1797, 64)
    assert ds.Xs[1].shape[0] == 1797 and 2 <= ds.Xs[1].shape[1] < 64
    assert ds.n_clusters == 10 and ds.n_views == 2
    np.testing.assert_array_equal(ds.ys[0], ds.ys[1])
    assert ds.preprocessing == ["zscore", "zscore"]
    np.testing.assert_allclose(ds.Xs[1].mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(ds.Xs[1].std(axis=0), 1.0)


def test_weak_view_scores_lower_but_is_informative():
    ds = make_digits2(random_state=0)
    scores = [acc(y, KMeans(10, n_init=4, random_state=0).fit_predict(X)) for X, y in zip(ds.Xs, ds.ys)]
    assert scores[1] < scores[0] - 0.05
    assert scores[1] > 0.25


def test_seeded():
    a, b, c = make_digits2(1), make_digits2(1), make_digits2(2)
    np.testing.assert_array_equal(a.Xs[1], b.Xs[1])
    assert not np.array_equal(a.Xs[1], c.Xs[1])
    np.testing.assert_array_equal(a.Xs[0], c.Xs[0])


def test_through_load_dataset_with_other_preprocessing():
    ds = load_dataset("DIGITS2", preprocessing="none")
    assert ds.preprocessing == ["none", "none"]
    assert ds.Xs[0].max() == 16.0
    summary = ds.summary()
    assert summary["n_features"][0] == 64 and summary["n_clusters"] == 10
