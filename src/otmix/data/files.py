"""Reading the numeric files of user data: ``.npy``, ``.npz`` and ``.csv``, safely and with one-line errors.

numpy treats any file that is not an ``.npy``/``.npz`` as a pickle and, with
``allow_pickle=False``, answers with a hint to load it unsafely; here a file is
first recognised by its magic bytes, so a text file named ``.npz`` is reported as
"not an .npz file" and nothing is ever unpickled. A ``.csv`` may start with one header
row of column names: a first row that does not parse as numbers is skipped and
returned, so the caller can say so.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["CsvTable", "read_csv", "read_npy", "read_npz"]

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with members, an empty one


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(n)
    except OSError as exc:
        raise ValueError(f"cannot read {path.name}: {exc.strerror or _one_line(exc)}") from None


def _no_objects(path: Path, what: str) -> ValueError:
    return ValueError(f"cannot read {path.name}: {what} holds Python objects (dtype object), which otmix never "
                      "loads; save plain numbers")


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """The array of an ``.npy`` file (never unpickled).

    Raises
    ------
    ValueError
        One line: the file is not an .npy file, holds Python objects, or is truncated.
    """
    path = Path(path)
    if _head(path, len(NPY_MAGIC)) != NPY_MAGIC:
        raise ValueError(f"cannot read {path.name}: it is not an .npy file (no numpy header)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _no_objects(path, "it") from None
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name (never unpickled).

    Raises
    ------
    ValueError
        One line: the file is not an .npz file (a zip archive of .npy arrays), is corrupt,
        or one of its arrays holds Python objects.
    """
    path = Path(path)
    if _head(path, 4) not in ZIP_MAGICS:
        raise ValueError(f"cannot read {path.name}: it is not an .npz file (a zip archive of numpy arrays)")
    contents: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    contents[key] = archive[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc):
                        raise _no_objects(path, f"array {key!r}") from None
                    raise
    except ValueError as exc:
        if str(exc).startswith(f"cannot read {path.name}"):
            raise
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    return contents


class CsvTable(NamedTuple):
    """The numbers of a csv file and the header row that was skipped (``None`` when it had none)."""

    values: np.ndarray
    header: list[str] | None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv(path: str | os.PathLike, ndmin: int = 2) -> CsvTable:
    """A comma-separated table of numbers; a first row that is not all numbers is taken as a header.

    Parameters
    ----------
    path : path
    ndmin : int
        Passed to :func:`numpy.loadtxt` (2 for views, 1 for labels).

    Returns
    -------
    CsvTable
        ``values`` (float64) and ``header`` (the column names of the skipped first row, or None).

    Raises
    ------
    ValueError
        One line naming the file and the row that is not numeric.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "view.csv"
    >>> _ = path.write_text("height,weight\\n1.5,60\\n1.8,75\\n")
    >>> table = read_csv(path)
    >>> table.header, table.values.shape
    (['height', 'weight'], (2, 2))
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark is not a name
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    fields = [f.strip().strip('"').strip("'") for f in first.strip().split(",")]
    header = fields if first.strip() and not all(_is_number(f) for f in fields) else None
    try:
        with warnings.catch_warnings():  # an empty table is reported below, in one line
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, delimiter=",", ndmin=ndmin, skiprows=1 if header else 0, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    if values.size == 0:
        after = " after its header row" if header else ""
        raise ValueError(f"cannot read {path.name}: no rows of numbers{after}")
    return CsvTable(values, header)
