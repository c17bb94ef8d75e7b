"""Reading user files safely: magic bytes first, never unpickled, one-line errors, csv header rows."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from typer.testing import CliRunner

from otmix.cli import app
from otmix.data.files import read_csv, read_npy, read_npz


def test_a_text_file_named_npz_is_not_an_npz_and_no_pickle_hint(tmp_path):
    path = tmp_path / "views.npz"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError) as info:
        read_npz(path)
    message = str(info.value)
    assert message == "cannot read views.npz: it is not an .npz file (a zip archive of numpy arrays)"
    assert "allow_pickle" not in message and "\n" not in message


def test_a_pickle_named_npy_is_refused_without_being_loaded(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(pickle.dumps({"payload": 1}))
    with pytest.raises(ValueError, match=r"^cannot read x.npy: it is not an .npy file \(no numpy header\)$"):
        read_npy(path)


def test_object_arrays_inside_an_npz_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, X0=np.zeros((3, 2)), X1=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"array 'X1' holds Python objects \(dtype object\), which otmix never loads"):
        read_npz(path)


def test_a_truncated_npz_is_one_line(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, X0=np.arange(2000.0).reshape(100, 20))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError) as info:
        read_npz(path)
    assert str(info.value).startswith("cannot read cut.npz: ") and "\n" not in str(info.value)


def test_npz_and_npy_round_trip(tmp_path):
    X = np.random.default_rng(0).normal(size=(5, 3))
    np.savez(tmp_path / "a.npz", X0=X, y=np.arange(5))
    np.save(tmp_path / "a.npy", X)
    got = read_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(got["X0"], X)
    np.testing.assert_array_equal(got["y"], np.arange(5))
    np.testing.assert_array_equal(read_npy(tmp_path / "a.npy"), X)


def test_csv_header_row_is_skipped_and_returned(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("age,height\n1,2\n3,4.5\n")
    table = read_csv(path)
    assert table.header == ["age", "height"]
    np.testing.assert_array_equal(table.values, [[1.0, 2.0], [3.0, 4.5]])
    path.write_text("1,2\n3,4.5\n")
    assert read_csv(path).header is None


def test_cli_with_a_text_file_named_npz_exits_2_in_one_line(tmp_path):
    path = tmp_path / "views.npz"
    path.write_text("not numbers at all\n")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["cluster", "--data", str(path), "--clusters", "2", "--seeds", "1",
                                      "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert "not an .npz file" in result.output and "allow_pickle" not in result.output
    assert "Traceback" not in result.output and not out.exists()
