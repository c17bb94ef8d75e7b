import numpy as np
import pytest

from otmix.metrics import acc
from otmix.readout import fuse_and_cluster, nearest_center


def _codes(n_rows, n_clusters=3, seed=0, shift=0.0):
    """Codes of unaligned views sharing the same cluster geometry (views may differ in size)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 9.0]])[:n_clusters]
    Zs, ys = [], []
    for n in n_rows:
        y = rng.permutation(np.arange(n) % n_clusters)
        Zs.append(centres[y] + 0.3 * rng.normal(size=(n, 2)) + shift)
        ys.append(y)
    return Zs, ys


@pytest.mark.parametrize("readout,n_rows", [("fused", (60, 60, 45)), ("gw", (60, 60, 60))])
def test_cluster_ids_agree_across_views(readout, n_rows):
    # (GW clustering has uniform cluster masses, so its exact test uses balanced views of equal size.)
    Zs, ys = _codes(n_rows)
    fused = fuse_and_cluster(Zs, 3, readout=readout, random_state=0)
    assert [len(labels) for labels in fused.labels] == list(n_rows)
    # One Hungarian map for ALL samples: only possible if the same class has the same id in every view.
    assert acc(np.concatenate(ys), np.concatenate(fused.labels)) == 1.0
    assert fused.labels is fused.labels_by_readout[readout]
    assert fused.centers.shape == (3, 2) and fused.codes.shape == (min(n_rows), 2)


def test_larger_views_enter_through_a_subset_of_rows():
    Zs, ys = _codes((80, 50))
    fused = fuse_and_cluster(Zs, 3, max_points=40, random_state=1)
    assert [len(rows) for rows in fused.support] == [40, 40]
    assert all(len(np.unique(rows)) == 40 for rows in fused.support)
    assert [T.shape for T in fused.plans] == [(40, 40), (40, 40)]
    np.testing.assert_allclose([T.sum() for T in fused.plans], 1.0)
    for readout in ("fused", "gw"):
        # subsets of 40 rows need not hold the same class proportions in both views, so a few
        # barycenter points mix two classes: nearly, not exactly, perfect
        assert acc(np.concatenate(ys), np.concatenate(fused.labels_by_readout[readout])) >= 0.95


def test_nearest_center():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert nearest_center(np.array([[1.0, 1.0], [9.0, -1.0], [4.9, 0.0]]), centers).tolist() == [0, 1, 0]


def test_bad_readout_and_too_few_points():
    Zs, _ = _codes((30, 30))
    with pytest.raises(ValueError, match="readout"):
        fuse_and_cluster(Zs, 3, readout="spectral")
    with pytest.raises(ValueError, match="fewer than n_clusters"):
        fuse_and_cluster(Zs, 3, max_points=2)
