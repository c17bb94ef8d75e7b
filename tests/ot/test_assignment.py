import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import otmix.ot._assignment as assignment
from otmix.ot._assignment import HAVE_NUMBA, solve_assignment

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="warm starts and duals need the numba kernel")


def _cost(C, cols):
    return C[np.arange(C.shape[0]), cols].sum()


def _assert_optimal(C, cols, rel=1e-12):
    n = C.shape[0]
    assert np.array_equal(np.sort(cols), np.arange(n)), "not a permutation"
    C = np.asarray(C, dtype=np.float64)
    r, c = linear_sum_assignment(C)
    assert _cost(C, cols) == pytest.approx(C[r, c].sum(), rel=rel, abs=1e-9)


def _assert_dual_certificate(C, cols, duals, tol=1e-9):
    """Complementary slackness: reduced costs >= 0, zero on the assignment (an optimality proof)."""
    C = np.asarray(C, dtype=np.float64)
    scale = max(1.0, np.abs(C).max())
    u = (C - duals[None, :]).min(axis=1)
    reduced = C - u[:, None] - duals[None, :]
    assert reduced.min() >= -tol * scale
    assert np.abs(reduced[np.arange(C.shape[0]), cols]).max() <= tol * scale


def _matrix(kind, n, rng):
    if kind == "uniform":
        return rng.random((n, n))
    if kind == "integer_ties":
        return rng.integers(0, 4, size=(n, n)).astype(float)
    if kind == "negative":
        return -1e3 * rng.random((n, n))
    if kind == "rank_one":
        return np.outer(rng.random(n), rng.random(n)) - rng.random((n, n)) * 1e-3
    if kind == "constant":
        return np.full((n, n), 2.5)
    raise ValueError(kind)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 65, 200])
@pytest.mark.parametrize("kind", ["uniform", "integer_ties", "negative", "rank_one", "constant"])
def test_assignment_is_optimal_against_scipy(n, kind):
    C = _matrix(kind, n, np.random.default_rng(n))
    cols, duals = solve_assignment(C)
    _assert_optimal(C, cols)
    if HAVE_NUMBA:
        assert duals.dtype == np.float64 and duals.shape == (n,)
        _assert_dual_certificate(C, cols, duals)


@pytest.mark.parametrize("n", [3, 130])
@pytest.mark.parametrize("kind", ["uniform", "integer_ties", "rank_one"])
def test_float32_cost_gives_the_exact_optimum_of_the_float32_matrix(n, kind):
    rng = np.random.default_rng(7 + n)
    C32 = (_matrix(kind, n, rng) * 1e3).astype(np.float32)
    cols, duals = solve_assignment(C32)
    # the reference solves the float32 values exactly (upcast is exact)
    _assert_optimal(C32.astype(np.float64), cols, rel=1e-13)
    if HAVE_NUMBA:
        assert duals.dtype == np.float64
        _assert_dual_certificate(C32, cols, duals)
        cols_warm, _ = solve_assignment(C32 + np.float32(1.0), duals)
        _assert_optimal(C32.astype(np.float64), cols_warm, rel=1e-13)


def test_other_inputs_are_read_as_float64():
    rng = np.random.default_rng(3)
    C = rng.integers(-5, 5, size=(40, 40))
    cols, _ = solve_assignment(C)
    _assert_optimal(C.astype(float), cols)
    F = np.asfortranarray(rng.random((33, 33)))[:, ::-1]  # non-contiguous view
    cols, _ = solve_assignment(F)
    _assert_optimal(np.array(F), cols)


@needs_numba
def test_warm_start_from_any_duals_stays_optimal():
    rng = np.random.default_rng(0)
    C1 = rng.random((150, 150))
    _, duals = solve_assignment(C1)
    kept = duals.copy()
    for C2 in (C1 + 0.01 * rng.random((150, 150)), rng.random((150, 150)) * 50 - 10):
        cols, new_duals = solve_assignment(C2, duals)
        assert np.array_equal(duals, kept), "the caller's duals must not be modified"
        r, c = linear_sum_assignment(C2)
        assert _cost(C2, cols) == pytest.approx(C2[r, c].sum(), rel=1e-12)
        _assert_dual_certificate(C2, cols, new_duals)


