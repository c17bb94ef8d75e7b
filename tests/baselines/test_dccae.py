import numpy as np
import pytest
import torch
from conftest import make_blob_views
from sklearn.cluster import KMeans

from otmix.baselines.dccae import DCCAE, maxvar_embedding, total_correlation
from otmix.metrics import acc


def _triangle(radius, angle):
    a = angle + 2 * np.pi * np.arange(3) / 3
    return radius * np.column_stack([np.cos(a), np.sin(a)])


def aligned_views_with_distractors(n=150, widths=(8, 6), noise=0.4, seed=5):
    """Aligned views (row i = one sample) sharing 3 clusters y, each also holding its own, wider clustering.

    The view-specific clusterings have twice the spread of the shared one, so K-means on the
    raw views finds mixtures; only what the views have in common (what CCA keeps) gives y.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    Xs = []
    for width in widths:
        z = rng.permutation(np.arange(n) % 3)
        latent = np.hstack([_triangle(3.0, rng.uniform(0, 2 * np.pi))[y], _triangle(6.0, rng.uniform(0, 2 * np.pi))[z]])
        latent += noise * rng.normal(size=latent.shape)
        Xs.append(latent @ rng.normal(size=(4, width)) + 0.1 * rng.normal(size=(n, width)))
    return Xs, y


def _reference_total_correlation(H1, H2, eps):
    """The DCCA objective computed literally, in numpy: nuclear norm of S11^-1/2 S12 S22^-1/2."""
    n = H1.shape[0]
    H1, H2 = H1 - H1.mean(0), H2 - H2.mean(0)

    def inv_sqrt(S):
        w, V = np.linalg.eigh(S)
        return V @ np.diag(w ** -0.5) @ V.T

    S11 = H1.T @ H1 / (n - 1) + eps * np.eye(H1.shape[1])
    S22 = H2.T @ H2 / (n - 1) + eps * np.eye(H2.shape[1])
    T = inv_sqrt(S11) @ (H1.T @ H2 / (n - 1)) @ inv_sqrt(S22)
    return np.linalg.svd(T, compute_uv=False).sum()


def test_total_correlation_of_linearly_related_embeddings_is_the_dimension():
    rng = np.random.default_rng(0)
    d = 5
    H1 = rng.normal(size=(200, d))
    A = rng.normal(size=(d, d)) + 3 * np.eye(d)  # invertible
    assert abs(np.linalg.det(A)) > 1e-3
    H1_t = torch.as_tensor(H1)
    related = float(total_correlation(H1_t, H1_t @ torch.as_tensor(A), eps=1e-8))
    assert related == pytest.approx(d, abs=1e-3)
    independent = float(total_correlation(H1_t, torch.as_tensor(rng.normal(size=(200, d))), eps=1e-8))
    assert independent < 0.3 * d


def test_total_correlation_matches_the_literal_formula_and_has_correct_gradients():
    rng = np.random.default_rng(1)
    H1 = rng.normal(size=(40, 3))
    H2 = 0.7 * H1 @ rng.normal(size=(3, 4)) + rng.normal(size=(40, 4))
    value = float(total_correlation(torch.as_tensor(H1), torch.as_tensor(H2), eps=1e-3))
    assert value == pytest.approx(_reference_total_correlation(H1, H2, 1e-3), rel=1e-10)
    assert 0 < value < 3
    inputs = (torch.as_tensor(H1[:12], dtype=torch.float64).requires_grad_(),
              torch.as_tensor(H2[:12, :3], dtype=torch.float64).requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b: total_correlation(a, b, eps=1e-3), inputs)


def test_maxvar_embedding_of_two_views_is_their_averaged_canonical_variates():
    rng = np.random.default_rng(2)
    shared = rng.normal(size=(300, 2))
    H1 = np.hstack([shared, rng.normal(size=(300, 1))]) @ rng.normal(size=(3, 3))
    H2 = np.hstack([shared, rng.normal(size=(300, 1))]) @ rng.normal(size=(3, 3))
    Z = maxvar_embedding([H1, H2], 2, eps=1e-9)
    # the two kept directions are (up to sign and rotation) the shared signal
    coef, *_ = np.linalg.lstsq(shared - shared.mean(0), Z, rcond=None)
    residual = Z - (shared - shared.mean(0)) @ coef
    assert np.sum(residual ** 2) < 1e-6 * np.sum(Z ** 2)


@pytest.mark.parametrize("reconstruction_weight", [0.0, 1.0])
def test_dccae_recovers_the_shared_clusters_of_aligned_views(reconstruction_weight):
    Xs, y = aligned_views_with_distractors()
    # the data are not trivial: K-means on the raw views follows the distractors
    raw = np.hstack([(X - X.mean(0)) / X.std(0) for X in Xs])
    assert acc(y, KMeans(3, n_init=10, random_state=0).fit_predict(raw)) < 0.6
    model = DCCAE(3, latent_dim=4, hidden_dim=32, epochs=40, batch_size=75, lr=5e-3,
                  reconstruction_weight=reconstruction_weight, random_state=0)
    labels = model.fit_predict(Xs)
    assert acc(y, labels[0]) >= 0.9
    np.testing.assert_array_equal(labels[0], labels[1])
    assert model.embedding_.shape == (150, 4)
    assert len(model.history_) == 40 and model.history_[-1] < model.history_[0] - 1.0
    if reconstruction_weight == 0.0:  # plain deep CCA: the loss is minus the batch correlation (at most 4)
        assert -4.0 <= model.history_[-1] < -2.5


def test_dccae_is_deterministic_and_leaves_the_global_rng_alone():
    Xs, _ = aligned_views_with_distractors(n=60)
    state = torch.get_rng_state()
    fits = [DCCAE(3, latent_dim=3, hidden_dim=16, epochs=3, batch_size=20, random_state=7).fit(Xs) for _ in range(2)]
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(fits[0].labels_[0], fits[1].labels_[0])
    np.testing.assert_array_equal(fits[0].embedding_, fits[1].embedding_)
    assert fits[0].history_ == fits[1].history_


def test_dccae_three_views():
    Xs, _ = aligned_views_with_distractors(n=60, widths=(5, 4, 3))
    model = DCCAE(3, latent_dim=2, hidden_dim=8, epochs=2, batch_size=30, random_state=0).fit(Xs)
    assert len(model.labels_) == 3 and model.embedding_.shape == (60, 2)
    assert all(np.isfinite(model.history_))
    assert model.n_features_in_ == [5, 4, 3]


def test_dccae_errors():
    Xs, _ = aligned_views_with_distractors(n=60)
    with pytest.raises(ValueError, match="at least 2 views"):
        DCCAE(3).fit(Xs[:1])
    with pytest.raises(ValueError, match="batch_size=10 must be at least latent_dim \\+ 1 = 11"):
        DCCAE(3, latent_dim=10, batch_size=10).fit(Xs)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got 0.0 \(float\)"):
        DCCAE(3, lr=0.0).fit(Xs)
    with pytest.raises(ValueError, match="at least latent_dim \\+ 1 = 11 samples"):
        DCCAE(3, latent_dim=10, batch_size=32).fit([X[:8] for X in Xs])
    unaligned, _ = make_blob_views()
    with pytest.raises(ValueError, match="needs aligned views"):
        DCCAE(3).fit(unaligned)
