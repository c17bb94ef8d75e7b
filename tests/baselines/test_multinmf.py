import numpy as np
import pytest
from conftest import make_blob_views

from otmix.baselines.multinmf import MultiNMF, joint_nmf_objective
from otmix.metrics import acc


def shifted_blob_views(n=150, widths=(8, 6), noise=0.5, seed=0):
    """Aligned views (row i = one sample) of 3 blobs through random linear maps, shifted to be non-negative."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    latent = rng.normal(size=(3, 3))[y] * 4
    Xs = []
    for width in widths:
        X = (latent + noise * rng.normal(size=(n, 3))) @ rng.normal(size=(3, width))
        Xs.append(X - X.min())
    return Xs, y


def complementary_views(n=150, width=8, noise=0.1, seed=0):
    """Non-negative aligned views that each see only 2 of the 3 clusters: view 0 merges clusters 1 and 2,
    view 1 merges 0 and 1; only both together tell all 3 apart."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    Xs = []
    for merge in ([0, 1, 1], [0, 0, 1]):
        prototypes = rng.uniform(size=(2, width)) ** 3
        scale = rng.uniform(0.5, 1.5, size=(n, 1))
        Xs.append(prototypes[np.array(merge)[y]] * scale + noise * rng.uniform(size=(n, width)))
    return Xs, y


@pytest.mark.parametrize("lambdas", [0.01, [0.5, 0.02]])
def test_objective_never_increases(lambdas):
    Xs, _ = shifted_blob_views(seed=1)
    model = MultiNMF(3, n_components=4, lambdas=lambdas, max_iter=150, tol=0.0, random_state=0).fit(Xs)
    history = np.asarray(model.history_)
    assert model.n_iter_ == len(history) == 150
    assert np.all(np.diff(history) <= 1e-9 * history[:-1])
    assert history[-1] < history[0]


def test_fitted_factors_follow_the_paper_normalisation_and_objective():
    Xs, _ = shifted_blob_views(seed=2)
    model = MultiNMF(3, lambdas=0.1, max_iter=30, random_state=0).fit(Xs)
    for U in model.bases_:
        np.testing.assert_allclose(U.sum(0), 1.0, rtol=1e-12)  # ||U_{.k}||_1 = 1, so Q_m = I
    np.testing.assert_allclose(model.consensus_, np.mean(model.coefficients_, axis=0), rtol=1e-12)
    Ps = [X.T / X.sum() for X in Xs]
    objective = joint_nmf_objective(Ps, model.bases_, model.coefficients_, model.consensus_, [0.1, 0.1])
    assert objective == pytest.approx(model.history_[-1], rel=1e-12)
    assert all(np.all(V >= 0) for V in model.coefficients_) and np.all(model.consensus_ >= 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_non_negative_blob_views(seed):
    Xs, y = shifted_blob_views(seed=seed)
    labels = MultiNMF(3, random_state=0).fit_predict(Xs)
    assert acc(y, labels[0]) >= 0.9
    np.testing.assert_array_equal(labels[0], labels[1])


def test_combines_complementary_views():
    Xs, y = complementary_views()
    singles = [acc(y, MultiNMF(3, random_state=0).fit_predict([X])[0]) for X in Xs]
    assert max(singles) < 0.8
    labels = MultiNMF(3, lambdas=1.0, random_state=0).fit_predict(Xs)
    assert acc(y, labels[0]) >= 0.9


def test_lambda_pulls_the_views_to_the_consensus():
    Xs, _ = complementary_views(seed=3)

    def disagreement(lam):
        model = MultiNMF(3, lambdas=lam, max_iter=100, random_state=0).fit(Xs)
        return sum(np.sum((V - model.consensus_) ** 2) for V in model.coefficients_) / np.sum(model.consensus_ ** 2)

    assert disagreement(10.0) < 0.1 * disagreement(1e-6)


def test_deterministic_with_random_state():
    Xs, _ = shifted_blob_views(seed=3)
    a = MultiNMF(3, max_iter=20, random_state=5).fit(Xs)
    b = MultiNMF(3, max_iter=20, random_state=5).fit(Xs)
    np.testing.assert_array_equal(a.consensus_, b.consensus_)
    np.testing.assert_array_equal(a.labels_[0], b.labels_[0])
    assert a.history_ == b.history_


def test_errors():
    Xs, _ = shifted_blob_views(n=30)
    bad = [Xs[0], Xs[1] - 1.0]
    with pytest.raises(ValueError, match="view 1 has negative entries.*X - X.min"):
        MultiNMF(3).fit(bad)
    with pytest.raises(ValueError, match="view 0 is all zeros"):
        MultiNMF(3).fit([np.zeros_like(Xs[0]), Xs[1]])
    with pytest.raises(ValueError, match="lambdas must be a number or one number per view"):
        MultiNMF(3, lambdas=[0.1, 0.1, 0.1]).fit(Xs)
    with pytest.raises(ValueError, match="lambdas must be non-negative"):
        MultiNMF(3, lambdas=[0.1, -0.1]).fit(Xs)
    with pytest.raises(ValueError, match="n_components must be None or an integer >= 1"):
        MultiNMF(3, n_components=0).fit(Xs)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        MultiNMF(3, max_iter=0).fit(Xs)
    unaligned, _ = make_blob_views()
    with pytest.raises(ValueError, match="needs aligned views"):
        MultiNMF(3).fit([np.abs(X) for X in unaligned])
