import numpy as np
import ot
import pytest
import torch
from conftest import clustered_codes as codes
from conftest import pot_fgw_value

from otmix.ot import fgw_barycenter, fgw_objective
from otmix.ot.structure import feature_cost, structure_matrix


def test_barycenter_of_one_modality_is_that_modality():
    (Z,) = codes([40], seed=1)
    res = fgw_barycenter([Z], alpha=0.5, random_state=0)
    assert res.value == pytest.approx(0.0, abs=1e-10)
    # the random init is a permutation of Z's rows; the barycenter is Z itself up to order
    np.testing.assert_allclose(np.sort(res.Z, axis=0), np.sort(Z, axis=0), atol=1e-10)
    assert res.converged


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("sizes,n_points", [([30, 30, 30], None), ([30, 24, 41], 28)])
def test_invariants_of_the_result(structure, sizes, n_points):
    Zs = codes(sizes, seed=2)
    weights = [0.5, 0.3, 0.2]
    res = fgw_barycenter(Zs, n_points=n_points, alpha=0.4, weights=weights, structure=structure, random_state=3)
    nb = n_points or max(sizes)
    assert res.Z.shape == (nb, 3)
    for T, Zm in zip(res.plans, Zs):
        assert T.shape == (nb, Zm.shape[0])
        np.testing.assert_allclose(T.sum(1), np.full(nb, 1 / nb), atol=1e-9)
        np.testing.assert_allclose(T.sum(0), np.full(Zm.shape[0], 1 / Zm.shape[0]), atol=1e-9)
    # Z is the weighted pushforward of the returned plans
    expected_Z = sum(w * nb * T @ Zm for w, T, Zm in zip(weights, res.plans, Zs))
    np.testing.assert_allclose(res.Z, expected_Z, atol=1e-10)
    # value is sum_m λ_m FGW(Z, Z_m) at the returned Z and plans (POT's loss as the oracle)
    expected = sum(w * pot_fgw_value(res.Z, Zm, T, 0.4, structure) for w, T, Zm in zip(weights, res.plans, Zs))
    assert res.value == pytest.approx(expected, rel=1e-9)
    assert res.n_outer == len(res.log["values"])


def test_objective_decreases_from_the_start():
    Zs = codes([50, 50, 50], seed=4)
    res = fgw_barycenter(Zs, random_state=0)
    values = res.log["values"]
    assert values[-1] < values[0]
    assert res.value <= values[0]


def test_same_seed_same_result_and_explicit_init():
    Zs = codes([35, 35], seed=5)
    a = fgw_barycenter(Zs, random_state=7)
    b = fgw_barycenter(Zs, random_state=7)
    np.testing.assert_array_equal(a.Z, b.Z)
    init = Zs[0][:20].copy()
    c = fgw_barycenter(Zs, init=init)
    assert c.Z.shape == (20, 3)
    d = fgw_barycenter(Zs, init="kmeans++", n_points=10, random_state=0)
    assert d.Z.shape == (10, 3)


def test_plan_warm_start_is_valid_and_needs_no_more_cg_steps():
    Zs = codes([60, 60, 60], seed=6)
    init = np.concatenate(Zs)[::3][:60]
    warm = fgw_barycenter(Zs, init=init, warm_start=True)
    cold = fgw_barycenter(Zs, init=init, warm_start=False)
    assert sum(map(sum, warm.log["inner_iters"][1:])) <= sum(map(sum, cold.log["inner_iters"][1:]))
    assert warm.value <= cold.value * 1.05
    for T in warm.plans:
        np.testing.assert_allclose(T.sum(1), np.full(60, 1 / 60), atol=1e-9)


def test_callback_sees_every_outer_iteration():
    seen = []
    res = fgw_barycenter(codes([20, 20], seed=8), random_state=0, callback=lambda it, v: seen.append((it, v)))
    assert [it for it, _ in seen] == list(range(1, res.n_outer + 1))
    assert [v for _, v in seen] == res.log["values"]


def test_torch_inputs_give_torch_outputs_with_gradients():
    Zs_np = codes([25, 30], seed=9)
    Zs = [torch.tensor(Z, dtype=torch.float32, requires_grad=True) for Z in Zs_np]
    res = fgw_barycenter(Zs, n_points=25, random_state=0)
    assert isinstance(res.Z, torch.Tensor) and res.Z.dtype == torch.float32
    assert all(isinstance(T, torch.Tensor) and not T.requires_grad for T in res.plans)
    res.Z.pow(2).sum().backward()
    assert all(Z.grad is not None and Z.grad.abs().sum() > 0 for Z in Zs)
    ref = fgw_barycenter(Zs_np, n_points=25, random_state=0)
    np.testing.assert_allclose(res.Z.detach().numpy(), ref.Z, atol=1e-4)


