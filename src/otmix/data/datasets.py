"""Named data sets (the paper's benchmarks, read from a data folder) and user files (.mat, .npz, a folder)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .dataset import Dataset
from .files import read_csv, read_npy, read_npz
from .preprocess import preprocess_views
from .views import _one_line, _to_dense, check_views

__all__ = ["DATASET_NAMES", "Dataset", "data_root", "default_data_root", "load_dataset", "load_path",
           "missing_data"]

logger = logging.getLogger(__name__)

DATASET_NAMES = ("digits2", "prokaryotic", "movies", "orl", "orl4")
LABEL_KEYS = ("y", "Y", "gt", "truth", "labels")


def default_data_root() -> Path:
    """Where the data sets are looked for when ``$OTMIX_DATA`` is not set.

    In a source checkout (this file under ``<repo>/src/otmix/`` beside ``<repo>/pyproject.toml``):
    ``<repo>/../shared/data``, the project's shared data folder. In an installed package (a wheel):
    the user's data folder, ``$XDG_DATA_HOME/otmix/data`` (default ``~/.local/share/otmix/data``;
    ``%LOCALAPPDATA%\\otmix\\data`` on Windows). The folder need not exist.

    Examples
    --------
    >>> default_data_root().name
    'data'
    """
    here = Path(__file__).resolve()
    repo = here.parents[3]
    if here.parents[2].name == "src" and (repo / "pyproject.toml").is_file():
        return repo.parent / "shared" / "data"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "otmix" / "data"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "otmix" / "data"


def data_root() -> Path:
    """The folder that holds the data sets: ``$OTMIX_DATA`` if set, else :func:`default_data_root`.

    The folder need not exist.

    Examples
    --------
    >>> isinstance(data_root(), Path)
    True
    """
    env = os.environ.get("OTMIX_DATA")
    if env:
        return Path(env).expanduser()
    return default_data_root()


def missing_data(name: str, path: Path) -> FileNotFoundError:
    """The one-line error for a data set whose file ``path`` is missing: where data was looked for, how to fix it.

    Examples
    --------
    >>> str(missing_data("orl", Path("/nowhere/orl/orl.mat"))).startswith("orl needs /nowhere/orl/orl.mat")
    True
    """
    env = os.environ.get("OTMIX_DATA")
    where = (f"OTMIX_DATA={env}" if env else
             f"OTMIX_DATA is not set, so the default {default_data_root()} was used")
    return FileNotFoundError(f"{name} needs {path}, which does not exist ({where}); set OTMIX_DATA to the folder "
                             "that holds the data sets (prokaryotic/, movies/, orl/, orl_4view/, fsdd/, mnist/)")


# ---------------------------------------------------------------- reading files


def _read_mat(path: Path) -> dict[str, Any]:
    import scipy.io

    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises many types on corrupt files
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    return {k: v for k, v in contents.items() if not k.startswith("__")}


def _require(name: str, path: Path) -> Path:
    if not path.is_file():
        raise missing_data(name, path)
    return path


def _cells(value: np.ndarray, what: str) -> list[Any]:
    """The entries of a 1xV or Vx1 MATLAB cell array."""
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise ValueError(f"{what} is not a cell array")
    if value.ndim == 2 and min(value.shape) > 1:
        raise ValueError(f"{what} must be a 1xV or Vx1 cell array, got shape {value.shape}")
    return [_to_dense(c) for c in value.ravel()]


def _labels_from_mat(contents: dict[str, Any], n_views: int) -> list[Any] | None:
    key = next((k for k in LABEL_KEYS if k in contents), None)
    if key is None:
        return None
    value = contents[key]
    if isinstance(value, np.ndarray) and value.dtype == object:
        cells = [np.asarray(c).ravel() for c in _cells(value, f"labels '{key}'")]
        return cells * n_views if len(cells) == 1 else cells
    return [np.asarray(_to_dense(value)).ravel()] * n_views


def _orient(views: list[Any], labels: list[Any] | None) -> list[Any]:
    """Transpose the cells stored features x samples, judging by the label lengths (or the shared dimension)."""
    views = [np.asarray(v) for v in views]
    if not all(v.ndim == 2 for v in views):
        return views  # check_views names the offending view
    if labels is not None and len(labels) == len(views):
        out = []
        for v, y in zip(views, labels):
            n = np.asarray(y).size
            out.append(v.T if v.shape[0] != n and v.shape[1] == n else v)
        return out
    if len({v.shape[0] for v in views}) == 1:
        return views
    if len({v.shape[1] for v in views}) == 1:
        return [v.T for v in views]
    return views


def _load_mat(path: Path) -> tuple[list[Any], list[Any] | None, list[str]]:
    contents = _read_mat(path)
    if "X" not in contents or not isinstance(contents["X"], np.ndarray) or contents["X"].dtype != object:
        raise ValueError(f"no cell array 'X' in {path.name} (keys: {', '.join(sorted(contents)) or 'none'})")
    views = _cells(contents["X"], f"'X' in {path.name}")
    labels = _labels_from_mat(contents, len(views))
    return _orient(views, labels), labels, [f"view{m}" for m in range(len(views))]


def _numbered(keys: Sequence[str], prefix: str, path: Path) -> list[str]:
    found = sorted(int(m.group(1)) for k in keys if (m := re.fullmatch(rf"{prefix}(\d+)", k)))
    if found != list(range(len(found))):
        raise ValueError(f"arrays {prefix}0, {prefix}1, ... in {path.name} must be numbered from 0 without gaps")
    return [f"{prefix}{i}" for i in found]


def _load_npz(path: Path) -> tuple[list[Any], list[Any] | None, list[str]]:
    contents = read_npz(path)
    names = _numbered(list(contents), "X", path)
    if not names:
        raise ValueError(f"no arrays X0, X1, ... in {path.name} (keys: {', '.join(sorted(contents)) or 'none'})")
    label_names = _numbered(list(contents), "y", path)
    if "y" in contents and label_names:
        raise ValueError(f"{path.name} has both a shared 'y' and per-view y0, y1, ...; keep one")
    if label_names and len(label_names) != len(names):
        raise ValueError(f"{path.name} has {len(names)} views but {len(label_names)} per-view label arrays")
    labels = [contents[k] for k in label_names] if label_names else contents.get("y")
    return [contents[k] for k in names], labels, names


def _read_table(path: Path, ndmin: int, notes: list[str]) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return read_npy(path)
    table = read_csv(path, ndmin=ndmin)
    if table.header is not None:
        shown = ", ".join(table.header[:5]) + (", ..." if len(table.header) > 5 else "")
        notes.append(f"{path.name}: skipped its header row ({shown})")
        logger.info("%s: skipped the header row %s", path, table.header)
    return table.values


def _load_folder(path: Path, notes: list[str]) -> tuple[list[Any], list[Any] | None, list[str]]:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".npy", ".csv"))
    label_files = [p for p in files if p.stem in ("y", "labels")]
    if len(label_files) > 1:
        raise ValueError(f"folder {path} has several label files: {', '.join(p.name for p in label_files)}")
    view_files = [p for p in files if p not in label_files]
    if not view_files:
        raise ValueError(f"no .npy or .csv view files in folder {path}")
    views = [_read_table(p, 2, notes) for p in view_files]
    labels = _read_table(label_files[0], 1, notes) if label_files else None
    return views, labels, [p.stem for p in view_files]


# ---------------------------------------------------------------- the registry


def _load_digits2(root: Path) -> tuple[list[Any], list[Any], list[str], str]:
    from .digits2 import digits2_views

    views, y = digits2_views(0)
    return views, [y, y], ["pixels", "coarse"], "sklearn.datasets.load_digits (bundled with scikit-learn)"


def _load_prokaryotic(root: Path) -> tuple[list[Any], list[Any], list[str], str]:
    path = _require("prokaryotic", root / "prokaryotic" / "prokaryotic.mat")
    contents = _read_mat(path)
    names = ["text", "proteome_comp", "gene_repert"]
    missing = [k for k in [*names, "truth"] if k not in contents]
    if missing:
        raise ValueError(f"{path.name} lacks {', '.join(missing)} (keys: {', '.join(sorted(contents))})")
    y = np.asarray(contents["truth"]).ravel()
    return [contents[k] for k in names], [y] * 3, names, str(path)


def _load_movies(root: Path) -> tuple[list[Any], list[Any], list[str], str]:
    path = _require("movies", root / "movies" / "Movies.mat")
    views, labels, _ = _load_mat(path)
    if labels is None or len(views) != 2:
        raise ValueError(f"{path.name} should hold a 2-view cell 'X' and labels 'y'")
    return views, labels, ["keywords", "actors"], str(path)


def _load_orl(root: Path) -> tuple[list[Any], list[Any], list[str], str]:
    path = _require("orl", root / "orl" / "orl.mat")
    label_path = _require("orl", root / "orl" / "orl_y.mat")
    views, _, _ = _load_mat(path)
    label_contents = _read_mat(label_path)
    labels = _labels_from_mat(label_contents, len(views))
    if labels is None:
        raise ValueError(f"no labels 'y' in {label_path.name} (keys: {', '.join(sorted(label_contents))})")
    return _orient(views, labels), labels, ["view0", "view1"], f"{path} + {label_path.name}"


def _load_orl4(root: Path) -> tuple[list[Any], list[Any], list[str], str]:
    path = _require("orl4", root / "orl_4view" / "ORL.mat")
    views, labels, _ = _load_mat(path)
    if labels is None:
        raise ValueError(f"no labels 'Y' in {path.name}")
    return views, labels, [f"view{m}" for m in range(len(views))], str(path)


_Loader = Callable[[Path], tuple[list[Any], list[Any], list[str], str]]
_REGISTRY: MappingProxyType[str, tuple[_Loader, str]] = MappingProxyType(
    {
        "digits2": (_load_digits2, "zscore"),
        "prokaryotic": (_load_prokaryotic, "zscore"),
        "movies": (_load_movies, "tfidf"),
        "orl": (_load_orl, "zscore"),
        "orl4": (_load_orl4, "zscore"),
    }
)


def _methods(preprocessing: str | Sequence[str], n_views: int) -> list[str]:
    if isinstance(preprocessing, str):
        return [preprocessing.lower()] * n_views
    if not isinstance(preprocessing, (list, tuple)) or len(preprocessing) != n_views:
        got = len(preprocessing) if isinstance(preprocessing, (list, tuple)) else type(preprocessing).__name__
        raise ValueError(f"preprocessing must be one string or a list with one per view: got {got} for {n_views}")
    return [str(m).lower() for m in preprocessing]


def _finish(
    name: str,
    views: list[Any],
    labels: Any,
    view_names: Sequence[str],
    source: str,
    preprocessing: str | Sequence[str],
    notes: Sequence[str] = (),
) -> Dataset:
    Xs, ys = check_views(views, labels)
    methods = _methods(preprocessing, len(Xs))
    return Dataset(name, preprocess_views(Xs, methods), ys, list(view_names), methods, source, list(notes))


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, preprocessing: str | Sequence[str] | None = None
) -> Dataset:
    """Load a named data set, preprocessed, with labels coded 0..C-1.

    Parameters
    ----------
    name : {"digits2", "prokaryotic", "movies", "orl", "orl4"}
        Case-insensitive. ``digits2`` is built in; the others are read from ``data_dir``.
    data_dir : path, optional
        The folder holding ``prokaryotic/``, ``movies/``, ``orl/`` and ``orl_4view/``; default ``data_root()``.
    preprocessing : str or list of str, optional
        Override the data set's default (``tfidf`` for movies, ``zscore`` for the others).

    Returns
    -------
    Dataset

    Examples
    --------
    >>> load_dataset("digits2").summary()["n_features"]
    [64, 6]
    """
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    key = name.lower()
    loader, default = _REGISTRY[key]
    root = Path(data_dir).expanduser() if data_dir is not None else data_root()
    views, labels, view_names, source = loader(root)
    return _finish(key, views, labels, view_names, source, default if preprocessing is None else preprocessing)


def load_path(path: str | os.PathLike[str], preprocessing: str | Sequence[str] = "zscore") -> Dataset:
    """Load a user's multi-view data from a ``.mat`` file, a ``.npz`` file or a folder.

    Parameters
    ----------
    path : path
        ``.mat``: a cell array ``X`` (1xV or Vx1) of views, each samples x features or features x samples
        (decided by the label length, else by the dimension all views share); labels under the first of
        ``y``, ``Y``, ``gt``, ``truth``, ``labels`` (a vector for all views, or a cell with one per view).
        ``.npz``: arrays ``X0``, ``X1``, ... and optionally ``y`` (shared) or ``y0``, ``y1``, ... (per view).
        A folder: one view per ``.npy`` / ``.csv`` file (sorted by name; csv is comma-separated numbers,
        optionally below one header row of column names, which is skipped and noted in ``Dataset.notes``),
        the file named ``y`` or ``labels`` holding the labels.
    preprocessing : str or list of str
        One of ``PREPROCESSING`` for all views, or one per view.

    Returns
    -------
    Dataset
        Named after the file (or folder) stem; ``ys`` is None when the file holds no labels.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    notes: list[str] = []
    if p.is_dir():
        views, labels, names = _load_folder(p, notes)
    elif p.suffix.lower() == ".mat":
        views, labels, names = _load_mat(p)
    elif p.suffix.lower() == ".npz":
        views, labels, names = _load_npz(p)
    else:
        raise ValueError(f"unknown file type {p.suffix or '(none)'!r} for {p.name}; use .mat, .npz or a folder")
    return _finish(p.stem, views, labels, names, str(p), preprocessing, notes)
