"""torch's thread count is held for a fit and given back, and results do not depend on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from otmix.train.cluster import ClusterConfig, train_clustering
from otmix.train.threads import torch_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_are_set_inside_and_restored_after(restore_threads):
    torch.set_num_threads(2)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2  # restored on an error too
    with torch_threads(None):
        assert torch.get_num_threads() == 2


def test_a_fit_runs_torch_on_n_jobs_threads_and_restores_the_callers_setting(restore_threads):
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(40, 6)), rng.normal(size=(30, 5))]
    seen = []
    torch.set_num_threads(2)
    config = ClusterConfig(n_clusters=3, latent_dim=4, batch_size=16, epochs=2, random_state=0)
    model, history = train_clustering(Xs, config, progress=lambda epoch, losses: seen.append(torch.get_num_threads()))
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == 2
    two = ClusterConfig(n_clusters=3, latent_dim=4, batch_size=16, epochs=2, random_state=0, n_jobs=2)
    seen.clear()
    model_2, history_2 = train_clustering(Xs, two, progress=lambda epoch, losses: seen.append(torch.get_num_threads()))
    assert set(seen) == {2}
    for a, b in zip(model.state_dict().values(), model_2.state_dict().values()):  # small tensors: same sums
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history["total"], history_2["total"], rtol=1e-6)