@needs_numba
@pytest.mark.parametrize(
    "duals",
    [
        lambda n, rng: np.zeros(n),
        lambda n, rng: rng.normal(size=n) * 1e3,  # far off the cost scale
        lambda n, rng: np.where(rng.random(n) < 0.5, 1e12, -1e12),  # huge spread
        lambda n, rng: np.full(n, 1e15),  # huge common offset
        lambda n, rng: rng.integers(0, 3, n).astype(float),  # many equal duals
    ],
)
@pytest.mark.parametrize("kind", ["uniform", "integer_ties", "rank_one"])
def test_warm_start_from_garbage_but_finite_duals(duals, kind):
    rng = np.random.default_rng(11)
    C = _matrix(kind, 97, rng)
    cols, new_duals = solve_assignment(C, duals(97, rng))
    _assert_optimal(C, cols)
    _assert_dual_certificate(C, cols, new_duals)


@needs_numba
def test_warm_start_along_a_sequence_of_similar_costs():
    """Conditional-gradient pattern: each solve starts from the previous one's duals."""
    rng = np.random.default_rng(5)
    n = 120
    a, b = rng.random(n), rng.random(n)
    D = rng.random((n, n))
    duals = None
    for t in range(6):
        C = D - 2 * np.outer(a, b) * (1 + 0.3 * t) + 0.05 * t * rng.random((n, n))
        cols, duals = solve_assignment(C, duals)
        _assert_optimal(C, cols)
        _assert_dual_certificate(C, cols, duals)


@needs_numba
@pytest.mark.parametrize("bad", [np.zeros(5), np.full(8, np.nan), np.array([np.inf] * 7 + [0.0])])
def test_unusable_duals_are_ignored(bad):
    C = np.random.default_rng(2).random((8, 8))
    cols, duals = solve_assignment(C, bad)
    _assert_optimal(C, cols)
    assert np.isfinite(duals).all()


@needs_numba
def test_trivial_sizes():
    cols, duals = solve_assignment(np.array([[3.0]]))
    assert cols.tolist() == [0] and duals.shape == (1,)
    cols, duals = solve_assignment(np.zeros((0, 0)))
    assert cols.shape == (0,) and duals.shape == (0,)


def test_scipy_fallback_without_numba(monkeypatch):
    monkeypatch.setattr(assignment, "HAVE_NUMBA", False)
    C = np.random.default_rng(4).random((30, 30))
    cols, duals = assignment.solve_assignment(C, np.zeros(30))
    assert duals is None
    _assert_optimal(C, cols)
    cols, duals = assignment.solve_assignment(C.astype(np.float32))
    assert duals is None
    _assert_optimal(C.astype(np.float32).astype(np.float64), cols)


@needs_numba
@pytest.mark.parametrize("kind", ["uniform", "integer_ties", "rank_one", "constant"])
@pytest.mark.parametrize("guess", ["identity", "optimal", "random", "near"])
@pytest.mark.parametrize("duals", ["zeros", "previous", "garbage"])
def test_guessed_assignment_start_stays_optimal(kind, guess, duals):
    """_solve_from keeps the guessed rows that are tight and solves the rest: optimal whatever the guess."""
    rng = np.random.default_rng(21)
    n = 90
    C0 = _matrix(kind, n, rng)
    C = C0 + 0.01 * rng.random((n, n))
    best0, v0 = solve_assignment(C0)
    g = {"identity": np.arange(n), "optimal": linear_sum_assignment(C)[1], "random": rng.permutation(n),
         "near": best0}[guess].astype(np.int64)
    v = {"zeros": np.zeros(n), "previous": v0.copy(), "garbage": rng.normal(size=n) * 1e3}[duals]
    cols, ok = assignment._solve_from(np.ascontiguousarray(C), v, g)
    assert ok
    _assert_optimal(C, cols)
    _assert_dual_certificate(C, cols, v)
    cols32, ok = assignment._solve_from(C.astype(np.float32), np.zeros(n), g)
    _assert_optimal(C.astype(np.float32).astype(np.float64), cols32, rel=1e-13)
