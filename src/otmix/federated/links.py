"""Linked records in the federated protocol: only entity ids and row indices travel, never features.

A link table (:mod:`otmix.data.links`) has one line per entity and one column per view: the
entity's row in that view, ``-1`` where it is absent. In a deployment it comes from an ID
match between the sites; every agent holds **its own column** (``links=/path/links.csv`` in
its node config: the whole table, of which it reads column ``modality``, or its column
alone) and the server holds the entity ids (the table's line numbers ``0..n_links-1``).

The protocol (:mod:`otmix.federated.server_app`):

1. the first query carries the entity ids; every agent answers with its rows of them
   (:func:`agent_link_rows`), so the server holds the table in row indices
   (:func:`link_table`) for the linked barycenter and the read-out;
2. with every request for codes the server sends the entities of every batch
   (:func:`batch_entities`, as the in-process :class:`otmix.train.cluster.BatchSampler`
   draws them: ``round(link_share × batch_size)`` entities per batch from an endless
   shuffled stream); the agent puts the rows of those it holds first in its batch and
   fills it with its own unlinked rows (:meth:`otmix.federated.task.Agent.encode`);
3. the server turns the entities into every batch's link table (:func:`batch_link_tables`)
   and solves the linked FGW barycenter, exactly the in-process step.

Numpy only: an agent imports this module at every message.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ENTITY_STREAM = 9973  # the spawn word of the server's entity stream (the run's seed is the other)
_UNBOUNDED = np.iinfo(np.int64).max  # the rows of the other views' columns, which an agent does not know


def _single_column(path: Path, text: str, n_rows: int) -> np.ndarray:
    """An agent's own column: one cell per line (a row index, empty or -1: absent), optional header."""
    lines = [(no, line.strip()) for no, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if lines and not _is_int(lines[0][1]) and lines[0][1] not in ("", "-1"):
        try:
            float(lines[0][1])
        except ValueError:
            lines = lines[1:]  # a header naming the column
    if not lines:
        raise ValueError(f"{path.name} holds no links (no line of row indices)")
    rows = np.empty(len(lines), dtype=np.int64)
    seen: dict[int, int] = {}
    for k, (no, cell) in enumerate(lines):
        if not _is_int(cell):
            raise ValueError(f"{path.name}, line {no}: {cell!r} is not a row index (0 = the first row; empty or -1 "
                             "= absent)")
        row = int(float(cell))
        if row < -1 or row >= n_rows:
            raise ValueError(f"{path.name}, line {no}: row {row} is out of range: this agent's view has {n_rows} "
                             f"rows (0..{n_rows - 1}; -1 = absent)")
        if row >= 0:
            if row in seen:
                raise ValueError(f"{path.name}, line {no}: row {row} is already linked on line {seen[row]}; a row "
                                 "is one entity")
            seen[row] = no
        rows[k] = row
    return rows


def _is_int(cell: str) -> bool:
    text = cell.strip().lstrip("+-")
    if text.endswith(".0"):
        text = text[:-2]
    return text.isdigit()


def read_agent_links(path: str | Path, modality: int, n_rows: int) -> np.ndarray:
    """An agent's column of a link file: its row of every entity (``-1`` where the entity is absent).

    Parameters
    ----------
    path : path
        A csv link file (:func:`otmix.data.read_link_file`: one line per entity, one column per
        view, row indices of the data as given), or the agent's column alone (one cell a line).
    modality : int
        The agent's view: its column in a file of several columns.
    n_rows : int
        Rows of the agent's view (every index must be one of them).

    Returns
    -------
    ndarray of int64, shape (n_links,)

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        One line: the file has no column for this agent, an index is out of the agent's rows,
        a row linked twice, or any problem :func:`otmix.data.read_link_file` names.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "links.csv"
    >>> _ = path.write_text("0,5,\\n3,,2\\n7,1,4\\n")
    >>> read_agent_links(path, 1, 10).tolist()
    [5, -1, 1]
    >>> read_agent_links(path, 3, 10)
    Traceback (most recent call last):
    ...
    ValueError: links.csv has 3 columns (views 0-2): agent 3 has no column in it
    """
    from ..data.links import read_link_file

    path = Path(path)
    modality, n_rows = int(modality), int(n_rows)
    if not path.is_file():
        raise FileNotFoundError(f"no such link file: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {path.name}: it is not a text (csv) file") from None
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise ValueError(f"{path.name} holds no links (no line of row indices)")
    width = len(next(csv.reader(io.StringIO(first), skipinitialspace=True)))
    if width == 1:
        return _single_column(path, text, n_rows)
    if modality >= width:
        raise ValueError(f"{path.name} has {width} columns (views 0-{width - 1}): agent {modality} has no column in "
                         "it")
    sizes = [n_rows if m == modality else _UNBOUNDED for m in range(width)]
    return np.ascontiguousarray(read_link_file(path, sizes)[:, modality])


def write_agent_links(path: str | Path, rows: np.ndarray) -> None:
    """Write one agent's column (one row index a line, ``-1`` absent): what a simulated site's link file holds."""
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(f"{int(r)}\n" for r in np.asarray(rows).ravel()))


def agent_link_rows(column: np.ndarray | None, ids: np.ndarray, modality: int) -> np.ndarray:
    """The agent's rows of the server's entity ids (its answer to the first query).

    Raises a one-line ValueError when the agent has no link column, or when the ids are
    not the lines of its link file.
    """
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if column is None:
        raise ValueError(f"agent {modality} has no link file ('links' in its --node-config), but the server's run "
                         f"links {ids.size} entities")
    if ids.size != column.size or (ids.size and (ids.min() < 0 or ids.max() >= column.size)):
        raise ValueError(f"agent {modality}'s link file has {column.size} entities, but the server's run links "
                         f"{ids.size} (ids 0..{ids.size - 1}): the link files do not belong to this run")
    return np.ascontiguousarray(column[ids])


