import numpy as np
import pytest

from otmix.data import check_views


def test_returns_float64_contiguous_copies_of_unequal_views():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    b = np.asfortranarray(np.ones((5, 2)))
    Xs, ys = check_views([a, b])
    assert ys is None
    assert [X.shape for X in Xs] == [(3, 4), (5, 2)]
    assert all(X.dtype == np.float64 and X.flags.c_contiguous for X in Xs)
    Xs[1][0, 0] = 7.0
    assert b[0, 0] == 1.0  # a copy, not a view


def test_tuple_and_nested_lists_accepted():
    Xs, _ = check_views(([[1, 2], [3, 4]],))
    np.testing.assert_array_equal(Xs[0], [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    ("Xs", "message"),
    [
        (np.ones((3, 2)), "Xs must be a list of 2-D arrays, one per view"),
        ([], "Xs is empty"),
        ([np.ones((2, 2)), np.ones(5)], r"view 1 must be 2-D \(samples x features\), got shape \(5,\)"),
        ([np.ones((0, 3))], "view 0 is empty"),
        ([np.ones((3, 0))], "view 0 is empty"),
        ([np.ones((2, 2)), np.ones((2, 2)), np.array([["a", "b"]], dtype=object)], "view 2 is not numeric"),
        ([np.array([["1", "2"]])], "view 0 is not numeric"),
        ([np.ones((2, 2)), [[1.0, 2.0], [3.0]]], "view 1 is not a rectangular"),
    ],
)
def test_bad_views(Xs, message):
    with pytest.raises(ValueError, match=message):
        check_views(Xs)


def test_nan_and_inf_are_counted():
    X = np.ones((4, 3))
    X[0, 0], X[1, 2], X[3, 1] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"view 1 contains NaN or Inf \(3 entries\)"):
        check_views([np.ones((2, 2)), X])


def test_fewer_rows_than_clusters():
    with pytest.raises(ValueError, match="view 0 has 3 rows, fewer than n_clusters=4"):
        check_views([np.ones((3, 2)), np.ones((5, 2))], n_clusters=4)
    check_views([np.ones((4, 2)), np.ones((5, 2))], n_clusters=4)


def test_bad_n_clusters():
    with pytest.raises(ValueError, match="n_clusters must be a positive integer"):
        check_views([np.ones((3, 2))], n_clusters=0)


def test_labels_remapped_jointly_over_views():
    _, ys = check_views([np.ones((3, 1)), np.ones((4, 1))], [np.array([10, 30, 10]), np.array([20, 30, 30, 10])])
    assert [y.tolist() for y in ys] == [[0, 2, 0], [1, 2, 2, 0]]
    assert all(y.dtype == np.int64 for y in ys)


def test_string_labels_and_column_vectors():
    _, ys = check_views([np.ones((2, 1)), np.ones((3, 1))], [np.array([["b"], ["a"]]), ["c", "a", "b"]])
    assert [y.tolist() for y in ys] == [[1, 0], [2, 0, 1]]


def test_single_label_vector_shared_by_equal_views():
    _, ys = check_views([np.ones((3, 2)), np.ones((3, 5))], np.array([5, 7, 5]))
    assert [y.tolist() for y in ys] == [[0, 1, 0], [0, 1, 0]]
    _, ys = check_views([np.ones((3, 2))], [2, 1, 2])  # a plain list of scalars is one vector
    assert ys[0].tolist() == [1, 0, 1]


def test_single_label_vector_rejected_for_unequal_views():
    with pytest.raises(ValueError, match="single label vector needs views with equal row counts"):
        check_views([np.ones((3, 2)), np.ones((4, 2))], np.zeros(3))


def test_wrong_number_of_label_arrays():
    with pytest.raises(ValueError, match="got 1 label arrays for 2 views"):
        check_views([np.ones((3, 2)), np.ones((4, 2))], [np.zeros(3)])


def test_label_length_mismatch():
    with pytest.raises(ValueError, match="labels of view 1 have length 10 but the view has 12 rows"):
        check_views([np.ones((3, 2)), np.ones((12, 2))], [np.zeros(3), np.zeros(10)])


def test_labels_with_nan():
    with pytest.raises(ValueError, match="labels of view 0 contain NaN"):
        check_views([np.ones((3, 2))], [np.array([0.0, np.nan, 1.0])])


def test_labels_not_1d():
    with pytest.raises(ValueError, match=r"labels of view 0 must be 1-D, got shape \(3, 2\)"):
        check_views([np.ones((3, 2))], [np.zeros((3, 2))])
