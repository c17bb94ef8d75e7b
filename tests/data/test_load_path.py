import json

import numpy as np
import pytest
import scipy.io

from otmix.data import load_path


def _cell(arrays, column=False):
    cell = np.empty((len(arrays), 1) if column else (1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        cell.flat[i] = a
    return cell


@pytest.fixture
def views(rng):
    return [rng.normal(size=(12, 5)), rng.normal(size=(12, 3))]


@pytest.fixture
def labels():
    return np.arange(12) % 3 + 1  # raw labels 1..3 come back as 0..2


@pytest.mark.parametrize("column", [False, True])
def test_mat_round_trip_with_a_transposed_view(tmp_path, views, labels, column):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": _cell([views[0], views[1].T], column), "y": labels[:, None]})
    ds = load_path(path, preprocessing="none")
    assert ds.name == "data" and ds.n_views == 2
    for got, want in zip(ds.Xs, views):
        np.testing.assert_array_equal(got, want)
    assert all(np.array_equal(y, labels - 1) for y in ds.ys)
    assert ds.preprocessing == ["none", "none"]
    json.dumps(ds.summary())


def test_mat_per_view_label_cell_and_unequal_views(tmp_path, rng):
    a, b = rng.normal(size=(10, 4)), rng.normal(size=(7, 4))
    ya, yb = np.arange(10) % 2, np.arange(7) % 2
    scipy.io.savemat(tmp_path / "u.mat", {"X": _cell([a.T, b]), "gt": _cell([ya[:, None], yb[:, None]])})
    ds = load_path(tmp_path / "u.mat", preprocessing="none")
    np.testing.assert_array_equal(ds.Xs[0], a)
    np.testing.assert_array_equal(ds.Xs[1], b)
    assert ds.n_samples == [10, 7] and ds.n_clusters == 2


def test_mat_without_labels_orients_by_shared_dimension(tmp_path, rng):
    a, b = rng.normal(size=(9, 4)), rng.normal(size=(9, 6))
    scipy.io.savemat(tmp_path / "n.mat", {"X": _cell([a.T, b.T])})
    ds = load_path(tmp_path / "n.mat", preprocessing="none")
    assert ds.ys is None and ds.n_clusters is None
    np.testing.assert_array_equal(ds.Xs[0], a)
    np.testing.assert_array_equal(ds.Xs[1], b)


def test_mat_default_preprocessing_is_zscore(tmp_path, views):
    scipy.io.savemat(tmp_path / "z.mat", {"X": _cell(views)})
    ds = load_path(tmp_path / "z.mat")
    assert ds.preprocessing == ["zscore", "zscore"]
    np.testing.assert_allclose(ds.Xs[0].mean(axis=0), 0.0, atol=1e-12)


def test_mat_missing_x(tmp_path):
    scipy.io.savemat(tmp_path / "file.mat", {"a": np.ones((2, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=r"no cell array 'X' in file.mat \(keys: a, b\)"):
        load_path(tmp_path / "file.mat")


def test_mat_non_numeric_cell(tmp_path):
    scipy.io.savemat(tmp_path / "s.mat", {"X": _cell([np.ones((3, 2)), "hello"])})
    with pytest.raises(ValueError, match="view 1"):
        load_path(tmp_path / "s.mat")


def test_corrupt_mat(tmp_path):
    (tmp_path / "x.mat").write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(ValueError, match=r"^cannot read x.mat: [^\n]*$"):
        load_path(tmp_path / "x.mat")


def test_npz_round_trip_shared_and_per_view_labels(tmp_path, views, labels):
    np.savez(tmp_path / "s.npz", X0=views[0], X1=views[1], y=labels)
    ds = load_path(tmp_path / "s.npz", preprocessing="none")
    assert ds.view_names == ["X0", "X1"]
    for got, want in zip(ds.Xs, views):
        np.testing.assert_array_equal(got, want)
    assert all(np.array_equal(y, labels - 1) for y in ds.ys)

    np.savez(tmp_path / "p.npz", X0=views[0], X1=views[1][:8], y0=labels, y1=labels[:8])
    ds = load_path(tmp_path / "p.npz", preprocessing=["none", "l2"])
    assert ds.n_samples == [12, 8] and ds.preprocessing == ["none", "l2"]


def test_npz_errors(tmp_path, views):
    np.savez(tmp_path / "gap.npz", X0=views[0], X2=views[1])
    with pytest.raises(ValueError, match="numbered from 0 without gaps"):
        load_path(tmp_path / "gap.npz")
    np.savez(tmp_path / "none.npz", A=views[0])
    with pytest.raises(ValueError, match=r"no arrays X0, X1, ... in none.npz \(keys: A\)"):
        load_path(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cannot read bad.npz"):
        load_path(tmp_path / "bad.npz")


def test_folder_round_trip(tmp_path, views, labels):
    folder = tmp_path / "set"
    folder.mkdir()
    np.save(folder / "a_view.npy", views[0])
    np.savetxt(folder / "b_view.csv", views[1], delimiter=",")
    np.savetxt(folder / "labels.csv", labels, delimiter=",")
    (folder / "README.txt").write_text("ignored")
    ds = load_path(folder, preprocessing="none")
    assert ds.name == "set" and ds.view_names == ["a_view", "b_view"]
    np.testing.assert_array_equal(ds.Xs[0], views[0])
    np.testing.assert_allclose(ds.Xs[1], views[1], rtol=1e-15)
    assert all(np.array_equal(y, labels - 1) for y in ds.ys)


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no .npy or .csv view files"):
        load_path(tmp_path)
    (tmp_path / "v.csv").write_text("1,2\nx,3\n")  # a non-numeric row that is not the first: not a header
    with pytest.raises(ValueError, match="cannot read v.csv: could not convert string 'x'"):
        load_path(tmp_path)
    (tmp_path / "v.csv").write_text("a,b\n")  # a header and nothing else
    with pytest.raises(ValueError, match="cannot read v.csv: no rows of numbers after its header row"):
        load_path(tmp_path)


def test_folder_csv_views_with_a_header_row_are_read_and_the_header_noted(tmp_path, views, labels):
    folder = tmp_path / "set"
    folder.mkdir()
    header = ",".join(f"f{j}" for j in range(views[0].shape[1]))
    np.savetxt(folder / "a.csv", views[0], delimiter=",", header=header, comments="")
    np.savetxt(folder / "b.csv", views[1], delimiter=",")  # no header
    (folder / "y.csv").write_text("label\n" + "\n".join(str(v) for v in labels) + "\n")
    ds = load_path(folder, preprocessing="none")
    np.testing.assert_allclose(ds.Xs[0], views[0], rtol=1e-15)
    np.testing.assert_allclose(ds.Xs[1], views[1], rtol=1e-15)
    assert all(np.array_equal(y, labels - 1) for y in ds.ys)
    assert ds.notes == ["a.csv: skipped its header row (f0, f1, f2, f3, f4)", "y.csv: skipped its header row (label)"]
    assert ds.summary()["notes"] == ds.notes


@pytest.mark.parametrize("name", ["views.npz", "view.npy"])
def test_a_text_file_with_a_numpy_suffix_is_named_as_such_without_the_pickle_hint(tmp_path, name):
    path = tmp_path / name
    path.write_text("1,2,3\n4,5,6\n")
    target = path if name.endswith(".npz") else tmp_path
    with pytest.raises(ValueError) as info:
        load_path(target)
    kind = name.rsplit(".", 1)[1]
    assert str(info.value).startswith(f"cannot read {name}: it is not an .{kind} file")
    assert "pickle" not in str(info.value)


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "obj.npz", X0=np.array([{"a": 1}], dtype=object), X1=np.ones((2, 2)))
    with pytest.raises(ValueError, match="array 'X0' holds Python objects .* never loads"):
        load_path(tmp_path / "obj.npz")


def test_unknown_extension(tmp_path):
    (tmp_path / "data.txt").write_text("1,2")
    with pytest.raises(ValueError, match="unknown file type '.txt'"):
        load_path(tmp_path / "data.txt")


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        load_path(tmp_path / "nothere.mat")
