"""The structure check's single blocked pass agrees with the naive checks it replaced."""

import numpy as np
import pytest

from otmix.ot._validation import _largest_and_asymmetry, check_structure


@pytest.mark.parametrize("n", [1, 2, 511, 512, 513, 1100])
def test_blocked_pass_matches_the_naive_maxima(n):
    rng = np.random.default_rng(n)
    A = rng.normal(size=(n, n))
    largest, asymmetry = _largest_and_asymmetry(A)
    assert largest == np.abs(A).max()
    assert asymmetry == pytest.approx(np.abs(A - A.T).max(), rel=0, abs=0)


def test_one_asymmetric_pair_anywhere_is_found():
    X = np.random.default_rng(0).normal(size=(700, 3))
    A = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    check_structure("A", A, 700)
    for i, k in [(0, 699), (699, 0), (600, 100), (100, 600)]:
        B = A.copy()
        B[i, k] += 1e-3
        with pytest.raises(ValueError, match="B must be symmetric"):
            check_structure("B", B, 700)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("pos", [(0, 0), (650, 3), (3, 650)])
def test_non_finite_entries_are_named(bad, pos):
    B = np.zeros((700, 700))
    B[pos] = bad
    with pytest.raises(ValueError, match="B contains NaN or Inf values"):
        check_structure("B", B, 700)


def test_shape_errors_come_first():
    with pytest.raises(ValueError, match=r"must have shape \(3, 3\)"):
        check_structure("S", np.zeros((3, 4)), 3)
    with pytest.raises(ValueError, match="is empty"):
        check_structure("S", np.zeros((0, 0)), 0)
    with pytest.raises(ValueError, match="2-D"):
        check_structure("S", np.zeros(3), 3)
