"""The ``device`` option of the trainers, the estimator and the CLI (CPU only: no GPU is needed).

A real accelerator cannot be tested here; two checks stand in for it: every tensor that
reaches a loss is on the requested device (``torch.device("cpu")``), and a training step
run with the *default* device set to ``meta`` still works, so no tensor of a step is
created without an explicit device (such a tensor would land on ``meta`` and fail).
"""

import json

import numpy as np
import pytest
import torch
from conftest import make_blob_views
from typer.testing import CliRunner

from otmix import OTMClustering
from otmix.cli import app
from otmix.models import MWAE
from otmix.ot import push_back, stochastic_mix
from otmix.train.cluster import ClusterConfig, mixing_terms, step_losses, train_clustering
from otmix.train.device import module_device, resolve_device
from otmix.train.supervised import (
    SupervisedConfig,
    SupervisedModel,
    _codes,
    evaluate,
    noise_curve,
    single_modality_scores,
    step_loss,
    step_loss_unaligned,
    train_supervised,
)

CPU = torch.device("cpu")
HAS_CUDA = torch.cuda.is_available()
no_cuda_only = pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here, so 'cuda' is not an error")
TINY_CLUSTER = dict(n_clusters=3, epochs=2, batch_size=32, hidden_dim=16, latent_dim=4, random_state=0)
TINY_SUPERVISED = dict(otm_weight=1.0, epochs=2, batch_size=32, latent_dim=4, hidden_dim=16, n_outputs=3,
                       random_state=0)


def _supervised_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    Xs = [rng.normal(size=(n, 5)) + y[:, None], rng.normal(size=(n, 4))]
    return [X[:64] for X in Xs], y[:64], [X[64:] for X in Xs], y[64:]


def _history(history):
    return {k: v for k, v in history.items() if k != "seconds"}


# -- resolve_device ---------------------------------------------------------------------------


def test_resolve_device_accepts_cpu_auto_and_torch_devices():
    assert resolve_device("cpu") == CPU and resolve_device(CPU) == CPU
    assert resolve_device("cpu:0").type == "cpu"
    assert resolve_device("auto") == torch.device("cuda" if HAS_CUDA else "cpu")


@pytest.mark.parametrize("device", ["gpu", "CUDA", "", "cuda:x", " cpu"])
def test_resolve_device_rejects_unknown_strings_in_one_line(device):
    with pytest.raises(ValueError, match="unknown device") as info:
        resolve_device(device)
    assert repr(device) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("device", [0, None, 1.5])
def test_resolve_device_rejects_non_strings(device):
    with pytest.raises(ValueError, match="device must be a string"):
        resolve_device(device)


@no_cuda_only
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_resolve_device_rejects_cuda_without_cuda(device):
    with pytest.raises(ValueError, match="is not available") as info:
        resolve_device(device)
    assert f"'{device}'" in str(info.value) and "\n" not in str(info.value)


def test_resolve_device_rejects_devices_torch_cannot_train_on():
    with pytest.raises(ValueError, match="'meta' is not available"):
        resolve_device("meta")


def test_module_device():
    assert module_device(MWAE([3], latent_dim=2, hidden_dim=4)) == CPU
    assert module_device(torch.nn.ReLU()) == CPU


