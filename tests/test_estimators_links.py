"""OTMClustering with links: the fitted report (alignability, stability, plans), read-outs, predict, checkpoints."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from test_alignment import strong_and_weak

from otmix import OTMClustering
from otmix.metrics import acc, nmi
from otmix.models.wae import MWAE
from otmix.train.cluster import BatchSampler

FAST = dict(batch_size=64, epochs=2, patience=None)


@pytest.fixture(scope="module")
def linked_fit():
    Xs, ys, links, perms = strong_and_weak(n=240)
    est = OTMClustering(n_clusters=4, random_state=0, **FAST).fit(Xs, links=links)
    return est, Xs, ys, links


def test_linked_fit_reports_what_the_views_support(linked_fit):
    est, Xs, ys, links = linked_fit
    assert est.training_ == {"mixing": True, "links": "given", "n_links": len(links)}
    assert est.readout_ == "matched"  # the noisy pair is not alignable row by row
    assert [a["views"] for a in est.alignability_] == [[0, 1]]
    assert 0.0 <= est.alignability_[0]["score"] <= 1.0
    assert est.stability_[0] > est.stability_[1]
    plan = est.pair_plans_[(0, 1)]
    assert plan.shape == (240, 240) and plan.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(plan[links[:, 0], links[:, 1]], 1 / 240)
    assert est.transfer_weights_[0] == [0.0, 0.0]


def test_the_strong_view_keeps_its_own_clusters_and_the_weak_view_gains(linked_fit):
    est, Xs, ys, _ = linked_fit
    alone = [KMeans(4, n_init=10, random_state=0).fit_predict(X) for X in Xs]
    assert nmi(est.labels_[0], alone[0]) == pytest.approx(1.0)
    assert nmi(ys[1], est.labels_[1]) >= nmi(ys[1], alone[1]) - 0.01
    assert acc(np.concatenate(ys), np.concatenate(est.labels_)) >= 0.95 * np.mean(
        [acc(y, lab) for y, lab in zip(ys, est.labels_)])


def test_predict_from_one_view_with_the_matched_read_out(linked_fit, tmp_path):
    est, Xs, _, _ = linked_fit
    # the most stable view took nothing from the other: its clusters are a K-means fixed point
    np.testing.assert_array_equal(est.predict(Xs[0], view=0), est.labels_[0])
    agree = np.mean(est.predict(Xs[1], view=1) == est.labels_[1])
    assert agree >= 0.8
    est.save(tmp_path / "ckpt")
    back = OTMClustering.load(tmp_path / "ckpt")
    assert back.readout_ == "matched"
    for m, X in enumerate(Xs):
        np.testing.assert_array_equal(back.predict(X, view=m), est.predict(X, view=m))


def test_every_read_out_can_be_chosen(linked_fit):
    est, Xs, _, links = linked_fit
    for readout, name in (("fused", "fused"), ("kmeans", "fused"), ("gw", "gw"), ("matched", "matched")):
        other = OTMClustering(n_clusters=4, random_state=0, readout=readout, **FAST).fit(Xs, links=links)
        assert other.readout_ == name
        assert all(np.array_equal(a, b) for a, b in zip(other.labels_, other.labels_by_readout_[name]))


def test_bad_links_fail_before_any_work():
    Xs, _, links, _ = strong_and_weak(n=60)
    est = OTMClustering(n_clusters=4, **FAST)
    with pytest.raises(ValueError, match="out of range"):
        est.fit(Xs, links=np.array([[0, 60]]))
    with pytest.raises(ValueError, match="must have 2 columns"):
        est.fit(Xs, links=np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="linked more than once"):
        est.fit(Xs, links=np.array([[0, 1], [2, 1]]))
    assert not hasattr(est, "labels_")


def test_linear_encoders_start_at_the_pca_and_take_narrow_views():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 12)) @ rng.normal(size=(12, 12))
    narrow = rng.normal(size=(50, 3))
    tensors = [torch.as_tensor(A, dtype=torch.float32) for A in (X, narrow)]
    model = MWAE([12, 3], latent_dim=5, encoder="linear")
    model.init_from_data(tensors)
    model.calibrate_codes(tensors)
    from sklearn.decomposition import PCA

    with torch.no_grad():
        Z = model.encode(0, tensors[0]).double().numpy()
        rec = model.decode(0, model.encode(0, tensors[0])).double().numpy()
        Zn = model.encode(1, tensors[1])
        rec_narrow = model.decode(1, Zn).double().numpy()
    pca = PCA(5).fit(X)
    np.testing.assert_allclose(rec, pca.inverse_transform(pca.transform(X)), atol=1e-3 * np.abs(X).max())
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(Z * Z, axis=1))), 1.0, atol=1e-5)
    # distances are the PCA scores' up to one scale: the view's geometry is kept
    S = pca.transform(X)
    ratio = np.linalg.norm(Z[1:] - Z[0], axis=1) / np.linalg.norm(S[1:] - S[0], axis=1)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    np.testing.assert_allclose(rec_narrow, narrow, atol=1e-4)  # 3 features in 5 dimensions: exact


def test_batch_sampler_puts_the_linked_entities_first():
    rng = np.random.default_rng(0)
    links = np.array([[0, 5, -1], [3, 2, 7], [9, -1, 1], [4, 4, 4]])
    sampler = BatchSampler([20, 20, 20], batch_size=8, rng=rng, links=links, link_share=0.5)
    rows, table = sampler.draw()
    assert [len(r) for r in rows] == [8, 8, 8]
    assert table.shape[1] == 3 and len(table) >= 2
    for entity in table:  # every row of the batch table points at one linked entity in every view
        present = [(m, entity[m]) for m in range(3) if entity[m] >= 0]
        entities = {tuple(links[(links[:, m] == rows[m][pos])][0]) for m, pos in present}
        assert len(entities) == 1
    for m in range(3):
        n_linked = int((table[:, m] >= 0).sum())
        assert not np.isin(rows[m][n_linked:], links[:, m]).any()  # the rest are not linked rows
