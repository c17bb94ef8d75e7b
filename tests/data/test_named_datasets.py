
import numpy as np
import pytest

from otmix.data import DATASET_NAMES, data_root, datasets, load_dataset

EXPECTED = {
    "prokaryotic": (551, [438, 3, 393], 4),
    "movies": (617, [1878, 1398], 17),
    "orl": (400, [288, 288], 40),
    "orl4": (400, [512, 59, 864, 254], 40),
}


def test_registry_names():
    assert DATASET_NAMES == ("digits2", "prokaryotic", "movies", "orl", "orl4")
    assert set(EXPECTED) | {"digits2"} == set(DATASET_NAMES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_dataset_shapes(real_data, name):
    n, widths, k = EXPECTED[name]
    ds = load_dataset(name.upper())
    assert ds.name == name
    assert ds.n_samples == [n] * len(widths)
    assert [X.shape[1] for X in ds.Xs] == widths
    assert ds.n_clusters == k
    for y in ds.ys:
        assert y.dtype == np.int64 and y.min() == 0 and y.max() == k - 1
    assert all(np.all(np.isfinite(X)) for X in ds.Xs)
    assert ds.summary()["n_features"] == widths


def test_default_and_overridden_preprocessing(real_data):
    movies = load_dataset("movies")
    assert movies.preprocessing == ["tfidf", "tfidf"]
    np.testing.assert_allclose(np.linalg.norm(movies.Xs[0], axis=1)[np.any(movies.Xs[0], axis=1)], 1.0)
    raw = load_dataset("movies", preprocessing="none")
    assert raw.Xs[0].max() == 2.0 and raw.Xs[1].max() == 4.0
    prok = load_dataset("prokaryotic", data_dir=real_data, preprocessing=["none", "zscore", "l2"])
    assert prok.preprocessing == ["none", "zscore", "l2"]
    assert prok.view_names == ["text", "proteome_comp", "gene_repert"]


def test_unknown_name():
    message = "unknown dataset 'foo'; choose one of digits2, prokaryotic, movies, orl, orl4"
    with pytest.raises(ValueError, match=message):
        load_dataset("foo")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_empty_data_dir_names_the_file_and_otmix_data(tmp_path, monkeypatch, name):
    monkeypatch.setenv("OTMIX_DATA", str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(FileNotFoundError, match=rf"{name} needs {tmp_path}.*OTMIX_DATA={tmp_path}.*set OTMIX_DATA"):
        load_dataset(name)


def test_missing_data_without_otmix_data_names_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("OTMIX_DATA", raising=False)
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "lib/python3.11/site-packages/otmix/data/datasets.py"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("orl")
    message = str(info.value)
    assert message.startswith(f"orl needs {tmp_path / 'xdg' / 'otmix' / 'data' / 'orl' / 'orl.mat'}")
    assert "OTMIX_DATA is not set" in message and "set OTMIX_DATA" in message and "\n" not in message


def test_an_installed_package_looks_in_the_user_data_folder_not_beside_the_venv(tmp_path, monkeypatch):
    monkeypatch.delenv("OTMIX_DATA", raising=False)
    venv_file = tmp_path / "venv/lib/python3.11/site-packages/otmix/data/datasets.py"
    monkeypatch.setattr(datasets, "__file__", str(venv_file))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "otmix" / "data"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".local" / "share" / "otmix" / "data"


def test_default_root_is_next_to_the_repo(monkeypatch):
    monkeypatch.delenv("OTMIX_DATA", raising=False)
    assert data_root().parts[-2:] == ("shared", "data")
