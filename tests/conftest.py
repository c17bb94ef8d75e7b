import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def require_data_root():
    """The shared data folder; skips the test when absent, except in CI where its absence is a failure."""
    from otmix.data import data_root

    root = data_root()
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"data folder {root} is missing in CI; set OTMIX_DATA")
        pytest.skip(f"data folder {root} not present")
    return root


@pytest.fixture
def real_data():
    return require_data_root()


def make_blob_views(n_rows=(90, 75), widths=(6, 4), n_clusters=3, separation=6.0, noise=0.5, seed=0):
    """Unaligned views of the same well-separated clusters, each through its own random linear map.

    Returns (Xs, ys): rows of different views do not correspond; ys[m] are view m's labels.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 3)) * separation
    Xs, ys = [], []
    for n, width in zip(n_rows, widths):
        y = rng.permutation(np.arange(n) % n_clusters)
        latent = centres[y] + noise * rng.normal(size=(n, 3))
        X = latent @ rng.normal(size=(3, width)) + 0.1 * rng.normal(size=(n, width))
        Xs.append((X - X.mean(0)) / X.std(0))
        ys.append(y)
    return Xs, ys


def aligned_blobs(n_rows=90, widths=(6, 4), n_clusters=3, separation=6.0, noise=0.5, seed=0):
    """Aligned views: row i of every view is the same sample (one latent point), through a per-view linear map."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 3)) * separation
    y = rng.permutation(np.arange(n_rows) % n_clusters)
    latent = centres[y] + noise * rng.normal(size=(n_rows, 3))
    Xs = [latent @ rng.normal(size=(3, w)) + 0.1 * rng.normal(size=(n_rows, w)) for w in widths]
    return Xs, y


@pytest.fixture
def blob_views():
    return make_blob_views()


def write_blob_file(folder, n_rows=(60, 60)):
    """Two blob views with labels in one .npz file, the CLI's user-file format."""
    Xs, ys = make_blob_views(n_rows=n_rows, seed=1)
    path = folder / "views.npz"
    np.savez(path, X0=Xs[0], X1=Xs[1], y0=ys[0], y1=ys[1])
    return path


@pytest.fixture
def blob_file(tmp_path):
    return write_blob_file(tmp_path)


def clustered_codes(sizes, d=3, seed=0, n_clusters=3):
    """Code sets drawn around shared Gaussian cluster centres (independent samples per set)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_clusters, d))
    return [centres[rng.integers(n_clusters, size=n)] + rng.normal(size=(n, d)) for n in sizes]


def pot_fgw_value(Z, Zm, T, alpha, structure):
    """The FGW objective at a dense plan with POT's loss: an independent oracle."""
    import ot

    from otmix.ot.structure import feature_cost, structure_matrix

    A, Am = structure_matrix(Z, structure), structure_matrix(Zm, structure)
    constC, hA, hB = ot.gromov.init_matrix(A, Am, T.sum(1), T.sum(0), "square_loss")
    return alpha * np.sum(feature_cost(Z, Zm) * T) + (1 - alpha) * ot.gromov.gwloss(constC, hA, hB, T)

def require_flwr():
    """Flower (the `fl` extra); skipped where absent, except in CI, where its absence is a failure."""
    try:
        import flwr  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("flwr is not installed in CI; `make test` installs the fl extra")
        pytest.skip("flwr not installed (pip install 'otmix[fl]')")


@pytest.fixture
def flower_task():
    """A process identity as Flower's runtime sets it, so messages can be built outside a run."""
    require_flwr()
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def assert_agent_gradients_equal(model, batches, mixed, config, encoder="mlp"):
    """Every agent's local gradient (one-view MWAE with the in-process view's weights, against the
    server's targets and gradients ``mixed``) equals the in-process ``model``'s (its grads already
    computed by a backward pass of the in-process step)."""
    import copy

    import torch

    from otmix.federated.task import agent_losses
    from otmix.models.wae import MWAE

    for m, B in enumerate(batches):
        agent_model = MWAE([B.shape[1]], config.latent_dim, config.hidden_dim, encoder=encoder)
        agent_model.views[0].load_state_dict(copy.deepcopy(model.views[m].state_dict()))
        agent_model.train()
        local = agent_losses(agent_model, B, torch.as_tensor(mixed.targets[m][0]),
                             torch.as_tensor(mixed.grads[m][0]), config)
        agent_model.zero_grad()
        local["total"].backward()
        for (name, p_in), p_agent in zip(model.views[m].named_parameters(), agent_model.views[0].parameters()):
            np.testing.assert_allclose(p_agent.grad.numpy(), p_in.grad.numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"view {m} {name}")
