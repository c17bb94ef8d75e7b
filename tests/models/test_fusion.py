import doctest
import importlib

import pytest
import torch

from otmix.models.fusion import (
    FUSIONS,
    MFM,
    FusionModel,
    LateFusion,
    LowRankTensorFusion,
    ModalityHeads,
    MultiplicativeInteractions,
    TensorFusion,
    make_fusion,
)

B = 7


def _inputs(in_dims, batch=B, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g) for d in in_dims]


def _build(name, in_dims, seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("latent_dim", 3 if name == "tf" else 6)
    kw.setdefault("n_outputs", 4)
    kw.setdefault("hidden_dim", 16)
    return make_fusion(name, in_dims, **kw)


DIMS = {2: [5, 3], 3: [5, 3, 4]}


@pytest.mark.parametrize("name", FUSIONS)
@pytest.mark.parametrize("M", [2, 3])
def test_output_shape_and_codes(name, M):
    model = _build(name, DIMS[M])
    assert isinstance(model, FusionModel) and model.n_modalities == M
    Xs = _inputs(DIMS[M])
    Zs = model.encode_all(Xs)
    assert [tuple(z.shape) for z in Zs] == [(B, model.latent_dim)] * M
    assert torch.equal(model.encode(1, Xs[1]), Zs[1])
    out = model(Xs)
    assert out.shape == (B, 4)
    assert torch.allclose(out, model.fuse(Zs))


@pytest.mark.parametrize("name", FUSIONS)
@pytest.mark.parametrize("M", [2, 3])
def test_gradients_reach_every_encoder(name, M):
    model = _build(name, DIMS[M])
    model(_inputs(DIMS[M])).sum().backward()
    for enc in model.encoders:
        grad = enc[0].weight.grad
        assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("name", FUSIONS)
def test_eval_determinism(name):
    model = _build(name, DIMS[3]).eval()
    Xs = _inputs(DIMS[3])
    with torch.no_grad():
        assert torch.equal(model(Xs), model(Xs))


@pytest.mark.parametrize("name", FUSIONS)
def test_auxiliary_loss(name):
    model = _build(name, DIMS[2])
    Xs = _inputs(DIMS[2])
    loss = model.auxiliary_loss(Xs, model.encode_all(Xs))
    assert loss.dim() == 0
    if name != "mfm":
        assert loss.item() == 0.0
        return
    assert loss.item() > 0
    loss.backward()
    for dec in model.decoders:
        assert dec[0].weight.grad is not None and dec[0].weight.grad.abs().sum() > 0
    model.zero_grad()
    doubled = _build(name, DIMS[2], reconstruction_weight=2.0)
    assert torch.allclose(doubled.auxiliary_loss(Xs, doubled.encode_all(Xs)), 2 * loss.detach())


# ---------------------------------------------------------------- low-rank tensor fusion
def test_lrtf_parameter_count():
    in_dims, d, h, r, n_out = [5, 3, 4], 6, 16, 3, 4
    model = _build("lrtf", in_dims, latent_dim=d, hidden_dim=h, rank=r, n_outputs=n_out)
    encoders = sum(D * h + h + h * d + d for D in in_dims)
    fusion = len(in_dims) * r * (d + 1) * h + r + h
    head = h * n_out + n_out
    assert sum(p.numel() for p in model.parameters()) == encoders + fusion + head


def test_lrtf_factors_registered_and_round_trip():
    model = _build("lrtf", DIMS[2], seed=0, rank=3)
    names = dict(model.named_parameters())
    state = model.state_dict()
    for m in range(2):
        assert f"factors.{m}" in names and f"factors.{m}" in state
        assert tuple(state[f"factors.{m}"].shape) == (3, 7, 16)
    assert "fusion_weights" in state and "fusion_bias" in state
    fresh = _build("lrtf", DIMS[2], seed=1, rank=3)
    Xs = _inputs(DIMS[2])
    with torch.no_grad():
        assert not torch.allclose(fresh(Xs), model(Xs))
        fresh.load_state_dict(state)
        assert torch.equal(fresh(Xs), model(Xs))


def test_lrtf_optimizer_step_changes_factors():
    model = _build("lrtf", DIMS[2])
    before = [w.detach().clone() for w in model.factors]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(_inputs(DIMS[2])).pow(2).sum().backward()
    opt.step()
    for w0, w in zip(before, model.factors):
        assert not torch.equal(w0, w.detach())


def test_lrtf_matches_formula():
    model = _build("lrtf", DIMS[2], rank=2)
    Zs = model.encode_all(_inputs(DIMS[2]))
    expected = model.fusion_bias.expand(B, -1).clone()
    for i in range(2):
        term = torch.ones(B, model.hidden_dim)
        for z, w in zip(Zs, model.factors):
            term = term * (torch.cat([z, torch.ones(B, 1)], 1) @ w[i])
        expected = expected + model.fusion_weights[0, i] * term
    assert torch.allclose(model.fused(Zs), expected, atol=1e-5)


# ---------------------------------------------------------------- tensor fusion
@pytest.mark.parametrize("M,d", [(2, 4), (3, 3)])
def test_tf_fused_size(M, d):
    model = _build("tf", DIMS[M], latent_dim=d)
    assert model.post_fusion[0].in_features == (d + 1) ** M == model.fused_size
    Zs = model.encode_all(_inputs(DIMS[M]))
    t = model.fused_tensor(Zs)
    assert t.shape == (B, (d + 1) ** M)
    # the appended 1 keeps the unimodal terms: the entry (i, d, ..., d) is Z_1[:, i]
    assert torch.allclose(t.reshape(B, *[d + 1] * M)[(slice(None), slice(0, d)) + (d,) * (M - 1)], Zs[0])


def test_tf_too_large():
    with pytest.raises(ValueError, match=str(33**4)):
        TensorFusion([2, 2, 2, 2], latent_dim=32)
    TensorFusion([2, 2, 2, 2], latent_dim=31, hidden_dim=1)  # 32**4 == 2**20 is allowed


# ---------------------------------------------------------------- multiplicative interactions
def test_mi_bilinear_preactivation():
    model = _build("mi", DIMS[2])
    with torch.no_grad():
        model.left[0].weight.zero_()
        model.right[0].weight.zero_()
        for enc in model.encoders:  # the encoders are not part of the interaction
            enc[2].bias.add_(0.3)
    Zs = model.encode_all(_inputs(DIMS[2]))
    W, b = model.bilinears[0].weight, model.bilinears[0].bias
    expected = torch.einsum("bi,kij,bj->bk", Zs[0], W, Zs[1]) + b
    assert torch.allclose(model.preactivation(Zs), expected, atol=1e-5)
    assert torch.allclose(model.fuse(Zs), model.head[1](torch.relu(expected)), atol=1e-5)


def test_mi_linear_terms_and_three_modalities():
    model = _build("mi", DIMS[3])
    Zs = model.encode_all(_inputs(DIMS[3]))
    with torch.no_grad():
        for bil in model.bilinears:
            bil.weight.zero_()
            bil.bias.zero_()
    # without the bilinear part the state is linear: h2 = U2 (U1 z1 + V1 z2) + V2 z3
    h1 = Zs[0] @ model.left[0].weight.T + Zs[1] @ model.right[0].weight.T
    h2 = h1 @ model.left[1].weight.T + Zs[2] @ model.right[1].weight.T
    assert torch.allclose(model.preactivation(Zs), h2, atol=1e-5)


def test_mi_needs_two_modalities():
    with pytest.raises(ValueError, match="at least 2"):
        MultiplicativeInteractions([4])


# ---------------------------------------------------------------- heads, training, factory, errors
def test_modality_heads():
    heads = ModalityHeads(3, latent_dim=5, n_outputs=2, hidden_dim=8)
    assert len(heads) == 3 and all(isinstance(h, torch.nn.Module) for h in heads)
    z = torch.randn(4, 5)
    assert heads(2, z).shape == (4, 2)
    assert torch.equal(heads(2, z), heads[2](z))
    assert len(list(heads.parameters())) == 3 * 4
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        heads(0, torch.randn(4, 6))
    with pytest.raises(IndexError):
        heads(3, z)


def test_late_fusion_learns_separable_labels():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(50, 4, generator=g)
    x1 = torch.randn(50, 3, generator=g)
    y = (x0 @ torch.tensor([1.0, -2.0, 0.5, 1.0]) > 0).long()
    torch.manual_seed(0)
    model = LateFusion([4, 3], latent_dim=8, n_outputs=2, hidden_dim=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model([x0, x1]), y).backward()
        opt.step()
    acc = (model([x0, x1]).argmax(1) == y).float().mean().item()
    assert acc >= 0.9


def test_make_fusion_classes_and_unknown():
    classes = [LateFusion, TensorFusion, LowRankTensorFusion, MFM, MultiplicativeInteractions]
    for name, cls in zip(FUSIONS, classes):
        assert type(_build(name, DIMS[2])) is cls
    assert _build("lrtf", DIMS[2], rank=5).rank == 5
    with pytest.raises(ValueError, match="unknown fusion 'x'; choose one of late, tf, lrtf, mfm, mi"):
        make_fusion("x", [3, 4])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(in_dims=[]), "in_dims is empty"),
        (dict(in_dims=[3, 0]), r"in_dims\[1\]"),
        (dict(in_dims=[3, 2], latent_dim=0), "latent_dim"),
        (dict(in_dims=[3, 2], n_outputs=0), "n_outputs"),
        (dict(in_dims=[3, 2], hidden_dim=0), "hidden_dim"),
    ],
)
@pytest.mark.parametrize("name", FUSIONS)
def test_bad_construction(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_fusion(name, **kwargs)


@pytest.mark.parametrize("name", FUSIONS)
def test_bad_inputs(name):
    model = _build(name, DIMS[2])
    Xs = _inputs(DIMS[2])
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        model(Xs[:1])
    with pytest.raises(ValueError, match="expected 2 codes, got 3"):
        model.fuse(model.encode_all(Xs) + [torch.zeros(B, model.latent_dim)])
    with pytest.raises(ValueError, match="batch sizes disagree"):
        model([Xs[0], Xs[1][:-1]])
    with pytest.raises(ValueError, match="batch sizes disagree"):
        model.fuse([torch.zeros(B, model.latent_dim), torch.zeros(B + 1, model.latent_dim)])
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        model([Xs[0], torch.zeros(B, 4)])
    with pytest.raises(ValueError, match=r"codes 0 must have shape"):
        model.fuse([torch.zeros(B, model.latent_dim + 1), torch.zeros(B, model.latent_dim)])
    with pytest.raises(ValueError):
        model.encode(0, Xs[1])


@pytest.mark.parametrize("module", ["__init__", "late", "tensor", "lowrank", "mfm", "mi", "heads"])
def test_docstring_examples_run(module):
    name = "otmix.models.fusion" + ("" if module == "__init__" else f".{module}")
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
