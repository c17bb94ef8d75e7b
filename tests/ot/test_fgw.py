import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from otmix.ot import fgw, fgw_objective


def instance(n, m, d=3, seed=0, structure="euclidean"):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
    return cdist(X, Y, "sqeuclidean"), cdist(X, X, structure), cdist(Y, Y, structure)


def pot_value(D, A, B, alpha, p=None, q=None):
    return ot.gromov.fused_gromov_wasserstein2(D, A, B, p, q, alpha=1.0 - alpha)


@pytest.mark.parametrize("n,m", [(25, 25), (40, 40), (30, 47), (60, 35), (120, 120)])
@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_value_matches_or_beats_pot(n, m, alpha):
    D, A, B = instance(n, m, seed=n * 1000 + m)
    res = fgw(D, A, B, alpha=alpha)
    ref = pot_value(D, A, B, alpha)
    assert res.value <= ref * (1 + 1e-6) + 1e-12  # equal to POT, or lower
    assert res.converged
    np.testing.assert_allclose(res.plan.sum(axis=1), np.full(n, 1 / n), atol=1e-9)
    np.testing.assert_allclose(res.plan.sum(axis=0), np.full(m, 1 / m), atol=1e-9)
    assert res.plan.min() >= 0


def test_non_uniform_weights_against_pot():
    rng = np.random.default_rng(3)
    D, A, B = instance(30, 20, seed=3, structure="sqeuclidean")
    p, q = rng.random(30), rng.random(20)
    p, q = p / p.sum(), q / q.sum()
    res = fgw(D, A, B, alpha=0.4, p=p, q=q)
    assert res.value <= pot_value(D, A, B, 0.4, p, q) * (1 + 1e-6)
    np.testing.assert_allclose(res.plan.sum(axis=1), p, atol=1e-9)
    np.testing.assert_allclose(res.plan.sum(axis=0), q, atol=1e-9)


def test_value_is_the_objective_at_the_plan():
    D, A, B = instance(30, 40, seed=7)
    res = fgw(D, A, B, alpha=0.3)
    # independent evaluation: POT's own tensor-product loss at our plan
    p, q = res.plan.sum(1), res.plan.sum(0)
    constC, hA, hB = ot.gromov.init_matrix(A, B, p, q, "square_loss")
    expected = 0.3 * np.sum(D * res.plan) + 0.7 * ot.gromov.gwloss(constC, hA, hB, res.plan)
    assert res.value == pytest.approx(expected, rel=1e-10)
    assert fgw_objective(D, A, B, res.plan, 0.3) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
def test_permuted_copy_has_zero_value_and_the_permutation_as_plan(alpha):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 4))
    perm = rng.permutation(50)
    Y = X[perm]
    res = fgw(cdist(X, Y, "sqeuclidean"), cdist(X, X), cdist(Y, Y), alpha=alpha)
    assert abs(res.value) < 1e-10
    expected = np.zeros((50, 50))
    expected[perm, np.arange(50)] = 1 / 50
    np.testing.assert_allclose(res.plan, expected, atol=1e-12)


def test_alpha_one_is_exact_optimal_transport():
    D, A, B = instance(40, 33, seed=5)
    res = fgw(D, A, B, alpha=1.0)
    assert res.value == pytest.approx(ot.emd2(np.full(40, 1 / 40), np.full(33, 1 / 33), D), rel=1e-10)


def test_warm_start_at_the_solution_stops_at_once():
    D, A, B = instance(40, 40, seed=9)
    first = fgw(D, A, B, alpha=0.5)
    again = fgw(D, A, B, alpha=0.5, init=first.plan)
    assert again.n_iter == 1
    assert again.value == pytest.approx(first.value, rel=1e-12)


def test_log_reports_time_split_and_values():
    D, A, B = instance(30, 30, seed=1)
    res = fgw(D, A, B)
    assert set(res.log) >= {"values", "gap", "time_lmo", "time_products", "time_other"}
    # the per-iteration values carry the float32 products' rounding; the returned value is float64
    assert res.log["values"][-1] == pytest.approx(res.value, rel=1e-6)
    assert all(b <= a + 1e-7 * abs(a) for a, b in zip(res.log["values"], res.log["values"][1:]))


