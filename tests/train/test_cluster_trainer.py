import copy

import numpy as np
import pytest
import torch

from otmix.models import MWAE
from otmix.train.cluster import ClusterConfig, step_losses, steps_per_epoch, train_clustering
from otmix.train.index_stream import IndexStream


def test_index_stream_visits_every_row_once_per_pass():
    stream = IndexStream(10, np.random.default_rng(0))
    first, second = stream.take(10), stream.take(10)
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
    chunks = np.concatenate([stream.take(3) for _ in range(10)])  # 30 = three passes across chunk borders
    assert all(sorted(chunks[i:i + 10]) == list(range(10)) for i in (0, 10, 20))


@pytest.mark.parametrize("field,value", [
    ("alpha", 1.5), ("structure", "cosine"), ("mix", "dirichlet"), ("lr", 0.0), ("w_otm", -1.0),
    ("batch_size", 0), ("patience", 0), ("w_clu", float("nan")),
])
def test_config_rejects_bad_values(field, value):
    config = ClusterConfig(n_clusters=3)
    setattr(config, field, value)
    with pytest.raises(ValueError, match=field):
        config.validate()


def test_mixing_loss_vanishes_for_two_identical_views():
    # Same data, same encoder weights: the barycenter matches both views identically, every mixed
    # code is pushed back onto the sample's own code, so ||Z_m - Z̃_m||² is 0 up to solver tolerance.
    torch.manual_seed(0)
    X = torch.randn(32, 5)
    model = MWAE([5, 5], latent_dim=3, hidden_dim=8)
    model.views[1].load_state_dict(copy.deepcopy(model.views[0].state_dict()))
    config = ClusterConfig(n_clusters=2, w_clu=0.0, max_outer=10)
    losses = step_losses(model, [X, X], config, np.random.default_rng(0))
    assert float(losses["otm"].detach()) < 1e-8
    assert float(losses["rec"].detach()) > 0.1


def test_mixing_loss_sends_gradients_to_every_encoder(blob_views):
    Xs, _ = blob_views
    torch.manual_seed(0)
    model = MWAE([X.shape[1] for X in Xs], latent_dim=3, hidden_dim=8)
    batches = [torch.as_tensor(X[:40], dtype=torch.float32) for X in Xs]
    config = ClusterConfig(n_clusters=3, w_rec=0.0, w_clu=0.0)
    step_losses(model, batches, config, np.random.default_rng(0))["total"].backward()
    for view in model.views:
        grad = view.encoder[0].weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0
        decoder_grad = view.decoder[0].weight.grad  # reconstruction weight 0: decoders untouched
        assert decoder_grad is None or float(decoder_grad.abs().sum()) == 0.0


def test_clustering_loss_is_positive_and_differentiable(blob_views):
    Xs, _ = blob_views
    torch.manual_seed(0)
    model = MWAE([X.shape[1] for X in Xs], latent_dim=3, hidden_dim=8)
    batches = [torch.as_tensor(X[:40], dtype=torch.float32) for X in Xs]
    config = ClusterConfig(n_clusters=3, w_rec=0.0, w_otm=0.0, w_clu=1.0)
    losses = step_losses(model, batches, config, np.random.default_rng(0))
    assert float(losses["clu"].detach()) > 0 and float(losses["otm"].detach()) == 0.0
    losses["total"].backward()
    assert float(model.views[0].encoder[0].weight.grad.abs().sum()) > 0


def test_training_lowers_the_loss_and_is_deterministic(blob_views):
    Xs, _ = blob_views
    config = ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=16, batch_size=32, epochs=8, lr=3e-3,
                           patience=None, random_state=3)
    model_a, hist_a = train_clustering(Xs, config)
    model_b, hist_b = train_clustering(Xs, config)
    assert len(hist_a["total"]) == 8
    assert hist_a["total"][-1] < hist_a["total"][0]
    assert hist_a["total"] == hist_b["total"]
    for (name, a), (_, b) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert torch.equal(a, b), name
    assert not model_a.training  # returned in eval mode


