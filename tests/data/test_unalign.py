import numpy as np
import pytest

from otmix.data import unalign


def _labelled_views(rng, sizes=(100, 80)):
    """Views whose first column equals the row's label."""
    ys = [rng.integers(0, 5, size=n) for n in sizes]
    Xs = [np.column_stack([y, rng.normal(size=(len(y), 3))]) for y in ys]
    return Xs, ys


def test_rows_keep_their_labels(rng):
    Xs, ys = _labelled_views(rng)
    out, out_y, perms = unalign(Xs, ys, random_state=0)
    for X, y, X0, y0, p in zip(out, out_y, Xs, ys, perms):
        np.testing.assert_array_equal(X[:, 0], y)
        np.testing.assert_array_equal(X, X0[p])
        np.testing.assert_array_equal(y, y0[p])
        assert sorted(p.tolist()) == list(range(len(y0)))


def test_labels_keep_their_values(rng):
    Xs = [np.arange(4.0)[:, None]]
    _, out_y, perms = unalign(Xs, [np.array(["a", "b", "c", "d"])], random_state=1)
    assert out_y[0].tolist() == [["a", "b", "c", "d"][i] for i in perms[0]]


def test_rate_zero_is_identity(rng):
    Xs, ys = _labelled_views(rng)
    out, out_y, perms = unalign(Xs, ys, rate=0.0, random_state=0)
    for X, X0, p in zip(out, Xs, perms):
        np.testing.assert_array_equal(p, np.arange(len(X0)))
        np.testing.assert_array_equal(X, X0)


def test_rate_one_changes_order_independently_per_view(rng):
    Xs, _ = _labelled_views(rng, sizes=(100, 100))
    _, out_y, perms = unalign(Xs, random_state=0)
    assert out_y is None
    assert all((p != np.arange(100)).sum() > 50 for p in perms)
    assert not np.array_equal(perms[0], perms[1])


def test_rate_half_moves_at_most_half(rng):
    Xs, ys = _labelled_views(rng, sizes=(100, 51))
    _, _, perms = unalign(Xs, ys, rate=0.5, random_state=3)
    for p in perms:
        moved = int((p != np.arange(len(p))).sum())
        assert 0 < moved <= round(0.5 * len(p))


def test_deterministic_with_seed(rng):
    Xs, ys = _labelled_views(rng)
    a = unalign(Xs, ys, random_state=42)
    b = unalign(Xs, ys, random_state=42)
    c = unalign(Xs, ys, random_state=43)
    assert all(np.array_equal(p, q) for p, q in zip(a[2], b[2]))
    assert not all(np.array_equal(p, q) for p, q in zip(a[2], c[2]))


def test_shared_label_vector(rng):
    y = np.arange(20) % 4
    Xs = [np.column_stack([y, rng.normal(size=20)]), np.column_stack([y, rng.normal(size=(20, 2))])]
    out, out_y, _ = unalign(Xs, y, random_state=0)
    for X, yy in zip(out, out_y):
        np.testing.assert_array_equal(X[:, 0], yy)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "all", True])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="rate must be a number in"):
        unalign([np.ones((4, 2))], rate=rate)


def test_bad_views_reported():
    with pytest.raises(ValueError, match="view 0 contains NaN"):
        unalign([np.array([[np.nan, 1.0]])])
