import numpy as np
import pytest
import torch

from otmix.ot import binary_masks, fgw_barycenter, push_back, pushforward, stochastic_mix


def setup(sizes=(30, 20, 25), d=4, seed=0):
    rng = np.random.default_rng(seed)
    Zs = [rng.normal(size=(n, d)) + m for m, n in enumerate(sizes)]
    res = fgw_barycenter(Zs, n_points=24, random_state=seed)
    return Zs, res


def test_masks_are_binary_sum_to_one_and_follow_weights():
    masks = binary_masks(400, 50, [0.2, 0.3, 0.5], 3, random_state=0)
    assert masks.shape == (3, 400, 50)
    assert set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks.sum(axis=0), 1.0)
    np.testing.assert_allclose(masks.mean(axis=(1, 2)), [0.2, 0.3, 0.5], atol=0.01)


def test_binary_mix_takes_each_element_from_exactly_one_modality():
    Zs, res = setup()
    mixed, masks = stochastic_mix(res.plans, Zs, random_state=1, return_masks=True)
    pushed = np.stack([pushforward(T, Z) for T, Z in zip(res.plans, Zs)])
    chosen = masks.argmax(axis=0)
    expected = np.take_along_axis(pushed, chosen[None], axis=0)[0]
    np.testing.assert_allclose(mixed, expected, atol=1e-12)
    assert len(np.unique(chosen)) == 3


def test_weighted_mix_equals_the_barycenter():
    Zs, res = setup()
    mixed = stochastic_mix(res.plans, Zs, mode="weighted")
    np.testing.assert_allclose(mixed, res.Z, atol=1e-10)


def test_push_back_of_constant_rows_is_that_constant():
    Zs, res = setup()
    const = np.tile(np.array([1.5, -2.0, 0.25, 7.0]), (24, 1))
    for T, Z in zip(res.plans, Zs):
        back = push_back(T, const)
        assert back.shape == Z.shape
        np.testing.assert_allclose(back, np.tile(const[0], (Z.shape[0], 1)), atol=1e-10)


def test_push_back_inverts_a_permutation_pushforward():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(10, 3))
    perm = rng.permutation(10)
    T = np.zeros((10, 10))
    T[np.arange(10), perm] = 0.1
    np.testing.assert_allclose(push_back(T, pushforward(T, Z)), Z, atol=1e-12)


def test_seeded_masks_are_reproducible_and_numpy_torch_agree():
    Zs, res = setup()
    a = stochastic_mix(res.plans, Zs, random_state=5)
    b = stochastic_mix(res.plans, Zs, random_state=5)
    np.testing.assert_array_equal(a, b)
    Zt = [torch.tensor(Z) for Z in Zs]
    t = stochastic_mix([torch.tensor(T) for T in res.plans], Zt, random_state=5)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), a, atol=1e-12)


def test_gradients_reach_every_modality_through_mix_and_push_back():
    Zs_np, res = setup()
    Zs = [torch.tensor(Z, dtype=torch.float32, requires_grad=True) for Z in Zs_np]
    plans = [torch.tensor(T, dtype=torch.float32) for T in res.plans]
    mixed = stochastic_mix(plans, Zs, random_state=0)
    loss = sum(((Z - push_back(T, mixed)) ** 2).sum() for T, Z in zip(plans, Zs))
    loss.backward()
    for Z in Zs:
        assert Z.grad is not None and torch.isfinite(Z.grad).all() and Z.grad.abs().sum() > 0


class TestBadInput:
    Zs, res = setup()

    def test_unknown_mode(self):
        with pytest.raises(ValueError, match="mode must be one of"):
            stochastic_mix(self.res.plans, self.Zs, mode="dirichlet")

    def test_plan_and_codes_disagree(self):
        with pytest.raises(ValueError, match=r"plans\[1\] has 20 columns but Zs\[1\] has 30 rows"):
            stochastic_mix(self.res.plans, [self.Zs[0], self.Zs[0], self.Zs[2]])
        with pytest.raises(ValueError, match="got 2 plans for 3 modalities"):
            stochastic_mix(self.res.plans[:2], self.Zs)
        with pytest.raises(ValueError, match="plan has 24 rows but mixed has 5 rows"):
            push_back(self.res.plans[0], np.ones((5, 4)))

    def test_bad_weights_and_nan(self):
        with pytest.raises(ValueError, match="weights must sum to 1"):
            stochastic_mix(self.res.plans, self.Zs, weights=[0.5, 0.5, 0.5])
        bad = self.Zs[0].copy()
        bad[0, 0] = np.inf
        with pytest.raises(ValueError, match=r"Zs\[0\] contains NaN or Inf"):
            stochastic_mix(self.res.plans, [bad, self.Zs[1], self.Zs[2]])

    def test_empty_column_in_plan(self):
        T = np.zeros((3, 3))
        T[0, 0] = T[1, 1] = T[2, 1] = 1 / 3
        with pytest.raises(ValueError, match="plan has a column with no mass"):
            push_back(T, np.ones((3, 2)))
