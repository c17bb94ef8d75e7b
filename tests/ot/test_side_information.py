"""Links, labels and link features in the FGW solvers: known answers, independent LP oracles, bad input."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial.distance import cdist

from otmix.ot import fgw, fgw_barycenter, link_cost, link_features, relative_descriptors


def cloud(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([3.0, 2.0, 1.0])[:d]
    perm = rng.permutation(n)
    return X, perm, np.argsort(perm), rng


def structures(X, Y):
    return cdist(X, X), cdist(Y, Y)


# ---------------------------------------------------------------- links


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_permuted_copy_with_links_recovers_the_permutation(alpha):
    X, perm, inv, rng = cloud(50)
    Y = X[perm]
    linked = rng.choice(50, size=5, replace=False)  # 10 % of the rows
    links = np.stack([linked, inv[linked]], axis=1)
    res = fgw(cdist(X, Y, "sqeuclidean"), *structures(X, Y), alpha=alpha, links=links)
    expected = np.zeros((50, 50))
    expected[np.arange(50), inv] = 1 / 50
    np.testing.assert_allclose(res.plan, expected, atol=1e-12)
    assert res.value == pytest.approx(0.0, abs=1e-10)


def test_linked_block_is_exactly_as_given_and_the_plan_feasible():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    links = np.array([[0, 5], [3, 3], [7, 29], [12, 0]])
    res = fgw(cdist(X, Y, "sqeuclidean"), *structures(X, Y), alpha=0.3, links=links)
    assert np.all(res.plan[links[:, 0], links[:, 1]] == 1 / 30)
    np.testing.assert_allclose(res.plan[links[:, 0]].sum(axis=1), 1 / 30, atol=1e-15)  # nothing else in those rows
    np.testing.assert_allclose(res.plan.sum(axis=1), 1 / 30, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), 1 / 30, atol=1e-12)


def test_unequal_sizes_keep_the_linked_mass_and_the_marginals():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(28, 2))
    links = np.array([[0, 1], [4, 27]])
    res = fgw(cdist(X, Y, "sqeuclidean"), *structures(X, Y), alpha=0.5, links=links)
    assert np.all(res.plan[links[:, 0], links[:, 1]] == pytest.approx(1 / 28))
    np.testing.assert_allclose(res.plan.sum(axis=1), 1 / 20, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), 1 / 28, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_pure_wasserstein_with_links_equals_the_assignment_of_the_free_block(seed):
    """alpha = 1 is a linear problem: the constrained optimum, from scipy on the free block, is an oracle."""
    rng = np.random.default_rng(seed)
    n = 25
    D = rng.random((n, n))
    A = cdist(*(2 * [rng.normal(size=(n, 2))]))
    links = np.stack([rng.choice(n, 4, replace=False), rng.choice(n, 4, replace=False)], axis=1)
    res = fgw(D, A, A, alpha=1.0, links=links)
    free_r, free_c = np.setdiff1d(np.arange(n), links[:, 0]), np.setdiff1d(np.arange(n), links[:, 1])
    r, c = linear_sum_assignment(D[np.ix_(free_r, free_c)])
    oracle = (D[links[:, 0], links[:, 1]].sum() + D[free_r[r], free_c[c]].sum()) / n
    assert res.value == pytest.approx(oracle, rel=1e-12)


def test_empty_links_give_the_result_without_links_bit_for_bit():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) + 1
    args = cdist(X, Y, "sqeuclidean"), *structures(X, Y)
    a = fgw(*args, alpha=0.4)
    b = fgw(*args, alpha=0.4, links=np.zeros((0, 2), dtype=int))
    c = fgw(*args, alpha=0.4, labels=(None, None))
    assert np.array_equal(a.plan, b.plan) and np.array_equal(a.plan, c.plan) and a.value == b.value == c.value
    Zs = [X, Y, rng.normal(size=(25, 3))]
    for method in ("exact", "quantized", "fast"):
        ref = fgw_barycenter(Zs, method=method, random_state=0)
        got = fgw_barycenter(Zs, method=method, random_state=0, links=np.zeros((0, 3), dtype=int))
        assert np.array_equal(ref.Z, got.Z) and ref.value == got.value


@pytest.mark.parametrize("method", ["exact", "quantized"])
def test_barycenter_of_permuted_copies_with_links(method):
    X, perm, inv, rng = cloud(60, seed=4)
    perm2 = rng.permutation(60)
    inv2 = np.argsort(perm2)
    Zs = [X, X[perm], X[perm2]]
    linked = rng.choice(60, size=6, replace=False)
    links = np.stack([linked, inv[linked], inv2[linked]], axis=1)
    links[0, 2] = -1  # entity 0 is absent from view 2
    res = fgw_barycenter(Zs, alpha=0.5, links=links, method=method, random_state=0, block_size=16)
    for m, T in enumerate(res.plans):
        T = np.asarray(T)
        present = links[:, m] >= 0
        np.testing.assert_array_equal(T[np.flatnonzero(present), links[present, m]], np.full(present.sum(), 1 / 60))
        np.testing.assert_allclose(T.sum(axis=1), 1 / 60, atol=1e-12)
        np.testing.assert_allclose(T.sum(axis=0), 1 / 60, atol=1e-12)
    assert res.log["n_links"] == 6
    if method == "exact":  # identical geometry: the twins are found and the value is zero
        P01 = 60 * res.plans[0].T @ res.plans[1]
        assert np.mean(P01.argmax(axis=1) == inv) == 1.0
        assert res.value == pytest.approx(0.0, abs=1e-8)


def test_links_with_torch_codes_keep_the_type_and_gradients():
    X, perm, inv, _ = cloud(20, seed=5)
    Zs = [torch.tensor(X, requires_grad=True), torch.tensor(X[perm], requires_grad=True)]
    links = np.array([[0, inv[0]], [1, inv[1]]])
    res = fgw_barycenter(Zs, links=links, random_state=0)
    assert isinstance(res.plans[0], torch.Tensor)
    res.Z.sum().backward()
    assert Zs[0].grad is not None


# ---------------------------------------------------------------- labels


def cross_mass(T, ya, yb):
    known = (ya[:, None] >= 0) & (yb[None, :] >= 0)
    return float(T[known & (ya[:, None] != yb[None, :])].sum())


def test_labels_forbid_every_cross_label_pair_when_shares_agree():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    ya, yb = rng.permutation(np.arange(30) % 3), rng.permutation(np.arange(30) % 3)
    for alpha in (0.0, 0.5, 1.0):
        res = fgw(cdist(X, Y, "sqeuclidean"), *structures(X, Y), alpha=alpha, labels=(ya, yb))
        assert cross_mass(res.plan, ya, yb) == 0.0
        np.testing.assert_allclose(res.plan.sum(axis=1), 1 / 30, atol=1e-12)


def test_unequal_class_shares_give_a_feasible_plan_with_the_least_cross_mass():
    """Oracle: scipy's LP for the least cross-label mass, then for the cost at that mass."""
    rng = np.random.default_rng(7)
    n, m = 10, 12
    ya = np.array([0] * 6 + [1] * 4)
    yb = np.array([0] * 3 + [1] * 5 + [2] * 4)
    D = rng.random((n, m))
    A, B = cdist(*(2 * [rng.normal(size=(n, 2))])), cdist(*(2 * [rng.normal(size=(m, 2))]))
    res = fgw(D, A, B, alpha=1.0, labels=(ya, yb))
    p, q = np.full(n, 1 / n), np.full(m, 1 / m)
    A_eq = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    b_eq = np.concatenate([p, q])
    F = (ya[:, None] != yb[None, :]).astype(float).ravel()
    least = linprog(F, A_eq=A_eq, b_eq=b_eq, bounds=(0, None)).fun
    best = linprog(D.ravel(), A_eq=np.vstack([A_eq, F]), b_eq=np.append(b_eq, least), bounds=(0, None)).fun
    np.testing.assert_allclose(res.plan.sum(axis=1), p, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), q, atol=1e-12)
    assert cross_mass(res.plan, ya, yb) == pytest.approx(least, abs=1e-12)
    assert least > 0.1  # the shares really force some cross-label mass here
    assert res.value == pytest.approx(best, rel=1e-9)


