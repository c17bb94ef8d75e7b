"""Links: simulated after unalign (every link joins one entity), read from a user's csv (one-line errors)."""

import doctest

import numpy as np
import pytest

import otmix.data.links
from otmix.data import link_seed, read_link_file, simulate_links, unalign


def _entity_views(n=50, n_views=3):
    """Views whose every cell holds its row's entity id (view m adds 1000 m): a row says which entity it is."""
    return [np.repeat(np.arange(n, dtype=float)[:, None] + 1000 * m, 2, axis=1) for m in range(n_views)]


def test_simulated_links_point_at_the_same_entity_in_every_view():
    Xs, _, perms = unalign(_entity_views(), random_state=3)
    links = simulate_links(perms, 0.2, random_state=link_seed(3))
    assert links.shape == (10, 3) and links.dtype == np.int64
    entity = np.stack([Xs[m][links[:, m], 0] - 1000 * m for m in range(3)], axis=1)
    assert (entity == entity[:, :1]).all()  # the same entity in every view
    assert len(np.unique(entity[:, 0])) == 10  # ten different entities
    assert (links >= 0).all() and not any(np.array_equal(links[:, m], links[:, 0]) for m in (1, 2))


def test_the_fraction_is_rounded_seeded_and_nested():
    _, _, perms = unalign(_entity_views(n=40, n_views=2), random_state=0)
    assert simulate_links(perms, 0.0).shape == (0, 2)
    assert len(simulate_links(perms, 0.05, random_state=1)) == 2  # round(2.0)
    assert len(simulate_links(perms, 0.99, random_state=1)) == 40  # round(39.6)
    a = simulate_links(perms, 0.1, random_state=link_seed(7))
    assert np.array_equal(a, simulate_links(perms, 0.1, random_state=link_seed(7)))
    assert not np.array_equal(a, simulate_links(perms, 0.1, random_state=link_seed(8)))
    more = simulate_links(perms, 0.2, random_state=link_seed(7))
    assert {tuple(r) for r in a} <= {tuple(r) for r in more}  # a larger fraction links a superset


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5, float("nan"), True, "0.1", None])
def test_a_fraction_outside_zero_one_is_one_line(fraction):
    _, _, perms = unalign(_entity_views(n=10, n_views=2), random_state=0)
    with pytest.raises(ValueError, match=r"link fraction must be a number in \[0, 1\)") as info:
        simulate_links(perms, fraction)
    assert "\n" not in str(info.value)


def test_simulated_links_need_equal_sizes_and_permutations():
    with pytest.raises(ValueError, match=r"aligned data set .* \[5, 4\] rows"):
        simulate_links([np.arange(5), np.arange(4)], 0.5)
    with pytest.raises(ValueError, match=r"perms\[1\] is not a permutation"):
        simulate_links([np.arange(5), np.array([0, 1, 1, 3, 4])], 0.5)
    with pytest.raises(ValueError, match="at least two views"):
        simulate_links([np.arange(5)], 0.5)


# ---------------------------------------------------------------- link files


def _write(tmp_path, text, name="links.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_link_file_round_trips(tmp_path):
    table = np.array([[0, 5, -1], [3, -1, 2], [9, 0, 7], [4, 4, 4]])
    lines = [",".join("" if v < 0 else str(v) for v in row) for row in table]
    path = _write(tmp_path, "view a,view b,view c\n" + "\n".join(lines) + "\n")
    read = read_link_file(path, [10, 6, 8])
    assert read.dtype == np.int64 and np.array_equal(read, table)
    # no header, spaces, a blank line, an explicit -1, quotes, pandas' 3.0 for an int column with gaps, CRLF
    path = _write(tmp_path, '0, 5, -1\r\n\r\n3.0,,"2"\r\n9,0,7\r\n4 , 4 ,4\r\n', "b.csv")
    assert np.array_equal(read_link_file(path, [10, 6, 8]), table)
    # a spreadsheet's byte-order mark is not part of the header
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode())
    assert read_link_file(path, [3, 3]).tolist() == [[1, 2]]


BAD_FILES = {
    "text cell": ("a,b\n0,1\n2,x\n", r"bad\.csv, line 3, column 2 \(view 1\): text cell 'x'"),
    "unreadable header": ("a,1\n0,1\n", r"bad\.csv, line 1: a header we cannot read"),
    "header with a gap": ("a,\n0,1\n", r"line 1: a header we cannot read"),
    "numbers in the header": ("view0,nan\n0,1\n", r"line 1: a header we cannot read"),
    "header of another width": ("a,b,c\n0,1\n", r"line 1: 3 columns, but the data has 2 views"),
    "too many columns": ("0,1,2\n", r"line 1: 3 columns, but the data has 2 views; a link file has one column"),
    "ragged": ("0,1\n2,3,4\n", r"line 2: 3 columns, but the data has 2 views"),
    "too few columns": ("0\n", r"line 1: 1 column, but the data has 2 views"),
    "not whole": ("0,1\n2.5,3\n", r"line 2, column 1 \(view 0\): '2.5' is not a whole row index"),
    "out of range": ("0,1\n2,10\n", r"line 2, column 2 \(view 1\): row 10 is out of range: view 1 has 10 rows"),
    "negative": ("0,-2\n", r"line 1, column 2 \(view 1\): row -2 is out of range"),
    "duplicate": ("0,1\n2,3\n4,1\n", r"line 3, column 2 \(view 1\): row 1 is already linked on line 1"),
    "one view": ("0,1\n2,\n", r"line 2: only 1 view present"),
    "no view": (",\n", r"line 1: only 0 views present"),
    "empty": ("", r"bad\.csv holds no links"),
    "header only": ("a,b\n", r"bad\.csv holds no links"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_link_file_is_one_line_naming_file_and_line(tmp_path, case):
    text, match = BAD_FILES[case]
    with pytest.raises(ValueError, match=match) as info:
        read_link_file(_write(tmp_path, text, "bad.csv"), [10, 10])
    assert "\n" not in str(info.value)


def test_a_binary_or_missing_link_file(tmp_path):
    path = tmp_path / "links.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match=r"cannot read links\.npz: it is not a text \(csv\) file"):
        read_link_file(path, [5, 5])
    with pytest.raises(FileNotFoundError, match="no such link file"):
        read_link_file(tmp_path / "missing.csv", [5, 5])


def test_docstring_examples_run():
    failures, tried = doctest.testmod(otmix.data.links, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
