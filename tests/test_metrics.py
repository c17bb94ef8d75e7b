import numpy as np
import pytest

from otmix.data import make_latent_views
from otmix.metrics import acc, ari, clustering_scores, nmi, purity


def test_known_answers():
    y = np.array([0, 0, 1, 1, 2, 2])
    relabelled = np.array([2, 2, 0, 0, 1, 1])
    assert clustering_scores(y, relabelled) == {"acc": 1.0, "purity": 1.0, "nmi": 1.0, "ari": 1.0}
    merged = np.array([0, 0, 0, 0, 1, 1])
    assert acc(y, merged) == pytest.approx(4 / 6)
    assert purity(y, merged) == pytest.approx(4 / 6)
    one_cluster = np.zeros(6, int)
    assert purity(y, one_cluster) == pytest.approx(2 / 6)
    assert nmi(y, one_cluster) == pytest.approx(0.0)
    assert ari(y, one_cluster) == pytest.approx(0.0)


def test_purity_is_at_least_accuracy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, p = rng.integers(4, size=50), rng.integers(6, size=50)
        assert purity(y, p) >= acc(y, p) - 1e-12


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="labels have 3 entries but predictions 2"):
        acc([0, 1, 1], [0, 1])


def test_synthetic_views_are_unaligned_balanced_and_seeded():
    Xs, ys = make_latent_views((40, 30), dim=5, n_clusters=3, noise=(0.5, 1.0), random_state=1)
    assert [X.shape for X in Xs] == [(40, 5), (30, 5)]
    for y in ys:
        counts = np.bincount(y)
        assert counts.max() - counts.min() <= 1
    Xs2, _ = make_latent_views((40, 30), dim=5, n_clusters=3, noise=(0.5, 1.0), random_state=1)
    np.testing.assert_array_equal(Xs[0], Xs2[0])
    with pytest.raises(ValueError, match="2 view sizes but 1 noise levels"):
        make_latent_views((40, 30), noise=(0.5,))
