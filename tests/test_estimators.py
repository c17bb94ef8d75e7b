import json

import numpy as np
import pytest
import torch
from conftest import make_blob_views
from sklearn.base import clone

from otmix import OTMClustering
from otmix.metrics import acc

FAST = dict(latent_dim=3, hidden_dim=32, batch_size=32, epochs=15, lr=5e-3, patience=None)


@pytest.fixture(scope="module")
def fitted():
    Xs, ys = make_blob_views()
    return OTMClustering(n_clusters=3, random_state=0, **FAST).fit(Xs), Xs, ys


def blob_links(n_rows=(90, 75), seed=0, n_links=9):
    """Views whose rows 0..n_links-1 are the same entities: make_blob_views draws each view's labels
    on its own, so here both views are built from one latent sample (as conftest.aligned_blobs) and
    then permuted; the links are the first entities' rows."""
    from conftest import aligned_blobs

    from otmix.data import unalign

    Xs, y = aligned_blobs(n_rows=max(n_rows), seed=seed)
    Xs = [X[:n] for X, n in zip(Xs, n_rows)]
    ys = [y[:n] for n in n_rows]
    Xs, ys, perms = unalign(Xs, ys, random_state=seed)
    links = np.stack([np.argsort(p)[:n_links] for p in perms], axis=1)
    return Xs, ys, links


def test_fit_predict_clusters_unaligned_views_of_different_sizes(fitted):
    est, Xs, ys = fitted
    assert [len(labels) for labels in est.labels_] == [90, 75]
    assert all(set(np.unique(labels)) <= {0, 1, 2} for labels in est.labels_)
    for y, labels in zip(ys, est.labels_):
        assert acc(y, labels) >= 0.95
    # no links and no row-level alignability: the views did not mix (nothing pulled them towards noise)
    assert est.training_["mixing"] is False and not est.alignability_[0]["alignable"]


def test_a_tenth_of_linked_rows_gives_one_id_map():
    Xs, ys, links = blob_links()
    est = OTMClustering(n_clusters=3, random_state=0, **FAST).fit(Xs, links=links)
    # one map for all samples: the same cluster id means the same class in both views
    assert acc(np.concatenate(ys), np.concatenate(est.labels_)) >= 0.95
    assert est.fused_codes_.shape == (75, 3) and est.fused_labels_.shape == (75,)
    assert est.cluster_centers_.shape == (3, 3)
    assert est.n_features_in_ == [6, 4]
    assert set(est.labels_by_readout_) == {"matched", "fused", "gw"}


def test_transform_and_predict_with_one_view_alone(fitted):
    est, Xs, _ = fitted
    codes = est.transform(Xs)
    assert [Z.shape for Z in codes] == [(90, 3), (75, 3)]
    # the k-means read-out labels a sample by its own code's nearest fused centre: predict agrees exactly
    for m, X in enumerate(Xs):
        np.testing.assert_array_equal(est.predict(X, view=m), est.labels_[m])


def test_predict_on_held_back_rows():
    Xs, ys = make_blob_views(n_rows=(120, 100), seed=4)
    train = [X[:-30] for X in Xs]
    est = OTMClustering(n_clusters=3, random_state=1, **FAST).fit(train)
    for m in range(2):
        held_back = est.predict(Xs[m][-30:], view=m)
        # scored with the fit's own cluster ids: a map learnt on the training rows must carry over
        trained_map = {c: np.bincount(ys[m][:-30][est.labels_[m] == c]).argmax() for c in range(3)}
        assert np.mean([trained_map[c] == y for c, y in zip(held_back, ys[m][-30:])]) >= 0.9


def test_same_seed_same_result():
    Xs, _ = make_blob_views(seed=2)
    a = OTMClustering(n_clusters=3, random_state=7, **{**FAST, "epochs": 3}).fit(Xs)
    b = OTMClustering(n_clusters=3, random_state=7, **{**FAST, "epochs": 3}).fit(Xs)
    for la, lb in zip(a.labels_, b.labels_):
        np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(a.fused_codes_, b.fused_codes_)
    assert a.history_["total"] == b.history_["total"]


