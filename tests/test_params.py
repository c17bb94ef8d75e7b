"""One parameter checker for every estimator and config: one line naming the parameter, the rule and the value."""

import doctest

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import otmix.params
from otmix import OTMClustering
from otmix.baselines import DCCAE, GWMAC, MCCA, KMeansConcat, MultiNMF, PerViewKMeans, PerViewSpectral
from otmix.params import check_bool, check_choice, check_int, check_n_jobs, check_real
from otmix.train.cluster import ClusterConfig
from otmix.train.supervised import SupervisedConfig


def test_doctests():
    failures, tried = doctest.testmod(otmix.params)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize("value", [2.5, 3.0, True, "3", None, 0])
def test_check_int_refuses_non_integers_and_out_of_range(value):
    with pytest.raises(ValueError) as info:
        check_int("epochs", value, low=1)
    text = str(info.value)
    assert text.startswith("epochs must be an integer >= 1, got ") and repr(value) in text
    assert type(value).__name__ in text and "\n" not in text


def test_check_int_accepts_numpy_integers_and_none_when_asked():
    assert check_int("epochs", np.int64(3), low=1) == 3 and type(check_int("epochs", np.int32(3))) is int
    assert check_int("patience", None, low=1, none_ok=True) is None
    with pytest.raises(ValueError, match=r"warmup_epochs must be an integer in \[0, 4\] \(fewer than epochs\)"):
        check_int("warmup_epochs", 5, low=0, high=4, why="fewer than epochs")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.5", True, -0.1, 1.5])
def test_check_real(value):
    with pytest.raises(ValueError, match=r"^alpha must be a finite number in \[0, 1\], got "):
        check_real("alpha", value, low=0.0, high=1.0)
    assert check_real("alpha", np.float32(0.25), low=0.0, high=1.0) == 0.25
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0"):
        check_real("lr", 0, low=0.0, low_open=True)


def test_check_bool_choice_and_n_jobs():
    assert check_bool("verbose", np.bool_(True)) is True
    for value in ("no", 0, 1, None):
        with pytest.raises(ValueError, match="detach_targets must be True or False"):
            check_bool("detach_targets", value)
    with pytest.raises(ValueError, match=r"mix must be one of 'binary', 'weighted', got 'dirichlet' \(str\)"):
        check_choice("mix", "dirichlet", ("binary", "weighted"))
    assert check_n_jobs("n_jobs", -1) == -1 and check_n_jobs("n_jobs", None) is None
    with pytest.raises(ValueError, match="n_jobs must be None or an integer >= 1 .or -1"):
        check_n_jobs("n_jobs", 0)


# The gaps of issue 15, item 8: each is now one ValueError that names the parameter, the rule and the value.
@pytest.mark.parametrize("params, message", [
    ({"latent_dim": 2.5}, "latent_dim must be an integer >= 1, got 2.5 (float)"),
    ({"detach_targets": "no"}, "detach_targets must be True or False, got 'no' (str)"),
    ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5 (float)"),
    ({"batch_size": 1}, "batch_size must be an integer >= 2 (the codes are batch-normalised), got 1 (int)"),
    ({"batch_size": 2.5}, "batch_size must be an integer >= 2 (the codes are batch-normalised), got 2.5 (float)"),
    ({"batch_size": 0}, "batch_size must be an integer >= 2"),
    ({"max_outer": 0}, "max_outer must be an integer >= 1, got 0 (int)"),
    ({"patience": 1.5}, "patience must be None or an integer >= 1"),
    ({"w_otm": "0.1"}, "w_otm must be a finite number >= 0, got '0.1' (str)"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"verbose": "yes"}, "verbose must be True or False"),
    ({"readout": "spectral"}, "readout must be one of 'auto', 'matched', 'fused', 'kmeans', 'gw', got 'spectral'"),
    ({"readout_points": 10.0}, "readout_points must be an integer >= 1, got 10.0 (float)"),
    ({"random_state": -1}, "random_state must be None or an integer >= 0, got -1 (int)"),
    ({"n_jobs": 0}, "n_jobs must be None or an integer >= 1"),
])
def test_estimator_parameters_fail_before_any_work_with_one_line(params, message):
    Xs = [np.zeros((10, 3)), np.ones((12, 2))]
    est = OTMClustering(n_clusters=2, **params)
    with pytest.raises(ValueError) as info:
        est.fit(Xs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert not hasattr(est, "model_")


def test_both_configs_agree_on_batch_size():
    for config in (ClusterConfig(n_clusters=2, batch_size=2.5), SupervisedConfig(batch_size=2.5)):
        with pytest.raises(ValueError, match=r"^batch_size must be an integer >= 2\b.*got 2.5 \(float\)"):
            config.validate()
    with pytest.raises(ValueError, match="unaligned must be True or False, got 'no'"):
        SupervisedConfig(unaligned="no").validate()
    with pytest.raises(ValueError, match=r"otm_weight \(β\) must be a finite number >= 0, got nan"):
        SupervisedConfig(otm_weight=float("nan")).validate()


@pytest.mark.parametrize("make, message", [
    (lambda: KMeansConcat(2.5), "n_clusters must be an integer >= 1, got 2.5"),
    (lambda: PerViewKMeans(2, n_init=True), "n_init must be an integer >= 1, got True (bool)"),
    (lambda: PerViewSpectral(2, n_neighbors=3.0), "n_neighbors must be an integer >= 1, got 3.0"),
    (lambda: MCCA(2, regularization="0.1"), "regularization must be a finite number in [0, 1], got '0.1'"),
    (lambda: DCCAE(2, epochs=2.5), "epochs must be an integer >= 1, got 2.5"),
    (lambda: MultiNMF(2, tol=-1), "tol must be a finite number >= 0, got -1"),
    (lambda: GWMAC(2, kernel="cosine"), "kernel must be one of"),
    (lambda: GWMAC(2, n_points=2.5), "n_points must be None or an integer >= 1, got 2.5"),
])
def test_baselines_use_the_same_checker(make, message):
    rng = np.random.default_rng(0)
    Xs = [rng.random((20, 3)), rng.random((20, 4))]
    with pytest.raises(ValueError) as info:
        make().fit(Xs)
    assert str(info.value).startswith(message)


def test_otmclustering_before_fit_raises_sklearns_not_fitted_error():
    est = OTMClustering(n_clusters=2)
    X = np.zeros((4, 3))
    for call in (lambda: est.predict(X), lambda: est.transform([X]), lambda: est.save("never-written")):
        with pytest.raises(NotFittedError, match="OTMClustering instance is not fitted yet"):
            call()
