import numpy as np
import pytest

from otmix.federated.guard import AuditLog, EgressGuard, EgressViolation


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(20, 5))


@pytest.mark.parametrize("leak,word", [
    (lambda X: X, "equals the raw data"),
    (lambda X: X.T.copy(), "equals the transposed"),
    (lambda X: X.astype(np.float32), "equals the raw data"),
    (lambda X: X[3:7], "rows"),
    (lambda X: X[5], "rows"),
    (lambda X: X[:, 2].astype(np.float32), "columns"),
    (lambda X: np.stack([np.zeros(20), X[:, 1]]), "columns"),
    (lambda X: np.concatenate([np.zeros((2, 5)), X[[9]]])[None], "rows"),
    (lambda X: X.ravel(), "equals the raw data"),
    (lambda X: X.reshape(5, 20), "equals the raw data"),
    (lambda X: X.astype(np.float32).astype(np.float64), "equals the raw data"),
    (lambda X: X[:, 3].tolist(), "columns"),
])
def test_guard_refuses_raw_data(X, leak, word):
    with pytest.raises(EgressViolation, match=word):
        EgressGuard(X).check({"payload": leak(X)})


def test_guard_passes_codes_and_derived_numbers(X):
    guard = EgressGuard(X)
    guard.check({"codes": np.random.default_rng(1).normal(size=(3, 20, 5)).astype(np.float32),
                 "mean": X.mean(axis=0), "labels": np.arange(20), "scaled": X[:4] * 1.0001, "count": 7})


def test_guard_compares_values_not_a_lossy_cast():
    X = np.random.default_rng(0).uniform(0, 1, size=(20, 5))  # int(X) would be all zeros
    EgressGuard(X).check({"sizes": np.zeros(20, dtype=np.int64), "zeros": np.zeros(5, dtype=np.int64)})
    integer = np.arange(10).reshape(5, 2)
    with pytest.raises(EgressViolation, match="rows"):
        EgressGuard(integer).check({"copy": integer[2].astype(np.int32)})


def test_audit_log_records_every_array(tmp_path):
    log = AuditLog(tmp_path / "sub" / "audit.jsonl")
    n = log.record(1, 42, 0, "train.fit", [("codes/codes", np.zeros((2, 8, 4), np.float32))])
    log.record(2, 43, 1, "query.codes", [("codes/codes", np.zeros((10, 4), np.float32))])
    assert n == 2 * 8 * 4 * 4
    entries = log.entries()
    assert [e["round"] for e in entries] == [1, 2]
    assert entries[0] | {"time": 0} == {"time": 0, "round": 1, "node": 42, "modality": 0, "message": "train.fit",
                                        "record": "array", "key": "codes/codes", "shape": [2, 8, 4],
                                        "dtype": "float32", "bytes": 256}
    log.record(2, 43, 1, "train.fit", [("metrics/rec", 0.5), ("info/modality", 1)], record="metric")
    assert [e["record"] for e in log.entries()] == ["array", "array", "metric", "metric"]
