"""Label-aware plans in supervised training: no mass across classes, class-matched batches, bad input."""

import numpy as np
import pytest
import torch

from otmix.ot import fgw_barycenter
from otmix.train.batch_plans import batch_plans
from otmix.train.supervised import (
    SupervisedConfig,
    SupervisedModel,
    class_matched_orders,
    cross_class_share,
    step_loss_unaligned,
    train_supervised,
)

FAST = dict(latent_dim=6, hidden_dim=16, epochs=2, batch_size=30, lr=5e-3, n_outputs=3)


def _data(n=150, seed=0, n_classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    X0 = rng.normal(size=(n_classes, 5))[y] * 2.0 + rng.normal(size=(n, 5))
    X1 = rng.normal(size=(n_classes, 4))[y] * 0.5 + rng.normal(size=(n, 4))
    return [X0, X1], y


def _codes(seed=0, n=(24, 24), d=3):
    rng = np.random.default_rng(seed)
    return [torch.as_tensor(rng.normal(size=(k, d)), dtype=torch.float32) for k in n]


def _coupling(T_a, T_k):
    """The anchor-row x k-row coupling the unaligned step carries codes through."""
    T_a, T_k = T_a.double(), T_k.double()
    return T_a.T @ (T_k / T_k.sum(dim=1, keepdim=True))


def test_batch_plans_without_labels_is_the_old_call_bit_for_bit():
    Zs = _codes(1)
    a = batch_plans(Zs, 0.5, 3, np.random.default_rng(7))
    b = batch_plans(Zs, 0.5, 3, np.random.default_rng(7), labels=None)
    old = fgw_barycenter([Z.double().numpy() for Z in Zs], n_points=24, alpha=0.5, structure="euclidean",
                         init="random", max_outer=3, tol=1e-5, random_state=np.random.default_rng(7), n_jobs=1,
                         links=None, features=None)
    for Ta, Tb, To in zip(a, b, old.plans):
        assert torch.equal(Ta, Tb)
        assert torch.equal(Ta, torch.as_tensor(To, dtype=torch.float32))


@pytest.mark.parametrize("seed", range(3))
def test_label_aware_plans_put_no_mass_across_known_labels(seed):
    rng = np.random.default_rng(seed)
    y0 = rng.integers(0, 3, size=24)
    y1 = rng.permutation(y0)  # same class counts, other rows
    Zs = _codes(seed)
    plain = batch_plans(Zs, 0.5, 3, np.random.default_rng(seed))
    aware = batch_plans(Zs, 0.5, 3, np.random.default_rng(seed), labels=[torch.as_tensor(y0), y1])
    for T in aware:
        np.testing.assert_allclose(T.sum(dim=1).numpy(), 1 / 24, atol=1e-6)  # still a plan of μ_B
    differ = torch.as_tensor(y0[:, None] != y1[None, :])
    assert float(_coupling(aware[0], aware[1])[differ].sum()) == pytest.approx(0.0, abs=1e-12)
    assert cross_class_share(aware, [torch.as_tensor(y0), torch.as_tensor(y1)], anchor=0) == pytest.approx(0, abs=1e-12)
    # the same codes without labels do pair rows of different classes (the test can fail)
    assert cross_class_share(plain, [torch.as_tensor(y0), torch.as_tensor(y1)], anchor=0) > 0.2


def test_class_matched_orders_give_every_modality_the_same_class_counts():
    rng = np.random.default_rng(0)
    y0 = rng.integers(0, 4, size=103)
    ys = [y0, rng.permutation(y0), rng.permutation(y0)]
    orders = class_matched_orders(ys, 20, np.random.default_rng(1))
    same_position = []
    for s in range(103 // 20):
        counts = [np.bincount(y[o[s * 20:(s + 1) * 20]], minlength=4) for y, o in zip(ys, orders)]
        assert all(np.array_equal(c, counts[0]) for c in counts)
        same_position.append(np.mean(ys[0][orders[0][s * 20:(s + 1) * 20]] == ys[1][orders[1][s * 20:(s + 1) * 20]]))
    for o in orders:
        assert np.array_equal(np.sort(o), np.arange(103))  # one epoch: every row once
    assert np.mean(same_position) < 0.6  # rows at one position are not paired by class
    again = class_matched_orders(ys, 20, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(orders, again))
    with pytest.raises(ValueError, match="same class counts"):
        class_matched_orders([y0, np.zeros_like(y0)], 20, np.random.default_rng(1))


def test_every_unaligned_training_step_keeps_mass_within_classes(monkeypatch):
    import otmix.train.supervised as sup

    steps = []
    original = sup.batch_plans

    def spy(Zs, *args, labels=None, **kwargs):
        plans = original(Zs, *args, labels=labels, **kwargs)
        steps.append((plans, labels))
        return plans

    monkeypatch.setattr(sup, "batch_plans", spy)
    Xs, y = _data()
    X_tr, y_tr, X_va, y_va = [X[:120] for X in Xs], y[:120], [X[120:] for X in Xs], y[120:]
    config = SupervisedConfig(otm_weight=1.0, unaligned=True, random_state=0, **FAST)
    assert config.uses_labels  # the default for unaligned classification
    _, history = train_supervised(X_tr, y_tr, X_va, y_va, config)
    assert len(steps) == 2 * (120 // 30)
    for plans, labels in steps:
        assert labels is not None and len(labels) == 2
        differ = labels[0][:, None] != labels[1][None, :]
        for anchor, other in ((0, 1), (1, 0)):
            assert float(_coupling(plans[anchor], plans[other])[differ if anchor == 0 else differ.T].sum()) < 1e-9
    assert history["cross_class"] == [pytest.approx(0.0, abs=1e-9)] * 2
    steps.clear()
    _, history = train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(
        otm_weight=1.0, unaligned=True, label_aware=False, random_state=0, **FAST))
    assert all(labels is None for _, labels in steps)
    assert min(history["cross_class"]) > 0.1  # without labels the plans do cross classes


def test_label_aware_off_is_the_old_unaligned_training():
    """label_aware=False: random per-modality batches and plans without labels, as before the flag."""
    Xs, y = _data(seed=1)
    X_tr, y_tr, X_va, y_va = [X[:120] for X in Xs], y[:120], [X[120:] for X in Xs], y[120:]
    off = SupervisedConfig(otm_weight=1.0, unaligned=True, label_aware=False, random_state=3, **FAST)
    on = SupervisedConfig(otm_weight=1.0, unaligned=True, random_state=3, **FAST)
    _, a = train_supervised(X_tr, y_tr, X_va, y_va, off)
    _, b = train_supervised(X_tr, y_tr, X_va, y_va, on)
    assert a["total"] != b["total"]
    assert off.to_dict()["label_aware"] is False and on.to_dict()["label_aware"] is True


def test_defaults_and_config_checks():
    assert SupervisedConfig(unaligned=True).uses_labels
    assert not SupervisedConfig().uses_labels  # aligned rows need no labels to be paired
    assert not SupervisedConfig(unaligned=True, task="regression", n_outputs=1).uses_labels
    assert SupervisedConfig(label_aware=True).uses_labels
    with pytest.raises(ValueError, match="label_aware needs class labels"):
        SupervisedConfig(task="regression", n_outputs=1, label_aware=True).validate()
    with pytest.raises(ValueError, match="label_aware"):
        SupervisedConfig(label_aware="yes").validate()


def test_a_modality_without_labels_is_refused_in_one_line():
    config = SupervisedConfig(otm_weight=1.0, unaligned=True, **FAST)
    torch.manual_seed(0)
    model = SupervisedModel([5, 4], config)
    Xs, y = _data()
    Xb = [torch.as_tensor(X[:30], dtype=torch.float32) for X in Xs]
    with pytest.raises(ValueError, match="modality 1 has none") as info:
        step_loss_unaligned(model, Xb, [torch.as_tensor(y[:30]), None], config, np.random.default_rng(0))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="training labels are missing"):
        train_supervised([X[:120] for X in Xs], None, [X[120:] for X in Xs], y[120:], config)


def test_the_job_refuses_label_aware_regression_before_training(tmp_path):
    from otmix.data.supervised import load_supervised
    from otmix.jobs.supervised import run_supervised

    try:
        data = load_supervised("diabetes2", random_state=0)
    except FileNotFoundError:  # pragma: no cover - the data set is bundled
        pytest.skip("diabetes2 not available")
    calls = []
    with pytest.raises(ValueError, match="label-aware plans need class labels"):
        run_supervised(data, "late", 1.0, 2, 0, {"label_aware": True, "unaligned": True},
                       on_fold=lambda *a: calls.append(a))
    assert calls == []
    with pytest.raises(ValueError, match="arms must be"):
        run_supervised(data, "late", 1.0, 2, 0, arms=["with_otm", "with_otm"])


def test_aligned_step_reports_what_the_mixer_pairs_and_label_aware_keeps_classes():
    from otmix.train.supervised import step_loss

    Xs, y = _data(seed=2)
    Xb = [torch.as_tensor(X[:30], dtype=torch.float32) for X in Xs]
    yb = torch.as_tensor(y[:30])
    out = {}
    for aware in (False, True):
        config = SupervisedConfig(otm_weight=1.0, label_aware=aware, **FAST)
        torch.manual_seed(0)
        model = SupervisedModel([5, 4], config)
        out[aware] = step_loss(model, Xb, yb, config, np.random.default_rng(0))
        assert 0.0 <= float(out[aware]["own_row"]) <= 1.0
    assert float(out[True]["cross_class"]) == pytest.approx(0.0, abs=1e-9)
    assert float(out[False]["cross_class"]) > 0.05  # untrained codes: the plain plans cross classes
    config = SupervisedConfig(otm_weight=1.0, mix_term=False, **FAST)
    assert "cross_class" not in step_loss(SupervisedModel([5, 4], config), Xb, yb, config, np.random.default_rng(0))
