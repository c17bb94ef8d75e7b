import numpy as np
import ot
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from otmix.ot import gaussian_kernel, gw_cluster, gw_cluster_loss, transfer_labels


def blobs(n_per=20, n_clusters=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(n_clusters, d) if d >= n_clusters else rng.normal(scale=10, size=(n_clusters, d))
    y = np.repeat(np.arange(n_clusters), n_per)
    return centres[y] + rng.normal(scale=0.5, size=(y.size, d)), y


@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_separated_balanced_blobs_are_recovered(init):
    Z, y = blobs(n_per=20, n_clusters=3, d=3)
    res = gw_cluster(Z, 3, init=init, random_state=0)
    assert adjusted_rand_score(y, res.labels) == 1.0
    P = res.plan
    np.testing.assert_allclose(P.sum(1), np.full(60, 1 / 60), atol=1e-9)
    np.testing.assert_allclose(P.sum(0), np.full(3, 1 / 3), atol=1e-9)


def test_value_and_loss_agree_with_pots_gw_loss():
    Z, _ = blobs(n_per=15, n_clusters=4, d=4, seed=1)
    res = gw_cluster(Z, 4, random_state=0)
    K = gaussian_kernel(Z, res.bandwidth)
    constC, hK, hI = ot.gromov.init_matrix(K, np.eye(4), res.plan.sum(1), res.plan.sum(0), "square_loss")
    expected = ot.gromov.gwloss(constC, hK, hI, res.plan)
    assert res.value == pytest.approx(expected, rel=1e-9)
    assert gw_cluster_loss(Z, res.plan, res.bandwidth) == pytest.approx(expected, rel=1e-9)


def test_solution_is_at_least_as_good_as_its_kmeans_start():
    Z, _ = blobs(n_per=25, n_clusters=3, d=3, seed=2)
    Z = Z + np.random.default_rng(0).normal(scale=3.0, size=Z.shape)  # overlapping clusters
    res = gw_cluster(Z, 3, random_state=0, max_iter=1)
    better = gw_cluster(Z, 3, random_state=0)
    assert better.value <= res.value + 1e-12


def test_torch_loss_is_differentiable():
    Z_np, _ = blobs(seed=3)
    res = gw_cluster(Z_np, 3, random_state=0)
    Z = torch.tensor(Z_np, requires_grad=True)
    loss = gw_cluster_loss(Z, torch.tensor(res.plan), res.bandwidth)
    assert loss.ndim == 0 and loss.item() == pytest.approx(res.value, rel=1e-9)
    loss.backward()
    assert torch.isfinite(Z.grad).all() and Z.grad.abs().sum() > 0


def test_transfer_labels_through_a_permutation_plan():
    Z, y = blobs(seed=4)
    res = gw_cluster(Z, 3, random_state=0)
    perm = np.random.default_rng(0).permutation(60)
    T = np.zeros((60, 60))
    T[np.arange(60), perm] = 1 / 60
    np.testing.assert_array_equal(transfer_labels(T, res.plan)[perm], res.labels)


def test_bad_input():
    Z, _ = blobs()
    with pytest.raises(ValueError, match=r"n_clusters must lie in \[1, 60\]"):
        gw_cluster(Z, 61)
    with pytest.raises(ValueError, match="init must be one of"):
        gw_cluster(Z, 3, init="spectral")
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        gw_cluster(Z, 3, bandwidth=-1.0)
    with pytest.raises(ValueError, match="Z contains NaN or Inf"):
        gw_cluster(np.full((5, 2), np.nan), 2)
