"""Links: rows of different views known to be the same entity (simulated, or read from a user's file).

A link table is an int array of shape ``(n_links, n_views)``: row ``k`` gives, for one
entity, its row in every view, ``-1`` where the entity is absent from a view
(:func:`otmix.ot._constraints.check_links` states the rules). Two sources:

- :func:`simulate_links`: views unaligned by :func:`otmix.data.unalign` from an aligned
  data set (every view the same ``n`` rows, row ``e`` of every view the same entity
  ``e``); a seeded share of the entities stays linked, and the table says where each of
  them went in every view.
- :func:`read_link_file`: a csv written by the user, one line per entity, one column per
  view, row indices of the data **as given** (the first row of a view is 0), an empty
  cell where the entity is absent.
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LINK_STREAM", "link_seed", "read_link_file", "simulate_links"]

LINK_STREAM = 1  # the spawn key of the links' random stream (unalign draws from the seed itself)

_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")  # 3, -1, +2, and 3.0 (a float column of pandas with gaps)


def link_seed(seed: int) -> np.random.SeedSequence:
    """The random stream the simulated links of ``seed`` are drawn from.

    ``unalign(..., random_state=seed)`` draws the permutations from ``seed`` itself; the
    links come from their own stream of the same seed, ``SeedSequence(seed,
    spawn_key=(LINK_STREAM,))``, so which entities stay linked does not depend on how the
    permutations were drawn.

    Examples
    --------
    >>> link_seed(3).spawn_key
    (1,)
    """
    return np.random.SeedSequence(int(seed), spawn_key=(LINK_STREAM,))


def _check_fraction(fraction: Any) -> float:
    if (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
            or not 0.0 <= float(fraction) < 1.0):
        raise ValueError(f"the link fraction must be a number in [0, 1), got {fraction!r}")
    return float(fraction)


def simulate_links(
    perms: Sequence[Any],
    fraction: float,
    random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> np.ndarray:
    """The links that a seeded share of the entities keeps after :func:`otmix.data.unalign`.

    Parameters
    ----------
    perms : list of 1-D int arrays, one per view, all of length n
        The permutations ``unalign`` returned (``Xs_out[m] = Xs[m][perms[m]]``) for views of
        an aligned data set: entity ``e`` (row ``e`` of every input view) sits at row
        ``argsort(perms[m])[e]`` of output view ``m``.
    fraction : float in [0, 1)
        Share of the entities that stays linked: ``round(fraction * n)`` of them.
    random_state : int, Generator, SeedSequence or None
        Chooses the linked entities (``numpy.random.default_rng``). For one random state,
        a larger fraction links a superset of the entities of a smaller one (the first
        entities of one random order).

    Returns
    -------
    ndarray of int64, shape (round(fraction * n), n_views)
        Row ``k``: where the ``k``-th linked entity (in increasing entity order) sits in
        every view. Every entity is present in every view, so the table holds no ``-1``.

    Raises
    ------
    ValueError
        One line: a fraction outside [0, 1), views of different sizes, or an entry of
        ``perms`` that is not a permutation.

    Examples
    --------
    >>> from otmix.data import unalign
    >>> X = np.arange(10.0)[:, None]
    >>> Xs, _, perms = unalign([X, X + 100], random_state=0)
    >>> links = simulate_links(perms, 0.3, random_state=0)
    >>> links.shape
    (3, 2)
    >>> [float(Xs[1][j, 0] - Xs[0][i, 0]) for i, j in links]   # every link joins the same entity
    [100.0, 100.0, 100.0]
    """
    fraction = _check_fraction(fraction)
    if len(perms) < 2:
        raise ValueError(f"links join rows of at least two views, got {len(perms)} permutation(s)")
    arrays = [np.asarray(p) for p in perms]
    sizes = [int(p.shape[0]) if p.ndim == 1 else -1 for p in arrays]
    if len(set(sizes)) > 1:
        raise ValueError("simulated links need an aligned data set (every view the same rows); "
                         f"got views of {sizes} rows")
    n = sizes[0]
    for m, p in enumerate(arrays):
        if p.ndim != 1 or p.dtype.kind not in "iu" or not np.array_equal(np.sort(p), np.arange(n)):
            raise ValueError(f"perms[{m}] is not a permutation of the rows 0..{n - 1}")
    k = int(round(fraction * n))
    entities = np.sort(np.random.default_rng(random_state).permutation(n)[:k])
    return np.stack([np.argsort(p, kind="stable")[entities] for p in arrays], axis=1).astype(np.int64)


def _cell_index(text: str, name: str, line: int, view: int) -> int:
    """The row index of one cell (-1 for an empty cell), or the one-line error that says why not."""
    if text == "":
        return -1
    if _INTEGER.fullmatch(text):
        return int(float(text)) if "." in text else int(text)
    where = f"{name}, line {line}, column {view + 1} (view {view})"
    if _is_number(text):
        raise ValueError(f"{where}: {text!r} is not a whole row index")
    raise ValueError(f"{where}: text cell {text!r}; a cell holds a row index (0 = the first row of that view) "
                     "or is empty")


def _width_error(name: str, line: int, width: int, n_views: int) -> str:
    columns = f"{width} column{'' if width == 1 else 's'}"
    return (f"{name}, line {line}: {columns}, but the data has {n_views} views; a link file has one column per view "
            "(an empty cell where the entity is absent)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_link_file(path: str | os.PathLike, sizes: Sequence[int]) -> np.ndarray:
    """Read a user's link file: csv, one line per entity, one column per view, row indices.

    Parameters
    ----------
    path : path
        Comma-separated; every line has one cell per view. A cell holds the entity's row in
        that view (0 = the first row of the view **as given**, before anything is permuted)
        or is empty (or ``-1``) where the entity is absent from the view; a line needs at
        least two views present. A first line of column names (every cell non-empty and none
        a number) is a header and skipped; blank lines are skipped.
    sizes : sequence of int
        The rows of every view of the data the links belong to (one column per view).

    Returns
    -------
    ndarray of int64, shape (n_links, len(sizes))
        The link table, ``-1`` where an entity is absent; it passes
        :func:`otmix.ot._constraints.check_links`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        One line naming the file, the line and the problem: a file that is not text, a header
        that mixes names and numbers or leaves a column unnamed, a line with another number
        of cells than the data has views, a text cell, a number that is not a whole row
        index, a row out of range, a row of a view linked on two lines, a line with fewer than
        two views present, or a file without links.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "links.csv"
    >>> _ = path.write_text("pixels,coarse\\n0,5\\n3,\\n7,1\\n")
    >>> read_link_file(path, [10, 10])
    Traceback (most recent call last):
    ...
    ValueError: links.csv, line 3: only 1 view present; a link joins the rows of at least two views
    >>> _ = path.write_text("pixels,coarse\\n0,5\\n7,1\\n")
    >>> read_link_file(path, [10, 10]).tolist()
    [[0, 5], [7, 1]]
    """
    from ..ot._constraints import check_links

    path = Path(path)
    name = path.name
    sizes = [int(n) for n in sizes]
    if not path.is_file():
        raise FileNotFoundError(f"no such link file: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark is not a name
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {name}: it is not a text (csv) file") from None
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise ValueError(f"cannot read {name}: it is not a text (csv) file")
    lines = [(no, line) for no, line in enumerate(text.splitlines(), start=1) if line.strip()]
    rows: list[tuple[int, list[str]]] = []
    for no, line in lines:
        try:
            cells = next(csv.reader(io.StringIO(line), skipinitialspace=True))
        except csv.Error as exc:
            raise ValueError(f"{name}, line {no}: {exc}") from None
        rows.append((no, [c.strip() for c in cells]))
    n_views = len(sizes)
    if rows:
        no, cells = rows[0]
        numeric = [c == "" or _is_number(c) for c in cells]
        if not all(numeric):
            if any(numeric):
                raise ValueError(f"{name}, line {no}: a header we cannot read ({', '.join(map(repr, cells))}): a "
                                 "header row names every column and holds no numbers")
            if len(cells) != n_views:
                raise ValueError(_width_error(name, no, len(cells), n_views))
            rows = rows[1:]  # a header row of column names
    if not rows:
        raise ValueError(f"{name} holds no links (no line of row indices)")
    table = np.empty((len(rows), n_views), dtype=np.int64)
    seen: list[dict[int, int]] = [{} for _ in range(n_views)]
    for k, (no, cells) in enumerate(rows):
        if len(cells) != n_views:
            raise ValueError(_width_error(name, no, len(cells), n_views))
        for m, cell in enumerate(cells):
            row = _cell_index(cell, name, no, m)
            if row < -1 or row >= sizes[m]:
                raise ValueError(f"{name}, line {no}, column {m + 1} (view {m}): row {row} is out of range: view "
                                 f"{m} has {sizes[m]} rows (0..{sizes[m] - 1}; empty = absent)")
            if row >= 0:
                if row in seen[m]:
                    raise ValueError(f"{name}, line {no}, column {m + 1} (view {m}): row {row} is already linked "
                                     f"on line {seen[m][row]}; a row is one entity")
                seen[m][row] = no
            table[k, m] = row
        present = int((table[k] >= 0).sum())
        if present < 2:
            raise ValueError(f"{name}, line {no}: only {present} view{'' if present == 1 else 's'} present; a link "
                             "joins the rows of at least two views")
    return check_links(table, sizes, name=name)
