"""Atomic file output: write to a temporary file next to the target, then rename it into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``, on error it is removed.

    The file gets permissions ``mode`` (``mkstemp`` would leave it private, 0600).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                               suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename: never a half-written file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


class UnwritableOutput(ValueError):
    """An output path that cannot be written; the message is one line that names the path and why."""


def check_writable(path: str | os.PathLike, *, create_folder: bool = True) -> Path:
    """Prove before any work that ``path`` can be written: raise :class:`UnwritableOutput` if not.

    The folder is created when missing (``create_folder``); a temporary file is then created and
    removed beside the target, exactly as :func:`atomic_path` will do at the end, so a read-only
    file system, a folder without write permission, a path under ``/proc`` or a target that is a
    folder all fail here, in one line, instead of after the work. The target itself is not touched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable(folder / "new" / "out.json").parent.is_dir()
    True
    >>> list((folder / "new").iterdir())
    []
    """
    path = Path(path)
    try:
        is_dir = path.is_dir()
        folder = path.parent if str(path.parent) else Path(".")
        exists = folder.exists()
    except OSError as exc:  # a folder above cannot even be entered
        raise UnwritableOutput(f"cannot write {path}: {exc.strerror or exc}") from None
    if is_dir:
        raise UnwritableOutput(f"{path} is a folder; give a file name")
    if not exists:
        if not create_folder:
            raise UnwritableOutput(f"folder {folder} does not exist")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnwritableOutput(f"cannot create folder {folder} for {path.name}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise UnwritableOutput(f"{folder} is not a folder, so {path.name} cannot be written there")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".check")
    except OSError as exc:
        raise UnwritableOutput(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    return path
