import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from otmix.ot._assignment import HAVE_NUMBA, solve_assignment


def _cost(C, cols):
    return C[np.arange(C.shape[0]), cols].sum()


@pytest.mark.parametrize("n", [1, 2, 7, 64, 200])
@pytest.mark.parametrize("kind", ["uniform", "integer_ties", "negative", "rank_one"])
def test_assignment_is_optimal_against_scipy(n, kind):
    rng = np.random.default_rng(n)
    if kind == "uniform":
        C = rng.random((n, n))
    elif kind == "integer_ties":
        C = rng.integers(0, 4, size=(n, n)).astype(float)
    elif kind == "negative":
        C = -1e3 * rng.random((n, n))
    else:
        C = np.outer(rng.random(n), rng.random(n)) - rng.random((n, n)) * 1e-3
    cols, _ = solve_assignment(C)
    assert sorted(cols) == list(range(n)), "not a permutation"
    r, c = linear_sum_assignment(C)
    assert _cost(C, cols) == pytest.approx(C[r, c].sum(), rel=1e-12, abs=1e-9)


@pytest.mark.skipif(not HAVE_NUMBA, reason="warm starts need the numba kernel")
def test_warm_start_from_any_duals_stays_optimal():
    rng = np.random.default_rng(0)
    C1 = rng.random((150, 150))
    _, duals = solve_assignment(C1)
    for C2 in (C1 + 0.01 * rng.random((150, 150)), rng.random((150, 150)) * 50 - 10):
        cols, new_duals = solve_assignment(C2, duals)
        r, c = linear_sum_assignment(C2)
        assert _cost(C2, cols) == pytest.approx(C2[r, c].sum(), rel=1e-12)
        # complementary slackness: reduced costs are >= 0 and zero on the assignment
        u = (C2 - new_duals[None, :]).min(axis=1)
        reduced = C2 - u[:, None] - new_duals[None, :]
        assert reduced.min() >= -1e-9
        assert np.abs(reduced[np.arange(150), cols]).max() <= 1e-9