@pytest.mark.parametrize("params", [{"w_otm": 0.0, "w_clu": 0.0}, {"mix": "weighted"}, {"readout": "gw"}])
def test_variants_run(params):
    Xs, _ = make_blob_views(seed=3)
    est = OTMClustering(n_clusters=3, random_state=0, **{**FAST, "epochs": 2, **params}).fit(Xs)
    assert [len(labels) for labels in est.labels_] == [90, 75]
    if params.get("w_otm") == 0.0:
        assert est.history_["otm"] == [0.0, 0.0]


def test_checkpoint_round_trip(fitted, tmp_path):
    est, Xs, _ = fitted
    path = est.save(tmp_path / "ckpt")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp folder left
    assert json.loads((path / "config.json").read_text())["n_features_in"] == [6, 4]
    loaded = OTMClustering.load(path)
    for m, X in enumerate(Xs):
        np.testing.assert_array_equal(loaded.predict(X, view=m), est.predict(X, view=m))
        np.testing.assert_allclose(loaded.transform(Xs)[m], est.transform(Xs)[m])
    with pytest.raises(FileExistsError):
        est.save(path)


def test_corrupt_or_missing_checkpoint(tmp_path, fitted):
    est, _, _ = fitted
    path = est.save(tmp_path / "ckpt")
    (path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        OTMClustering.load(path)
    with pytest.raises(FileNotFoundError, match="not an otmix checkpoint"):
        OTMClustering.load(tmp_path / "nowhere")


def test_checkpoint_loading_refuses_pickled_code(tmp_path, fitted):
    est, _, _ = fitted
    path = est.save(tmp_path / "ckpt")
    torch.save({"model": est.model_.state_dict(), "cluster_centers": object()}, path / "model.pt")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        OTMClustering.load(path)  # weights_only=True rejects arbitrary objects


def test_bad_input(fitted):
    est, Xs, _ = fitted
    with pytest.raises(ValueError, match="not fitted"):
        OTMClustering(n_clusters=3).predict(Xs[0])
    with pytest.raises(ValueError, match="features"):
        est.predict(Xs[1], view=0)
    with pytest.raises(ValueError, match="view must lie"):
        est.predict(Xs[0], view=2)
    bad = Xs[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad, view=0)
    with pytest.raises(ValueError, match="NaN"):
        OTMClustering(n_clusters=3, epochs=1).fit([bad, Xs[1]])
    with pytest.raises(ValueError, match="fewer than n_clusters"):
        OTMClustering(n_clusters=3, epochs=1).fit([Xs[0][:2], Xs[1]])
    with pytest.raises(ValueError, match="readout"):
        OTMClustering(n_clusters=3, readout="spectral").fit(Xs)
    with pytest.raises(ValueError, match="alpha"):
        OTMClustering(n_clusters=3, alpha=2.0).fit(Xs)
    with pytest.raises(ValueError, match="list"):
        OTMClustering(n_clusters=3).fit(Xs[0])


def test_sklearn_conventions():
    est = OTMClustering(n_clusters=4, alpha=0.3)
    assert est.get_params()["alpha"] == 0.3
    assert est.set_params(alpha=0.7).alpha == 0.7
    assert clone(est).get_params() == est.get_params()
    Xs, _ = make_blob_views(seed=5)
    small = OTMClustering(n_clusters=3, random_state=0, **{**FAST, "epochs": 1})
    assert small.fit(Xs) is small


def test_fit_checks_before_training():
    Xs, _ = make_blob_views(seed=5)
    est = OTMClustering(n_clusters=3, random_state=np.random.default_rng(0), epochs=1)
    with pytest.raises(ValueError, match="random_state"):
        est.fit(Xs)
    with pytest.raises(ValueError, match="readout_points"):
        OTMClustering(n_clusters=3, readout_points=2, epochs=1).fit(Xs)
    assert not hasattr(est, "model_")  # nothing fitted half-way


def test_checkpoint_with_numpy_seed(tmp_path):
    Xs, _ = make_blob_views(seed=5)
    est = OTMClustering(n_clusters=3, random_state=np.int64(3), **{**FAST, "epochs": 1}).fit(Xs)
    loaded = OTMClustering.load(est.save(tmp_path / "ckpt"))
    assert loaded.random_state == 3
    with pytest.raises(FileNotFoundError, match="not an otmix checkpoint"):
        OTMClustering.load(tmp_path / "ckpt" / "config.json")