def test_value_is_no_worse_than_a_loop_around_pot():
    Zs = codes([80, 80, 80], seed=10)
    init = np.concatenate(Zs)[np.random.default_rng(0).choice(240, 80, replace=False)]
    res = fgw_barycenter(Zs, init=init, alpha=0.5)
    Z, mu = init.copy(), np.full(80, 1 / 80)
    for _ in range(50):  # the corrected Alg. 2 with POT's solver inside
        A = structure_matrix(Z)
        plans = [ot.gromov.fused_gromov_wasserstein(feature_cost(Z, Zm), A, structure_matrix(Zm), alpha=0.5)
                 for Zm in Zs]
        Z_new = sum(T @ Zm for T, Zm in zip(plans, Zs)) / 3 / mu[:, None]
        if np.allclose(Z_new, Z):
            break
        Z = Z_new
    ref = sum(fgw_objective(feature_cost(Z_new, Zm), structure_matrix(Z_new), structure_matrix(Zm), T, 0.5)
              for T, Zm in zip(plans, Zs)) / 3
    assert res.value <= ref * (1 + 1e-3)


class TestBadInput:
    Zs = codes([10, 12], seed=0)

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            ({"alpha": 2.0}, "alpha must lie in"),
            ({"weights": [0.7, 0.7]}, "weights must sum to 1"),
            ({"weights": [1.5, -0.5]}, "weights has negative entries"),
            ({"weights": [1.0]}, "weights must have length 2"),
            ({"structure": "cosine"}, "structure must be one of"),
            ({"init": "spectral"}, "init must be one of"),
            ({"init": np.zeros((5, 2))}, r"init must have shape \(5, 3\)"),
            ({"n_points": 0}, "n_points must be at least 1"),
            ({"max_outer": 0}, "max_outer must be at least 1"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            fgw_barycenter(self.Zs, **kwargs)

    def test_width_mismatch(self):
        with pytest.raises(ValueError, match="share the latent width d"):
            fgw_barycenter([self.Zs[0], np.ones((5, 4))])

    def test_nan_and_empty_views(self):
        bad = self.Zs[1].copy()
        bad[3, 1] = np.nan
        with pytest.raises(ValueError, match=r"Zs\[1\] contains NaN or Inf"):
            fgw_barycenter([self.Zs[0], bad])
        with pytest.raises(ValueError, match=r"Zs\[1\] is empty"):
            fgw_barycenter([self.Zs[0], np.zeros((0, 3))])
        with pytest.raises(ValueError, match="at least one modality"):
            fgw_barycenter([])
        with pytest.raises(ValueError, match="must be a 2-D array"):
            fgw_barycenter([np.ones(5)])


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("with_links", [False, True])
def test_one_thread_and_a_thread_per_modality_give_the_same_result(structure, with_links):
    """n_jobs=1 runs in the caller's thread without a pool; the result must not depend on it."""
    Zs = codes([40, 40, 40], seed=9)
    links = np.stack([np.arange(5), np.arange(5, 10), np.arange(10, 15)], axis=1) if with_links else None
    kwargs = {"alpha": 0.5, "structure": structure, "random_state": 1, "links": links, "max_outer": 6}
    serial = fgw_barycenter(Zs, n_jobs=1, **kwargs)
    pooled = fgw_barycenter(Zs, n_jobs=-1, **kwargs)
    sparse = fgw_barycenter(Zs, n_jobs=1, sparse_plans=True, **kwargs)
    np.testing.assert_array_equal(serial.Z, pooled.Z)
    assert serial.value == pooled.value == sparse.value
    for a, b, c in zip(serial.plans, pooled.plans, sparse.plans):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c.toarray())
    # the value is the objective at the returned Z and plans, whichever form the plans take
    expected = sum(pot_fgw_value(serial.Z, Zm, T, 0.5, structure) for T, Zm in zip(serial.plans, Zs)) / 3
    assert serial.value == pytest.approx(expected, rel=1e-9)


def test_permutation_plan_acts_as_its_sparse_matrix():
    from otmix.ot._lmo import PermutationPlan

    rng = np.random.default_rng(0)
    perm = rng.permutation(37)
    T = PermutationPlan(perm, 1.0 / 37)
    X = rng.normal(size=(37, 5))
    np.testing.assert_array_equal(T @ X, T.to_csr() @ X)  # the same rounding as the sparse product
    np.testing.assert_array_equal(T.toarray(), T.to_csr().toarray())
    assert T.shape == (37, 37) and T.to_csr().nnz == 37
