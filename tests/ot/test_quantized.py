"""The approximate ("fast" / "quantized") FGW barycenter and the sparse-plan options."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import clustered_codes, pot_fgw_value

from otmix.ot import fgw_barycenter, fgw_objective
from otmix.ot.quantized import kmeans, sparse_fgw_objective
from otmix.ot.structure import feature_cost, self_structure_constant, structure_matrix


def codes(sizes, d=8, seed=0, n_clusters=4):
    return clustered_codes(sizes, d=d, seed=seed, n_clusters=n_clusters)


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
def test_self_structure_constant_matches_the_matrix(structure):
    rng = np.random.default_rng(0)
    Z, w = rng.normal(size=(40, 5)), rng.random(40)
    A = structure_matrix(Z, structure)
    assert self_structure_constant(Z, w, structure) == pytest.approx(w @ (A * A) @ w, rel=1e-10)


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("kind", ["permutation", "fractional"])
def test_sparse_objective_matches_the_dense_one(structure, kind):
    rng = np.random.default_rng(1)
    Z, Zm = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 0.5
    if kind == "permutation":
        T = np.eye(30)[rng.permutation(30)] / 30
    else:  # a mixture of three permutations
        T = sum(w * np.eye(30)[rng.permutation(30)] / 30 for w in (0.5, 0.3, 0.2))
    expected = pot_fgw_value(Z, Zm, T, 0.3, structure)
    # a fractional plan's structure term is a difference of two large sums: float64 cancellation ~1e-10
    assert sparse_fgw_objective(Z, Zm, sp.csr_array(T), 0.3, structure) == pytest.approx(expected, rel=1e-8)
    assert fgw_objective(feature_cost(Z, Zm), structure_matrix(Z, structure), structure_matrix(Zm, structure), T,
                         0.3) == pytest.approx(expected, rel=1e-8)


def test_kmeans_labels_centres_and_dropped_empty_clusters():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 10.0])
    labels, centres = kmeans(X, 2, rng)
    assert sorted(np.bincount(labels)) == [20, 20]
    np.testing.assert_allclose(centres[labels[0]], X[:20].mean(0))
    # a centre far from all points loses its cluster and is dropped; labels stay contiguous
    labels, centres = kmeans(X, 3, rng, centres=np.array([[0.0, 0.0], [10.0, 10.0], [1e6, 1e6]]))
    assert centres.shape == (2, 2) and set(labels) == {0, 1}


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
def test_fast_plans_are_permutations_and_the_value_is_exact_at_them(structure):
    Zs = codes([300, 300, 300], seed=3)
    res = fgw_barycenter(Zs, alpha=0.5, structure=structure, method="quantized", random_state=0, block_size=100)
    assert res.log["method"] == "quantized"
    for T in res.plans:
        assert T.shape == (300, 300)
        np.testing.assert_allclose(T.sum(1), np.full(300, 1 / 300), atol=1e-12)
        np.testing.assert_allclose(T.sum(0), np.full(300, 1 / 300), atol=1e-12)
        assert np.count_nonzero(T) == 300  # a permutation / N
    np.testing.assert_allclose(res.Z, sum(300 * T @ Zm for T, Zm in zip(res.plans, Zs)) / 3, atol=1e-10)
    expected = sum(pot_fgw_value(res.Z, Zm, T, 0.5, structure) for T, Zm in zip(res.plans, Zs)) / 3
    assert res.value == pytest.approx(expected, rel=1e-5)  # the pair sums run on float32 distances
    assert set(res.log) >= {"values", "time_partition", "time_coarse", "time_local", "time_value"}
    assert res.n_outer == len(res.log["values"])


def test_fast_handles_different_sizes_and_weights_with_feasible_plans():
    Zs = codes([120, 90, 150], seed=4)
    weights = [0.2, 0.5, 0.3]
    res = fgw_barycenter(Zs, n_points=100, weights=weights, method="quantized", random_state=1, block_size=40)
    for T, Zm in zip(res.plans, Zs):
        assert T.shape == (100, Zm.shape[0]) and T.min() >= 0
        np.testing.assert_allclose(T.sum(1), np.full(100, 1 / 100), atol=1e-9)
        np.testing.assert_allclose(T.sum(0), np.full(Zm.shape[0], 1 / Zm.shape[0]), atol=1e-9)
    np.testing.assert_allclose(res.Z, sum(w * 100 * T @ Zm for w, T, Zm in zip(weights, res.plans, Zs)), atol=1e-9)
    expected = sum(w * pot_fgw_value(res.Z, Zm, T, 0.5, "euclidean") for w, T, Zm in zip(weights, res.plans, Zs))
    assert res.value == pytest.approx(expected, rel=1e-5)


def test_fast_falls_back_to_exact_on_small_problems_and_says_so():
    Zs = codes([64, 64, 64], seed=5)
    fast = fgw_barycenter(Zs, method="fast", random_state=7)
    exact = fgw_barycenter(Zs, method="exact", random_state=7)
    assert fast.log["method"] == "exact" and "FAST_MIN_PLAN" in fast.log["fallback"]
    np.testing.assert_array_equal(fast.Z, exact.Z)
    assert fast.value == exact.value and "fallback" not in exact.log
    quantized = fgw_barycenter(Zs, method="quantized", random_state=7)  # the algorithm by its name: no fallback
    assert quantized.log["method"] == "quantized" and "fallback" not in quantized.log


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("with_links", [False, True])
def test_fast_tries_every_modality_as_a_start_and_keeps_the_best(monkeypatch, structure, with_links):
    import importlib

    monkeypatch.setattr(importlib.import_module("otmix.ot.barycenter"), "FAST_MIN_PLAN", 0)
    Zs = codes([150, 150, 150], seed=12)
    links = np.stack([np.arange(12), np.arange(12, 24), np.arange(24, 36)], axis=1) if with_links else None
    first = fgw_barycenter(Zs, method="fast", structure=structure, random_state=3, block_size=50, links=links)
    again = fgw_barycenter(Zs, method="fast", structure=structure, random_state=3, block_size=50, links=links)
    if with_links:  # every start keeps the linked entities as the first points, fixed to their rows
        for m, T in enumerate(first.plans):
            np.testing.assert_array_equal(T[np.arange(12), links[:, m]], np.full(12, 1 / 150))
    np.testing.assert_array_equal(first.Z, again.Z)  # seeded
    log = first.log
    assert log["method"] == "quantized" and log["starts"] == ["init", "modality 0", "modality 1", "modality 2"]
    assert log["start"] == log["starts"][int(np.argmin(log["start_values"]))]
    assert log["outer_total"] >= first.n_outer == len(log["values"])
    for T in first.plans:
        assert np.count_nonzero(T) == 150
        np.testing.assert_allclose(T.sum(0), np.full(150, 1 / 150), atol=1e-12)
    expected = sum(pot_fgw_value(first.Z, Zm, T, 0.5, structure) for T, Zm in zip(first.plans, Zs)) / 3
    assert first.value == pytest.approx(expected, rel=1e-5)
    assert first.value <= min(log["start_values"]) * (1 + 1e-5)  # the best pair seen, evaluated in full


def test_fast_barycenter_of_one_modality_recovers_it():
    (Z,) = codes([200], seed=6)
    res = fgw_barycenter([Z], method="quantized", random_state=0, block_size=50)
    assert res.value == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(np.sort(res.Z, axis=0), np.sort(Z, axis=0), atol=1e-10)


@pytest.mark.parametrize("method", ["exact", "quantized", "fast"])
def test_sparse_plans_hold_the_same_plans(method):
    Zs = codes([60, 60], seed=7)
    dense = fgw_barycenter(Zs, method=method, random_state=0)
    sparse = fgw_barycenter(Zs, method=method, random_state=0, sparse_plans=True)
    for D, S in zip(dense.plans, sparse.plans):
        assert sp.issparse(S)
        np.testing.assert_allclose(S.toarray(), D, atol=0)
    np.testing.assert_allclose(sparse.Z, dense.Z)


def test_torch_sparse_plans_carry_gradients():
    Zs = [torch.tensor(Z, requires_grad=True) for Z in codes([50, 50], seed=8)]
    res = fgw_barycenter(Zs, method="quantized", random_state=0, sparse_plans=True)
    assert all(T.is_sparse and T.device == Zs[0].device for T in res.plans)
    res.Z.sum().backward()
    for Z in Zs:  # each code row is carried onto exactly one barycenter point with weight λ_m
        np.testing.assert_allclose(Z.grad.numpy(), np.full(Z.shape, 0.5), atol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "sinkhorn"}, "method must be one of"),
    ({"method": "fast", "n_anchors": 0}, "n_anchors must be at least 1"),
    ({"method": "fast", "block_size": 0}, "block_size must be at least 1"),
])
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fgw_barycenter(codes([20, 20]), **kwargs)


@pytest.mark.parametrize("method", ["exact", "quantized", "fast"])
@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
def test_codes_far_from_the_origin_give_the_same_barycenter(method, structure):
    """FGW ignores a common shift; the float32 loops must too (they run on centred codes)."""
    Zs = [0.1 * Z for Z in codes([80, 80, 80], d=4, seed=9)]
    near = fgw_barycenter(Zs, method=method, structure=structure, random_state=0)
    far = fgw_barycenter([Z + 300.0 for Z in Zs], method=method, structure=structure, random_state=0)
    assert far.value == pytest.approx(near.value, rel=1e-6)
    assert far.n_outer == near.n_outer and far.converged
    np.testing.assert_allclose(far.Z, near.Z + 300.0, atol=1e-8)


@pytest.mark.parametrize("structure", ["euclidean", "sqeuclidean"])
def test_self_structure_constant_far_from_the_origin(structure):
    rng = np.random.default_rng(10)
    Z, w = rng.normal(size=(50, 3)) + 1e4, rng.random(50)
    A = structure_matrix(Z - 1e4, structure)  # the same distances, computed where float64 is exact enough
    assert self_structure_constant(Z, w, structure) == pytest.approx(w @ (A * A) @ w, rel=1e-8)


def test_integer_torch_codes_get_floating_sparse_plans():
    Zs = [torch.as_tensor(np.round(Z * 10).astype(np.int64)) for Z in codes([30, 30], d=3, seed=11)]
    res = fgw_barycenter(Zs, method="quantized", random_state=0, sparse_plans=True)
    for T in res.plans:
        assert T.dtype.is_floating_point
        np.testing.assert_allclose(T.to_dense().sum(0).numpy(), np.full(30, 1 / 30))
    assert res.Z.dtype.is_floating_point and float(res.Z.abs().sum()) > 0


def test_fgw_log_keeps_the_barycenter_internals_out():
    from otmix.ot import fgw

    rng = np.random.default_rng(12)
    X = rng.normal(size=(15, 3))
    A = structure_matrix(X, "euclidean")
    res = fgw(feature_cost(X, X), A, A)
    assert "products" not in res.log and "full_products" not in res.log


def test_large_problem_paths_on_a_small_problem(monkeypatch):
    """Two-level stage 1, sampled k-means seeds with float32 distances, and the row-sample value
    estimate (each switched on by lowering its size threshold): plans stay feasible permutations,
    the estimate is within a few standard errors of the exact objective."""
    import importlib

    Q = importlib.import_module("otmix.ot.quantized")
    monkeypatch.setattr(Q, "STAGE1_DENSE_ENTRIES", 0)
    monkeypatch.setattr(Q, "KMEANS_LARGE", 100)
    monkeypatch.setattr(Q, "EVAL_ROWS", 60)
    monkeypatch.setattr(Q, "EVAL_PAIRS", 60 * 100)
    monkeypatch.setattr(Q, "FULL_VALUE_ROWS", 100)
    monkeypatch.setattr(Q, "VALUE_SAMPLE_ROWS", 30)
    Zs = codes([300, 300, 300], seed=13)
    res = fgw_barycenter(Zs, method="quantized", random_state=0, block_size=40, sparse_plans=True)
    for T in res.plans:
        assert T.nnz == 300
        np.testing.assert_allclose(T.sum(axis=0), np.full(300, 1 / 300), atol=1e-12)
        np.testing.assert_allclose(T.sum(axis=1), np.full(300, 1 / 300), atol=1e-12)
    assert res.log["value_estimated"] and res.log["value_rows"] == 8 * 30
    exact = sum(pot_fgw_value(res.Z, Zm, T.toarray(), 0.5, "euclidean") for T, Zm in zip(res.plans, Zs)) / 3
    assert abs(res.value - exact) <= 5 * res.log["value_stderr"] + 1e-9 * exact