def test_unknown_labels_are_free():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(24, 2)), rng.normal(size=(24, 2))
    ya = np.repeat([0, 1], 12)
    yb = np.where(np.arange(24) < 12, 0, -1)  # half the columns unknown
    D = cdist(X, Y, "sqeuclidean")
    res = fgw(D, *structures(X, Y), alpha=1.0, labels=(ya, yb))
    assert cross_mass(res.plan, ya, yb) == 0.0
    assert res.plan[ya == 1][:, yb == -1].sum() == pytest.approx(0.5)  # class 1 can only go to the unknowns
    res_none = fgw(D, *structures(X, Y), alpha=1.0, labels=(ya, None))
    assert res_none.value == pytest.approx(fgw(D, *structures(X, Y), alpha=1.0).value)


def test_barycenter_with_labels_keeps_classes_apart():
    rng = np.random.default_rng(9)
    Zs = [rng.normal(size=(40, 3)), rng.normal(size=(50, 3)), rng.normal(size=(40, 3))]
    ys = [rng.integers(0, 3, 40), rng.integers(0, 3, 50), None]
    res = fgw_barycenter(Zs, n_points=40, labels=ys, random_state=0)
    assert res.point_labels.shape == (40,)
    for T, y in zip(res.plans[:2], ys[:2]):
        assert cross_mass(np.asarray(T), res.point_labels, y) < 1e-12
    shares = np.bincount(res.point_labels[res.point_labels >= 0], minlength=3) / 40
    expected = (np.bincount(ys[0], minlength=3) / 40 + np.bincount(ys[1], minlength=3) / 50) / 3
    np.testing.assert_allclose(shares, expected, atol=1 / 40 + 1e-12)
    with pytest.raises(ValueError, match="method='exact'"):
        fgw_barycenter(Zs, labels=ys, method="fast")


