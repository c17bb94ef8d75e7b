import json
import stat

import pytest

from otmix.atomic import atomic_path, write_json_atomic


def test_json_is_complete_and_readable_by_others(tmp_path):
    out = tmp_path / "x.json"
    write_json_atomic(out, {"a": [1, 2]})
    assert json.loads(out.read_text()) == {"a": [1, 2]}
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    out = tmp_path / "x.json"
    out.write_text("old")
    with pytest.raises(TypeError):
        write_json_atomic(out, {"bad": object()})
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "y.png") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
