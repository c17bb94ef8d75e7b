import doctest

import numpy as np
import pytest
import scipy.linalg
from conftest import aligned_blobs, make_blob_views
from sklearn.metrics import adjusted_rand_score

import otmix.baselines.mcca as mcca_module
from otmix.baselines.mcca import MCCA
from otmix.metrics import acc


def shared_signal_views(n_rows=300, widths=(6, 5), seed=0):
    """Two views = one shared latent signal along a random direction + independent unit noise (population
    correlation of the best projections with the signal about 0.98)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n_rows)
    Xs = [np.outer(s, 2 * rng.normal(size=w)) + rng.normal(size=(n_rows, w)) for w in widths]
    return Xs, s


def corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_first_direction_recovers_shared_signal():
    Xs, s = shared_signal_views()
    model = MCCA(2, n_components=2, random_state=0).fit(Xs)
    z = [(X - X.mean(0)) @ W[:, 0] for X, W in zip(Xs, model.weights_)]
    rho = abs(corr(z[0], z[1]))
    assert rho >= 0.9
    assert abs(corr(z[0], s)) >= 0.9 and abs(corr(z[1], s)) >= 0.9
    rng = np.random.default_rng(1)
    random_rho = [abs(corr(Xs[0] @ rng.normal(size=6), Xs[1] @ rng.normal(size=5))) for _ in range(50)]
    assert rho > max(random_rho)
    # the second direction pair only sees noise
    assert model.eigenvalues_[0] - 1 >= 0.9 and model.eigenvalues_[1] - 1 < 0.4


def test_unregularised_two_view_eigenvalue_is_the_canonical_correlation():
    # lambda_1 - 1 = top singular value of C11^{-1/2} C12 C22^{-1/2} (classical CCA)
    Xs, _ = shared_signal_views(n_rows=200, widths=(4, 3), seed=2)
    X1, X2 = (X - X.mean(0) for X in Xs)
    n = X1.shape[0]
    whiten = [scipy.linalg.inv(scipy.linalg.sqrtm(X.T @ X / n)).real for X in (X1, X2)]
    rho = np.linalg.svd(whiten[0] @ (X1.T @ X2 / n) @ whiten[1], compute_uv=False)
    model = MCCA(2, n_components=3, regularization=0.0, random_state=0).fit(Xs)
    np.testing.assert_allclose(model.eigenvalues_ - 1, rho, atol=1e-8)
    z = [X @ W for X, W in zip((X1, X2), model.weights_)]
    np.testing.assert_allclose([corr(z[0][:, j], z[1][:, j]) for j in range(3)], rho, atol=1e-8)


def test_wide_view_matches_the_full_eigenproblem():
    rng = np.random.default_rng(3)
    n, r = 30, 0.3
    Xs = [rng.normal(size=(n, 40)), rng.normal(size=(n, 5))]
    Xs[0][:, :5] += 2 * Xs[1]  # some shared signal
    model = MCCA(2, n_components=4, regularization=r, random_state=0).fit(Xs)
    C = [X - X.mean(0) for X in Xs]
    R = [(1 - r) * X.T @ X / n + r * np.trace(X.T @ X / n) / X.shape[1] * np.eye(X.shape[1]) for X in C]
    A = np.block([[R[0], C[0].T @ C[1] / n], [C[1].T @ C[0] / n, R[1]]])
    values, vectors = scipy.linalg.eigh(A, scipy.linalg.block_diag(*R))
    values, vectors = values[::-1][:4], vectors[:, ::-1][:, :4]
    assert np.all(values > 1)
    np.testing.assert_allclose(model.eigenvalues_, values, atol=1e-8)
    for m, (lo, hi) in enumerate([(0, 40), (40, 45)]):
        ours, ref = C[m] @ model.weights_[m], C[m] @ vectors[lo:hi]
        np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-6)
    assert [W.shape for W in model.weights_] == [(40, 4), (5, 4)]


def test_embedding_shape_and_aligned_blob_clustering():
    Xs, y = aligned_blobs(widths=(6, 4, 5), seed=4)
    model = MCCA(3, random_state=0)
    labels = model.fit_predict(Xs)
    assert model.embedding_.shape == (90, 3) and model.n_components_ == 3
    assert [W.shape for W in model.weights_] == [(6, 3), (4, 3), (5, 3)]
    assert len(labels) == 3 and all(np.array_equal(labels[0], lab) for lab in labels)
    assert acc(y, labels[0]) >= 0.95
    assert MCCA(3, n_components=5, random_state=0).fit(Xs).embedding_.shape == (90, 5)


def test_invariant_to_rotating_and_scaling_a_view():
    Xs, y = aligned_blobs(seed=5)
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    before = MCCA(3, random_state=0).fit(Xs)
    after = MCCA(3, random_state=0).fit([Xs[0], 3.7 * Xs[1] @ Q + 5.0])
    np.testing.assert_allclose(before.eigenvalues_, after.eigenvalues_, atol=1e-6)
    assert adjusted_rand_score(before.labels_[0], after.labels_[0]) >= 0.95
    # without regularisation any invertible linear map of a view leaves the problem unchanged
    M = rng.normal(size=(4, 4)) + 2 * np.eye(4)
    plain = MCCA(3, regularization=0.0, random_state=0).fit(Xs)
    mapped = MCCA(3, regularization=0.0, random_state=0).fit([Xs[0], Xs[1] @ M])
    np.testing.assert_allclose(plain.eigenvalues_, mapped.eigenvalues_, atol=1e-6)


def test_deterministic_with_random_state():
    Xs, _ = aligned_blobs(seed=6)
    a, b = MCCA(3, random_state=11).fit(Xs), MCCA(3, random_state=11).fit(Xs)
    assert np.array_equal(a.labels_[0], b.labels_[0])
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


@pytest.mark.parametrize("kwargs, match", [
    ({"regularization": -0.1}, "regularization must be a finite number in \\[0, 1\\]"),
    ({"regularization": 1.5}, "regularization must be a finite number in \\[0, 1\\]"),
    ({"regularization": "0.1"}, "regularization"),
    ({"n_components": 0}, "n_components must be an integer >= 1"),
    ({"n_components": 2.5}, "n_components"),
    ({"n_components": 11}, "n_components=11 exceeds 10"),
])
def test_bad_parameters_raise(kwargs, match):
    Xs, _ = aligned_blobs(seed=7)
    with pytest.raises(ValueError, match=match):
        MCCA(3, **kwargs).fit(Xs)


def test_wide_view_needs_regularization():
    rng = np.random.default_rng(8)
    Xs = [rng.normal(size=(20, 25)), rng.normal(size=(20, 3))]
    with pytest.raises(ValueError, match="view 0 has 25 features but only 20 rows.*regularization must be > 0"):
        MCCA(2, regularization=0.0).fit(Xs)
    assert MCCA(2, regularization=0.5, random_state=0).fit(Xs).embedding_.shape == (20, 2)


def test_refuses_unaligned_single_and_constant_views():
    Xs, _ = make_blob_views(n_rows=(90, 75))
    with pytest.raises(ValueError, match="needs aligned views"):
        MCCA(3).fit(Xs)
    with pytest.raises(ValueError, match="at least 2 views"):
        MCCA(3).fit(Xs[:1])
    with pytest.raises(ValueError, match="view 1 is constant"):
        MCCA(2).fit([Xs[0], np.ones((90, 3))])


def test_docstring_examples_run():
    failures, tried = doctest.testmod(mcca_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