def test_torch_in_torch_out_and_agrees_with_numpy():
    D, A, B = instance(20, 26, seed=2)
    res_np = fgw(D, A, B, alpha=0.6)
    res_t = fgw(torch.tensor(D, dtype=torch.float32), torch.tensor(A), torch.tensor(B), alpha=0.6)
    assert isinstance(res_t.plan, torch.Tensor)
    assert res_t.plan.dtype == torch.float32 and res_t.plan.device.type == "cpu"
    # float32 input rounds the cost; both solve (almost) the same problem
    assert res_t.value == pytest.approx(res_np.value, rel=1e-5)
    res_t64 = fgw(torch.tensor(D), torch.tensor(A), torch.tensor(B), alpha=0.6)
    np.testing.assert_allclose(res_t64.plan.numpy(), res_np.plan, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 14), m=st.integers(2, 14), alpha=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
)
def test_swapping_the_two_sides_gives_the_transposed_problem(n, m, alpha, seed):
    D, A, B = instance(n, m, seed=seed)
    res = fgw(D, A, B, alpha=alpha)
    swapped = fgw(D.T, B, A, alpha=alpha)
    # the objective is the same at a plan and its transpose; the two solves may end in different
    # local minima (ties of the network simplex send them different ways: n=2, m=3, alpha=1e-8, seed=3)
    assert fgw_objective(D.T, B, A, res.plan.T, alpha) == pytest.approx(res.value, rel=1e-9, abs=1e-12)
    assert fgw_objective(D, A, B, swapped.plan.T, alpha) == pytest.approx(swapped.value, rel=1e-9, abs=1e-12)
    for plan, rows, cols in ((res.plan, n, m), (swapped.plan, m, n)):
        np.testing.assert_allclose(plan.sum(axis=1), np.full(rows, 1 / rows), atol=1e-9)
        np.testing.assert_allclose(plan.sum(axis=0), np.full(cols, 1 / cols), atol=1e-9)
    # never worse than the product coupling they start from
    start = fgw_objective(D, A, B, np.full((n, m), 1 / (n * m)), alpha) + 1e-12
    assert res.value <= start and swapped.value <= start


class TestBadInput:
    D, A, B = instance(6, 5, seed=0)

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            ({"alpha": 1.5}, "alpha must lie in"),
            ({"alpha": -0.1}, "alpha must lie in"),
            ({"p": np.full(6, 0.2)}, "p must sum to 1"),
            ({"q": np.array([0.5, 0.5, 0.2, -0.1, -0.1])}, "q has negative entries"),
            ({"p": np.full(5, 0.2)}, "p must have length 6"),
            ({"init": np.full((5, 6), 1 / 30)}, "init must have shape"),
            ({"init": np.full((6, 5), 1 / 60)}, "init does not have the marginals"),
            ({"max_iter": 0}, "max_iter must be at least 1"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            fgw(self.D, self.A, self.B, **kwargs)

    def test_nan_cost(self):
        D = self.D.copy()
        D[0, 0] = np.nan
        with pytest.raises(ValueError, match="cost contains NaN or Inf"):
            fgw(D, self.A, self.B)

    def test_inf_structure(self):
        A = self.A.copy()
        A[1, 2] = A[2, 1] = np.inf
        with pytest.raises(ValueError, match="struct_a contains NaN or Inf"):
            fgw(self.D, A, self.B)

    def test_non_symmetric_structure(self):
        A = self.A.copy()
        A[0, 1] += 1.0
        with pytest.raises(ValueError, match="struct_a must be symmetric"):
            fgw(self.D, A, self.B)

    def test_wrong_dimensions(self):
        with pytest.raises(ValueError, match="cost must be a 2-D array"):
            fgw(self.D[0], self.A, self.B)
        with pytest.raises(ValueError, match=r"struct_b must have shape \(5, 5\)"):
            fgw(self.D, self.A, self.A)
        with pytest.raises(ValueError, match="cost is empty"):
            fgw(np.zeros((0, 5)), np.zeros((0, 0)), self.B)


def test_updated_product_equals_a_fresh_one():
    """A'V'B from a cached AVB when a few points moved and a few rows of the permutation changed."""
    import sys

    fgw_module = sys.modules["otmix.ot.fgw"]
    from otmix.ot._lmo import Vertex
    from otmix.ot.structure import structure_matrix

    rng = np.random.default_rng(3)
    n = 60
    Z, Zm = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    A32 = structure_matrix(Z, "euclidean", np.float32)
    B32 = structure_matrix(Zm, "euclidean", np.float32)
    old_perm = rng.permutation(n)
    cache = fgw_module.ProductCache(A32, [old_perm], [A32 @ (B32[old_perm] / np.float32(n))])
    Z_new = Z.copy()
    moved_points = np.array([3, 17, 42])
    Z_new[moved_points] += rng.normal(size=(3, 4))
    A32_new = structure_matrix(Z_new, "euclidean", np.float32)
    perm = old_perm.copy()
    perm[[5, 9]] = perm[[9, 5]]
    V = Vertex(np.arange(n), perm, np.full(n, 1.0 / n), (n, n))
    found = fgw_module._moved_points(A32_new, A32)
    np.testing.assert_array_equal(found, moved_points)
    updated = fgw_module._updated_product(A32_new, B32, V, cache, 0, found)
    np.testing.assert_allclose(updated, A32_new @ (B32[perm] / np.float32(n)), rtol=1e-4, atol=1e-4)
    # too much changed: no update, the caller computes the product afresh
    assert fgw_module._updated_product(A32_new, B32, V, cache, 0, np.arange(n)) is None