def test_early_stopping_restores_the_best_epoch(blob_views):
    Xs, _ = blob_views
    # A min_delta no epoch can beat: the first epoch stays best, training stops after `patience` more.
    config = ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=8, batch_size=32, epochs=50, patience=2,
                           min_delta=10.0, w_otm=0.0, w_clu=0.0, encoder="mlp", random_state=0)
    model, history = train_clustering(Xs, config)
    assert len(history["total"]) == 3
    assert history["best_epoch"] == [0] and history["stopped_early"] == [True]
    config.epochs, config.patience = 1, None
    first_epoch_only, _ = train_clustering(Xs, config)
    for (name, a), (_, b) in zip(model.state_dict().items(), first_epoch_only.state_dict().items()):
        assert torch.equal(a, b), name  # the weights of epoch 0 came back, not those of epoch 2


def test_a_linear_encoder_never_ends_worse_than_its_pca_start(blob_views):
    from otmix.models.wae import MWAE

    Xs, _ = blob_views
    # no epoch can beat the start by min_delta: the PCA start comes back, weights and all
    config = ClusterConfig(n_clusters=3, latent_dim=3, batch_size=32, epochs=4, patience=None, min_delta=10.0,
                           random_state=0)
    model, history = train_clustering(Xs, config)
    assert history["best_epoch"] == [-1] and len(history["start_total"]) == 1
    start = MWAE([X.shape[1] for X in Xs], 3, encoder="linear")
    start.init_from_data([torch.as_tensor(X, dtype=torch.float32) for X in Xs])
    for (name, a), (_, b) in zip(model.state_dict().items(), start.state_dict().items()):
        if not name.endswith("scale"):  # the code scale is recalibrated on the full views
            assert torch.equal(a, b), name
    # the PCA start is optimal for a linear reconstruction: with the reconstruction loss alone it is kept
    config.min_delta, config.w_otm, config.w_clu = 0.0, 0.0, 0.0
    _, history = train_clustering(Xs, config)
    best = history["best_epoch"][0]
    kept = history["start_total"][0] if best == -1 else history["total"][best]
    assert kept <= min(history["total"]) + 1e-12 and kept <= history["start_total"][0]


@pytest.mark.parametrize("encoder", ["mlp", "linear"])
def test_codes_after_training_have_the_training_scale(blob_views, encoder):
    # Eval mode must use the statistics of the full views, not lagging running averages:
    # batch-normalised MLP codes have unit variance per dimension, linear codes unit RMS norm.
    Xs, _ = blob_views
    config = ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=16, batch_size=64, epochs=3, patience=None,
                           encoder=encoder, random_state=0)
    model, _ = train_clustering(Xs, config)
    with torch.no_grad():
        for m, X in enumerate(Xs):
            Z = model.encode(m, torch.as_tensor(X, dtype=torch.float32))
            if encoder == "mlp":
                np.testing.assert_allclose(Z.mean(0), 0.0, atol=1e-4)
                np.testing.assert_allclose(Z.std(0), 1.0, atol=0.02)
            else:
                assert float(torch.sqrt(torch.mean(torch.sum(Z * Z, dim=1)))) == pytest.approx(1.0, abs=1e-5)


def test_training_leaves_the_global_rng_alone(blob_views):
    Xs, _ = blob_views
    torch.manual_seed(123)
    before = torch.get_rng_state()
    np_before = np.random.get_state()[1].copy()
    train_clustering(Xs, ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=8, epochs=1, random_state=0))
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(np_before, np.random.get_state()[1])