# -- clustering -------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cpu", CPU, pytest.param("auto", marks=no_cuda_only)])
def test_estimator_cpu_device_gives_the_default_result(device):
    Xs, _ = make_blob_views()
    default = OTMClustering(**TINY_CLUSTER).fit(Xs)
    chosen = OTMClustering(device=device, **TINY_CLUSTER).fit(Xs)
    assert default.get_params()["device"] == "cpu"
    assert _history(chosen.history_) == _history(default.history_)
    np.testing.assert_array_equal(chosen.fused_codes_, default.fused_codes_)
    for a, b in zip(chosen.labels_, default.labels_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(chosen.transform(Xs), default.transform(Xs)):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
        np.testing.assert_array_equal(a, b)


@no_cuda_only
def test_estimator_cuda_without_cuda_fails_at_fit_in_one_line():
    Xs, _ = make_blob_views()
    est = OTMClustering(device="cuda", **TINY_CLUSTER)  # scikit-learn style: the constructor only stores
    with pytest.raises(ValueError, match="device 'cuda' is not available") as info:
        est.fit(Xs)
    assert "\n" not in str(info.value) and not hasattr(est, "model_")


def test_estimator_unknown_device_fails_at_fit():
    with pytest.raises(ValueError, match="unknown device 'tpu0'"):
        OTMClustering(device="tpu0", **TINY_CLUSTER).fit(make_blob_views()[0])


@no_cuda_only
def test_cluster_trainer_rejects_cuda_without_cuda():
    with pytest.raises(ValueError, match="device 'cuda:0' is not available"):
        train_clustering(make_blob_views()[0], ClusterConfig(device="cuda:0", **TINY_CLUSTER))


def test_cluster_fit_keeps_parameters_and_loss_inputs_on_the_device():
    Xs, _ = make_blob_views()
    model = MWAE([X.shape[1] for X in Xs], latent_dim=4, hidden_dim=16)
    seen: list[torch.device] = []

    def record(module, inputs, output):  # every batch X_m, code Z_m and reconstruction of the fit
        seen.extend(t.device for t in (*inputs, output))

    handles = [m.register_forward_hook(record) for view in model.views for m in (view.encoder, view.decoder)]
    trained, history = train_clustering(Xs, ClusterConfig(device="cpu", **TINY_CLUSTER), model=model)
    for handle in handles:
        handle.remove()
    assert trained is model and len(history["total"]) == 2
    assert len(seen) > 0 and set(seen) == {CPU}
    assert {p.device for p in model.parameters()} | {b.device for b in model.buffers()} == {CPU}
    batches = [torch.as_tensor(X[:32], dtype=torch.float32, device=CPU) for X in Xs]
    Zs = [model.encode(m, X) for m, X in enumerate(batches)]
    targets, clu = mixing_terms(Zs, ClusterConfig(device="cpu", **TINY_CLUSTER), np.random.default_rng(0))
    assert {t.device for t in targets} == {CPU} and clu.device == CPU


def test_cluster_step_creates_no_tensor_on_the_default_device():
    # With the default device set to meta, a tensor made without device= lands on meta and the step fails.
    Xs, _ = make_blob_views()
    model = MWAE([X.shape[1] for X in Xs], latent_dim=4, hidden_dim=16)
    batches = [torch.as_tensor(X[:32], dtype=torch.float32, device=CPU) for X in Xs]
    config = ClusterConfig(n_clusters=3, w_otm=0.5, w_clu=0.5)
    for mix in ("binary", "weighted"):
        config.mix = mix
        with torch.device("meta"):
            losses = step_losses(model, batches, config, np.random.default_rng(0))
        assert {t.device for t in losses.values()} == {CPU}
        losses["total"].backward()


def _adam_ignores_the_default_device() -> bool:
    """Older torch releases create Adam's step counter on the default device (not ours to fix)."""
    param = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.Adam([param])
    param.sum().backward()
    try:
        with torch.device("meta"):
            optimizer.step()
    except (NotImplementedError, RuntimeError):
        return False
    return True


needs_device_safe_adam = pytest.mark.skipif(not _adam_ignores_the_default_device(),
                                            reason="this torch's Adam uses the default device")


@needs_device_safe_adam
def test_whole_fits_create_no_tensor_on_the_default_device():
    # The whole fit, read-out and inference run with the default device set to meta: same result as usual.
    Xs, _ = make_blob_views()
    plain = OTMClustering(**TINY_CLUSTER).fit(Xs)
    with torch.device("meta"):
        est = OTMClustering(**TINY_CLUSTER).fit(Xs)
        codes, predicted = est.transform(Xs), est.predict(Xs[1], view=1)
    np.testing.assert_array_equal(est.fused_codes_, plain.fused_codes_)
    np.testing.assert_array_equal(codes[0], plain.transform(Xs)[0])
    np.testing.assert_array_equal(predicted, plain.predict(Xs[1], view=1))
    data = _supervised_data()
    for unaligned in (False, True):
        config = SupervisedConfig(unaligned=unaligned, **TINY_SUPERVISED)
        _, history = train_supervised(*data, config)
        with torch.device("meta"):
            model, meta_history = train_supervised(*data, config)
            curves = noise_curve(model, data[2], data[3], "classification", ratios=(0.0, 0.5))
        assert _history(meta_history) == _history(history)
        assert np.isfinite(curves).all()


def test_mixing_returns_on_the_codes_device_and_rejects_mixed_devices():
    rng = np.random.default_rng(0)
    plans = [np.full((4, 4), 1 / 16), np.eye(4) / 4]
    Zs = [torch.randn(4, 2), torch.randn(4, 2)]
    with torch.device("meta"):
        mixed = stochastic_mix(plans, Zs, random_state=rng)
        back = push_back(torch.as_tensor(plans[0], device=CPU), mixed)
    assert mixed.device == CPU and back.device == CPU
    with pytest.raises(ValueError, match="one device"):
        stochastic_mix(plans, [Zs[0], torch.zeros(4, 2, device="meta")])


def test_checkpoint_round_trip_keeps_the_device_parameter_and_loads_on_the_cpu(tmp_path):
    Xs, _ = make_blob_views()
    est = OTMClustering(device=CPU, **TINY_CLUSTER).fit(Xs)
    path = est.save(tmp_path / "ckpt")
    assert json.loads((path / "config.json").read_text())["params"]["device"] == "cpu"
    loaded = OTMClustering.load(path)
    assert loaded.device == "cpu" and module_device(loaded.model_) == CPU
    np.testing.assert_array_equal(loaded.predict(Xs[1], view=1), est.predict(Xs[1], view=1))
    with pytest.raises(ValueError, match="unknown device"):
        OTMClustering.load(path, device="gpu")


def test_configs_serialise_the_device_as_a_string():
    assert ClusterConfig(n_clusters=2, device=CPU).to_dict()["device"] == "cpu"
    payload = json.dumps(SupervisedConfig(device=CPU).to_dict())
    # to_dict writes label_aware resolved (None -> whether the plans use labels): the same config in effect
    restored = SupervisedConfig(**json.loads(payload))
    assert restored.to_dict() == SupervisedConfig(device="cpu").to_dict() and restored.device == "cpu"


# -- supervised -------------------------------------------------------------------------------


@pytest.mark.parametrize("unaligned", [False, True])
def test_supervised_cpu_device_gives_the_default_result(unaligned):
    data = _supervised_data()
    default, h_default = train_supervised(*data, SupervisedConfig(unaligned=unaligned, **TINY_SUPERVISED))
    chosen, h_chosen = train_supervised(*data, SupervisedConfig(device="cpu", unaligned=unaligned, **TINY_SUPERVISED))
    assert _history(h_chosen) == _history(h_default)
    for (name, a), b in zip(chosen.state_dict().items(), default.state_dict().values()):
        assert torch.equal(a, b), name


@no_cuda_only
def test_supervised_trainer_rejects_cuda_without_cuda():
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        train_supervised(*_supervised_data(), SupervisedConfig(device="cuda", **TINY_SUPERVISED))


def test_supervised_trainer_rejects_unknown_devices():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        train_supervised(*_supervised_data(), SupervisedConfig(device="gpu", **TINY_SUPERVISED))


def test_supervised_fit_keeps_parameters_and_loss_inputs_on_the_device():
    X_tr, y_tr, X_va, y_va = _supervised_data()
    model, _ = train_supervised(X_tr, y_tr, X_va, y_va, SupervisedConfig(device="cpu", **TINY_SUPERVISED))
    assert {p.device for p in model.parameters()} | {b.device for b in model.buffers()} == {CPU}
    config = SupervisedConfig(device="cpu", **TINY_SUPERVISED)
    Xb = [torch.as_tensor(X[:32], dtype=torch.float32, device=CPU) for X in X_tr]
    yb = torch.as_tensor(y_tr[:32], device=CPU)
    with torch.device("meta"):  # as in the clustering step: nothing may rely on the default device
        losses = step_loss(model, Xb, yb, config, np.random.default_rng(0))
        unaligned = step_loss_unaligned(model, Xb, [yb, yb], config, np.random.default_rng(0), anchor=1)
        val = evaluate(model, X_va, y_va, "classification")
        codes = _codes(model, 0, X_va[0])
    assert {t.device for t in (*losses.values(), *unaligned.values(), codes)} == {CPU}
    assert 0.0 <= val <= 1.0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_single_modality_scores_run_on_the_model_device(task):
    X_tr, y_tr, X_va, y_va = _supervised_data()
    config = SupervisedConfig(task=task, **{**TINY_SUPERVISED, "n_outputs": 3 if task == "classification" else 1})
    model = SupervisedModel([X.shape[1] for X in X_tr], config)
    y_tr, y_va = (y_tr, y_va) if task == "classification" else (y_tr.astype(float), y_va.astype(float))
    with torch.device("meta"):
        scores = single_modality_scores(model, X_tr, y_tr, X_va, y_va, task, epochs=2)
    assert len(scores) == 2 and all(np.isfinite(scores))


# -- CLI --------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_cluster_passes_the_device_through(blob_file, tmp_path):
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["cluster", "--data", str(blob_file), "--seeds", "1", "--epochs", "2", "--quiet",
                                 "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["config"]["device"] == "cpu"


@pytest.mark.parametrize("command", ["cluster", "supervised"])
@pytest.mark.parametrize("device,match", [
    ("gpu", "unknown device 'gpu'"),
    pytest.param("cuda", "device 'cuda' is not available", marks=no_cuda_only),
])
def test_cli_bad_device_exits_2_before_any_work(blob_file, tmp_path, command, device, match):
    out = tmp_path / "out.json"
    data = ["--data", str(blob_file)] if command == "cluster" else ["--dataset", "diabetes2"]
    result = runner.invoke(app, [command, *data, "--epochs", "1", "--quiet", "--device", device, "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert match in result.output and not out.exists()
    assert "rows" not in result.output  # failed before loading the data


def test_cli_supervised_passes_the_device_through(tmp_path):
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["supervised", "--dataset", "diabetes2", "--folds", "2", "--epochs", "1", "--quiet",
                                 "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["config"]["device"] == "cpu"
