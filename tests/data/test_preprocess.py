import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfTransformer

from otmix.data import PREPROCESSING, preprocess_view, preprocess_views


def test_choices():
    assert PREPROCESSING == ("zscore", "l2", "tfidf", "none")


def test_zscore_standardises_and_zeroes_constant_columns(rng):
    X = rng.normal(3.0, 5.0, size=(50, 4))
    X[:, 2] = 0.1  # constant; its float mean is not exactly 0.1
    Z = preprocess_view(X, "zscore")
    live = [0, 1, 3]
    np.testing.assert_allclose(Z[:, live].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[:, live].std(axis=0), 1.0)
    assert np.all(Z[:, 2] == 0.0)
    assert np.all(np.isfinite(Z))


def test_l2_rows_unit_norm_and_zero_rows_stay_zero(rng):
    X = rng.normal(size=(6, 3))
    X[4] = 0.0
    L = preprocess_view(X, "l2")
    norms = np.linalg.norm(L, axis=1)
    np.testing.assert_allclose(np.delete(norms, 4), 1.0)
    assert np.all(L[4] == 0.0)


def test_tfidf_matches_sklearn():
    counts = np.array([[3, 0, 1], [2, 0, 0], [3, 0, 0], [4, 0, 0], [3, 2, 0], [3, 0, 2]])
    expected = TfidfTransformer(smooth_idf=True, norm="l2").fit_transform(counts).toarray()
    np.testing.assert_allclose(preprocess_view(counts, "tfidf"), expected)


def test_tfidf_rejects_negative_values():
    with pytest.raises(ValueError, match="tfidf needs non-negative counts"):
        preprocess_view(np.array([[1.0, -1.0], [0.0, 2.0]]), "tfidf")


def test_none_is_a_float_copy():
    X = np.array([[1, 2], [3, 4]])
    out = preprocess_view(X, "none")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, X)


def test_unknown_method_lists_choices():
    with pytest.raises(ValueError, match="unknown preprocessing 'pca'.*zscore, l2, tfidf, none"):
        preprocess_view(np.ones((2, 2)), "pca")


def test_preprocess_views_one_method_or_one_per_view(rng):
    Xs = [rng.random((5, 3)), rng.random((7, 2))]
    out = preprocess_views(Xs, "l2")
    np.testing.assert_allclose(np.linalg.norm(out[1], axis=1), 1.0)
    out = preprocess_views(Xs, ["none", "zscore"])
    np.testing.assert_array_equal(out[0], Xs[0])
    np.testing.assert_allclose(out[1].mean(axis=0), 0.0, atol=1e-12)


def test_preprocess_views_errors_name_the_view():
    with pytest.raises(ValueError, match="one per view: got 1 for 2 views"):
        preprocess_views([np.ones((2, 2)), np.ones((2, 2))], ["zscore"])
    with pytest.raises(ValueError, match="view 1"):
        preprocess_views([np.ones((2, 2)), -np.ones((2, 2))], ["zscore", "tfidf"])
