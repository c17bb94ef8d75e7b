import numpy as np
import pytest
import torch

from otmix.train.supervised import (
    SupervisedConfig,
    add_noise,
    evaluate,
    noise_curve,
    single_modality_scores,
    step_loss,
    train_supervised,
)


def _data(n=240, seed=0, n_classes=3):
    """Modality 0 carries the class clearly, modality 1 only faintly; rows aligned."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    centres0, centres1 = rng.normal(size=(n_classes, 5)) * 3.0, rng.normal(size=(n_classes, 4)) * 0.4
    X0 = centres0[y] + rng.normal(size=(n, 5))
    X1 = centres1[y] + rng.normal(size=(n, 4))
    return [X0, X1], y


FAST = dict(latent_dim=8, hidden_dim=32, epochs=12, batch_size=32, lr=5e-3, n_outputs=3)


def _split(Xs, y, k=180):
    return [X[:k] for X in Xs], y[:k], [X[k:] for X in Xs], y[k:]


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_training_learns_and_keeps_the_best_validation_epoch(beta):
    Xs, y = _data()
    X_tr, y_tr, X_va, y_va = _split(Xs, y)
    model, history = train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(otm_weight=beta, random_state=0,
                                                                                 **FAST))
    assert max(history["val"]) >= 0.9
    assert evaluate(model, X_va, y_va, "classification") == pytest.approx(max(history["val"]))
    assert history["best_epoch"] == [int(np.argmax(history["val"]))]
    assert (min(history["otm"]) > 0) == (beta > 0)


def test_same_seed_same_run():
    Xs, y = _data(seed=1)
    X_tr, y_tr, X_va, y_va = _split(Xs, y)
    config = SupervisedConfig(otm_weight=1.0, random_state=3, **{**FAST, "epochs": 3})
    _, a = train_supervised(X_tr, y_tr, X_va, y_va, config)
    _, b = train_supervised(X_tr, y_tr, X_va, y_va, config)
    assert a["total"] == b["total"] and a["val"] == b["val"]


@pytest.mark.parametrize("fusion", ["late", "tf", "lrtf", "mfm", "mi"])
def test_every_fusion_trains_with_the_mixer(fusion):
    Xs, y = _data(seed=2)
    X_tr, y_tr, X_va, y_va = _split(Xs, y)
    config = SupervisedConfig(fusion=fusion, otm_weight=1.0, random_state=0, **{**FAST, "latent_dim": 4, "epochs": 2})
    model, history = train_supervised(X_tr, y_tr, X_va, y_va, config)
    assert len(history["val"]) == 2 and all(np.isfinite(history["total"]))


def test_mixed_term_sends_gradients_to_every_encoder():
    Xs, y = _data(seed=3)
    from otmix.train.supervised import SupervisedModel

    config = SupervisedConfig(otm_weight=1.0, **FAST)
    torch.manual_seed(0)
    model = SupervisedModel([5, 4], config)
    Xb = [torch.as_tensor(X[:32], dtype=torch.float32) for X in Xs]
    losses = step_loss(model, Xb, torch.as_tensor(y[:32]), config, np.random.default_rng(0))
    losses["otm"].backward()
    for encoder in model.fusion.encoders:
        first = next(p for p in encoder.parameters() if p.dim() == 2)
        assert float(first.grad.abs().sum()) > 0


def test_regression_path_reports_mae():
    rng = np.random.default_rng(0)
    X0, X1 = rng.normal(size=(200, 3)), rng.normal(size=(200, 2))
    y = 3.0 * X0[:, 0] - 2.0 * X1[:, 1] + 0.1 * rng.normal(size=200)
    config = SupervisedConfig(task="regression", otm_weight=0.5, random_state=0,
                              **{**FAST, "n_outputs": 1, "epochs": 30})
    model, history = train_supervised([X0[:150], X1[:150]], y[:150], [X0[150:], X1[150:]], y[150:], config)
    assert min(history["val"]) < 0.5 * float(np.abs(y[150:] - y[:150].mean()).mean())  # beats the mean predictor


def test_robustness_readouts():
    Xs, y = _data(seed=4)
    X_tr, y_tr, X_te, y_te = _split(Xs, y)
    model, _ = train_supervised(X_tr, y_tr, X_te, y_te, SupervisedConfig(random_state=0, **FAST))
    alone = single_modality_scores(model, X_tr, y_tr, X_te, y_te, "classification")
    assert alone[0] >= 0.85 and alone[0] > alone[1]  # the informative modality alone
    curves = noise_curve(model, X_te, y_te, "classification", ratios=(0.0, 0.5, 5.0))
    assert curves[0][0] == pytest.approx(evaluate(model, X_te, y_te, "classification"))
    assert curves[0][2] < curves[0][0]  # heavy noise on the informative modality hurts


def test_noise_has_the_requested_energy():
    X = np.random.default_rng(0).normal(loc=2.0, size=(2000, 50))
    noisy = add_noise(X, 0.3, np.random.default_rng(1))
    assert np.mean((noisy - X) ** 2) / np.mean(X**2) == pytest.approx(0.3, rel=0.02)
    np.testing.assert_array_equal(add_noise(X, 0.0, np.random.default_rng(1)), X)
    with pytest.raises(ValueError, match="noise ratio"):
        add_noise(X, -0.1, np.random.default_rng(1))


def test_bad_config_and_data():
    with pytest.raises(ValueError, match="fusion must be one of 'late'.*got 'attention'"):
        SupervisedConfig(fusion="attention").validate()
    with pytest.raises(ValueError, match="otm_weight"):
        SupervisedConfig(otm_weight=-1.0).validate()
    Xs, y = _data()
    with pytest.raises(ValueError, match="disagree in length"):
        train_supervised([Xs[0], Xs[1][:-1]], y, Xs, y, SupervisedConfig(**FAST))


def test_unaligned_training_aligns_through_the_barycenter():
    # Rows of the two modalities are permuted independently; validation stays aligned.
    # With OTM the fusion sees OT-aligned codes; without, it sees rows paired by position.
    Xs, y = _data(n=300, seed=5)
    X_tr, y_tr, X_va, y_va = _split(Xs, y, k=240)
    scores = {}
    for beta in (0.0, 1.0):
        config = SupervisedConfig(otm_weight=beta, unaligned=True, random_state=0, **{**FAST, "epochs": 15})
        model, history = train_supervised(X_tr, y_tr, X_va, y_va, config)
        scores[beta] = max(history["val"])
        assert (min(history["otm"]) > 0) == (beta > 0)
    assert scores[1.0] >= 0.85  # modality 0 alone separates the classes; the aligned fusion finds it


def test_beta_weighs_both_head_terms_of_eq7():
    from otmix.train.supervised import SupervisedModel

    Xs, y = _data(seed=6)
    config = SupervisedConfig(otm_weight=0.5, **FAST)
    torch.manual_seed(0)
    model = SupervisedModel([5, 4], config)
    Xb = [torch.as_tensor(X[:32], dtype=torch.float32) for X in Xs]
    losses = {k: v.detach() for k, v in step_loss(model, Xb, torch.as_tensor(y[:32]), config,
                                                   np.random.default_rng(0)).items()}
    expected = losses["fusion"] + 0.5 * (losses["heads"] + losses["otm"])
    assert float(losses["total"]) == pytest.approx(float(expected), rel=1e-6)


def test_both_arms_draw_the_same_batches(monkeypatch):
    import otmix.train.supervised as sup

    seen = {}
    original = sup.step_loss

    def spy(model, Xb, yb, config, rng):
        seen.setdefault(config.otm_weight, []).append(yb.clone())
        return original(model, Xb, yb, config, rng)

    monkeypatch.setattr(sup, "step_loss", spy)
    Xs, y = _data(seed=7)
    X_tr, y_tr, X_va, y_va = _split(Xs, y)
    for beta in (0.0, 1.0):
        train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(otm_weight=beta, random_state=2,
                                                                  **{**FAST, "epochs": 2}))
    assert len(seen[0.0]) == len(seen[1.0])
    assert all(torch.equal(a, b) for a, b in zip(seen[0.0], seen[1.0]))


def test_unaligned_batches_keep_each_rows_label(monkeypatch):
    import otmix.train.supervised as sup

    Xs, y = _data(n=200, seed=8)
    Xs = [np.column_stack([X, y]) for X in Xs]  # last column = the row's true label
    original = sup.step_loss_unaligned
    calls = []

    def spy(model, Xb, yb, config, rng, anchor=0):
        for X, labels in zip(Xb, yb):
            assert torch.equal(X[:, -1].long(), labels)
        calls.append([X[:, -1].clone() for X in Xb])
        return original(model, Xb, yb, config, rng, anchor)

    monkeypatch.setattr(sup, "step_loss_unaligned", spy)
    X_tr, y_tr, X_va, y_va = _split(Xs, y, k=160)
    train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(unaligned=True, otm_weight=1.0, random_state=0,
                                                              **{**FAST, "epochs": 1}))
    assert calls and any(not torch.equal(c[0], c[1]) for c in calls)  # the modalities' rows really differ


def test_training_leaves_the_global_torch_rng_alone():
    Xs, y = _data(seed=9)
    X_tr, y_tr, X_va, y_va = _split(Xs, y)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(random_state=0, **{**FAST, "epochs": 1}))
    assert torch.equal(before, torch.get_rng_state())


def test_mix_term_ablation_keeps_only_the_plain_heads():
    from otmix.train.supervised import SupervisedModel

    Xs, y = _data(seed=10)
    config = SupervisedConfig(otm_weight=1.0, mix_term=False, **FAST)
    torch.manual_seed(0)
    model = SupervisedModel([5, 4], config)
    Xb = [torch.as_tensor(X[:32], dtype=torch.float32) for X in Xs]
    losses = step_loss(model, Xb, torch.as_tensor(y[:32]), config, np.random.default_rng(0))
    assert float(losses["otm"].detach()) == 0.0 and float(losses["heads"].detach()) > 0