def test_batch_size_checks():
    with pytest.raises(ValueError, match="batch_size"):
        ClusterConfig(n_clusters=3, batch_size=1).validate()
    with pytest.raises(ValueError, match="batch_size=2 is smaller than n_clusters=3"):
        ClusterConfig(n_clusters=3, batch_size=2).validate()
    ClusterConfig(n_clusters=3, batch_size=2, w_clu=0.0).validate()
    with pytest.raises(ValueError, match="warmup_epochs"):
        ClusterConfig(n_clusters=3, epochs=5, warmup_epochs=5).validate()


def test_training_rejects_a_model_with_other_views(blob_views):
    Xs, _ = blob_views
    with pytest.raises(ValueError, match="3 views"):
        train_clustering(Xs, ClusterConfig(n_clusters=3, epochs=1), model=MWAE([6, 4, 2]))


def test_detached_targets_change_only_who_is_pulled(blob_views):
    # Detached: each view is pulled towards the mix (a constant); attached: the mix is pulled too.
    Xs, _ = blob_views
    grads = {}
    for detach in (True, False):
        torch.manual_seed(0)
        model = MWAE([X.shape[1] for X in Xs], latent_dim=3, hidden_dim=8)
        batches = [torch.as_tensor(X[:40], dtype=torch.float32) for X in Xs]
        config = ClusterConfig(n_clusters=3, w_rec=0.0, w_clu=0.0, w_otm=1.0, detach_targets=detach)
        losses = step_losses(model, batches, config, np.random.default_rng(0))
        losses["total"].backward()
        grads[detach] = (float(losses["otm"].detach()), model.views[0].encoder[0].weight.grad.clone())
    assert grads[True][0] == pytest.approx(grads[False][0])  # same plans, masks and value
    assert float(grads[True][1].abs().sum()) > 0
    assert not torch.allclose(grads[True][1], grads[False][1])


def test_warmup_epochs_train_reconstruction_only(blob_views):
    Xs, _ = blob_views
    config = ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=8, batch_size=32, epochs=4, warmup_epochs=2,
                           patience=None, random_state=0)
    _, history = train_clustering(Xs, config)
    assert history["otm"][:2] == [0.0, 0.0] and history["clu"][:2] == [0.0, 0.0]
    assert min(history["otm"][2:]) > 0 and min(history["clu"][2:]) > 0


def test_step_hook_sees_every_step_of_every_epoch(blob_views):
    Xs, _ = blob_views
    config = ClusterConfig(n_clusters=3, latent_dim=3, hidden_dim=16, batch_size=32, epochs=3, patience=None,
                           random_state=0)
    seen = []
    train_clustering(Xs, config, on_step=lambda epoch, step: seen.append((epoch, step)))
    steps = steps_per_epoch([X.shape[0] for X in Xs], 32)
    assert steps == max(X.shape[0] for X in Xs) // 32
    assert seen == [(epoch, step) for epoch in range(3) for step in range(1, steps + 1)]
    assert steps_per_epoch([10, 5], 64) == 1  # a view smaller than a batch still trains one step


def test_the_pca_start_is_scored_on_at_most_start_loss_steps_batches(blob_views, monkeypatch):
    import otmix.train.cluster as cluster

    Xs, _ = blob_views
    config = ClusterConfig(n_clusters=3, latent_dim=3, batch_size=16, epochs=1, patience=None, random_state=0)
    seen, scored = [], cluster._start_loss

    def spy(model, tensors, sampler, steps, *args):
        seen.append(steps)
        return scored(model, tensors, sampler, steps, *args)

    monkeypatch.setattr(cluster, "_start_loss", spy)
    steps = steps_per_epoch([X.shape[0] for X in Xs], 16)
    train_clustering(Xs, config)  # a small view is scored on a whole epoch of batches
    monkeypatch.setattr(cluster, "START_LOSS_STEPS", 2)
    _, history = train_clustering(Xs, config)  # a large one on START_LOSS_STEPS of them
    assert steps > 2 and seen == [steps, 2]
    assert np.isfinite(history["start_total"][0])