def test_a_link_between_different_labels_is_refused():
    X = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match="different labels"):
        fgw(cdist(X, X), cdist(X, X), cdist(X, X), links=[[0, 1]], labels=([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1]))


# ---------------------------------------------------------------- link features


def test_relative_descriptors_are_the_same_for_twins_whatever_the_coordinates():
    X, perm, inv, rng = cloud(30, seed=10)
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    Y = X[perm] @ Q + 5.0  # rotated, shifted, permuted copy
    linked = np.arange(4)
    Ra, Rb = relative_descriptors(X, linked), relative_descriptors(Y, inv[linked])
    np.testing.assert_allclose(Ra, Rb[inv], atol=1e-12)
    np.testing.assert_allclose(Ra.sum(axis=1), 1.0)
    links = np.stack([linked, inv[linked]], axis=1)
    C = link_cost(X, Y, links, kind="relative")
    np.testing.assert_allclose(C[np.arange(30), inv], 0.0, atol=1e-12)


def test_mapped_features_recover_a_linear_copy():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 4))
    W = rng.normal(size=(4, 4))
    links = np.stack([np.arange(20), np.arange(20)], axis=1)
    F0, F1 = link_features([X, X @ W], links, kind="mapped", ridge=0.0)
    np.testing.assert_allclose(F0, F1, atol=1e-8)
    both = link_features([X, X @ W], links)
    assert both[0].shape == (50, 20 + 4)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("links, message", [
    ([[0, 30]], "out of range"),
    ([[0, -2]], "out of range"),
    ([[0, 1], [0, 2]], "linked more than once"),
    ([[0, -1]], "fewer than two views"),
    ([[0, 1, 2]], "must have 2 columns"),
    ([0, 1], "2-D array"),
    ([[0.5, 1.0]], "must hold integers"),
])
def test_bad_links(links, message):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=message):
        fgw(cdist(X, X), cdist(X, X), cdist(X, X), links=links)


@pytest.mark.parametrize("labels, message", [
    ((np.zeros(29, int), np.zeros(30, int)), "must have length 30"),
    ((np.zeros(30), np.full(30, 0.5)), "must hold integers"),
    ((np.full(30, -3), np.zeros(30, int)), "labels are >= 0"),
    ((np.zeros(30, int),), "must hold 2 entries"),
    (np.zeros(30, int), "sequence of 2 arrays"),
])
def test_bad_labels(labels, message):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=message):
        fgw(cdist(X, X), cdist(X, X), cdist(X, X), labels=labels)


def test_bad_barycenter_side_information():
    rng = np.random.default_rng(0)
    Zs = [rng.normal(size=(10, 2)), rng.normal(size=(10, 2))]
    with pytest.raises(ValueError, match="n_points must be at least the 3 linked"):
        fgw_barycenter(Zs, n_points=2, links=[[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="must have 2 columns"):
        fgw_barycenter(Zs, links=[[0, 0, 0]])
    with pytest.raises(ValueError, match=r"features\[1\] must have 10 rows"):
        fgw_barycenter(Zs, features=[np.ones((10, 3)), np.ones((9, 3))])
    with pytest.raises(ValueError, match="share one width"):
        fgw_barycenter(Zs, features=[np.ones((10, 3)), np.ones((10, 2))])
    with pytest.raises(ValueError, match="at least one entity linked in every view"):
        link_features(Zs + [rng.normal(size=(10, 2))], [[0, 0, -1]])