def link_table(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """The server's link table from every agent's rows (one column per agent, in modality order).

    Entities present in fewer than two of these agents are kept (``-1`` rows are harmless:
    a batch drops them); every column gets the test of :func:`otmix.ot._constraints.check_links`
    (:func:`~otmix.ot._constraints.link_column_problem`: indices in range, no row linked twice).
    """
    from ..ot._constraints import link_column_problem  # here: agents import this module at every message

    table = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
    for m, (column, n) in enumerate(zip(table.T, sizes)):
        k, twice = link_column_problem(column, n)
        if k is not None:
            raise ValueError(f"agent {m} links entity {k} to row {column[k]}, out of its {n} rows")
        if twice is not None:
            raise ValueError(f"agent {m} links its row {twice} to more than one entity")
    return table


def linked_rows(table: np.ndarray) -> np.ndarray | None:
    """The rows of ``table`` present in at least two views (a link table for the solvers), or None."""
    keep = (table >= 0).sum(axis=1) >= 2
    return table[keep] if keep.any() else None


def links_per_batch(n_links: int, batch_size: int, link_share: float) -> int:
    """Entities in every batch: ``round(link_share × batch_size)``, at least one, at most all (as in-process)."""
    return min(int(n_links), max(1, int(round(float(link_share) * int(batch_size)))))


def batch_entities(n_links: int, n_batches: int, exchange: int, batch_size: int, link_share: float,
                   seed: int) -> np.ndarray:
    """The entities of the ``n_batches`` batches of one exchange, shape (S, k): an endless shuffled stream.

    Exchange ``j`` (the codes of round ``j + 1``) takes the ``j``-th block of ``S × k``
    entities from passes over all entities, each pass in its own seeded order, as the
    in-process sampler's entity stream does (every entity once per pass). The stream is a
    function of ``(seed, exchange)``, so a resumed server draws what it would have drawn.

    Examples
    --------
    >>> batch_entities(5, 2, 0, batch_size=4, link_share=0.5, seed=0).shape
    (2, 2)
    >>> sorted(batch_entities(4, 2, 0, 4, 0.5, 0).ravel().tolist())   # one pass: every entity once
    [0, 1, 2, 3]
    """
    k = links_per_batch(n_links, batch_size, link_share)
    start, stop = int(exchange) * int(n_batches) * k, (int(exchange) + 1) * int(n_batches) * k
    out = []
    for p in range(start // n_links, (stop - 1) // n_links + 1):
        order = np.random.default_rng([int(seed), ENTITY_STREAM, p]).permutation(n_links)
        lo, hi = max(start, p * n_links) - p * n_links, min(stop, (p + 1) * n_links) - p * n_links
        out.append(order[lo:hi])
    return np.concatenate(out).reshape(int(n_batches), k).astype(np.int64)


def batch_rows(column: np.ndarray, entities: np.ndarray) -> np.ndarray:
    """The agent's rows of one batch's entities, in the batch's order (those it does not hold are skipped)."""
    rows = np.asarray(column)[np.asarray(entities, dtype=np.int64)]
    return rows[rows >= 0]


def batch_link_tables(table: np.ndarray, entities: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """Every batch's link table (positions in the agents' batches, ``-1`` absent), as the in-process sampler gives.

    Parameters
    ----------
    table : int array (n_links, M)
        The rows of every entity in each of the M agents mixed now (``-1`` absent).
    entities : list of M int arrays (S, k)
        The entities every agent's batches were drawn with (the same for all agents, except
        an agent whose codes come from an earlier exchange).

    Returns
    -------
    list of S arrays (n, M) or None
        Row per drawn entity, its position in every agent's batch (the agent's rows of the
        batch's entities come first, in the batch's order); entities in fewer than two
        batches are dropped; None when none is left. When an agent's batch was drawn with
        other entities (its codes are from an earlier exchange), entities are matched by id.
    """
    M = table.shape[1]
    S = int(np.shape(entities[0])[0])
    out: list[np.ndarray | None] = []
    for s in range(S):
        drawn = [np.asarray(entities[m][s], dtype=np.int64) for m in range(M)]
        if all(np.array_equal(d, drawn[0]) for d in drawn):  # the usual case: exactly the in-process table
            present = table[drawn[0]] >= 0
            rows = np.full(present.shape, -1, dtype=np.int64)
            for m in range(M):
                rows[present[:, m], m] = np.arange(int(present[:, m].sum()))
        else:  # an agent's codes come from another exchange: match its batch's entities by id
            position: list[dict[int, int]] = []
            order: list[int] = []
            for m in range(M):
                held = [int(e) for e in drawn[m] if table[int(e), m] >= 0]
                where: dict[int, int] = {}
                for p, e in enumerate(held):
                    where.setdefault(e, p)  # an entity drawn twice (a pass boundary): its first position
                position.append(where)
                order += [int(e) for e in drawn[m] if int(e) not in order]
            rows = np.array([[position[m].get(e, -1) for m in range(M)] for e in order],
                            dtype=np.int64).reshape(-1, M)
        keep = (rows >= 0).sum(axis=1) >= 2
        out.append(rows[keep] if keep.any() else None)
    return out
