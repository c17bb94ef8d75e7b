"""The output files of a command: proven writable before any work, written together after all of it.

A command first calls :func:`prove_outputs` with every file it was asked to write
(a missing folder is created, a temporary file is made and removed beside each target,
see :func:`otmix.atomic.check_writable`), so an unwritable path fails in one line
before any training. At the end :func:`write_together` writes every output to a
temporary file and renames them into place only once all of them are written: a
failure while writing one leaves none of them behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .atomic import UnwritableOutput, atomic_path, check_writable

__all__ = ["UnwritableOutput", "prove_outputs", "removed_on_failure", "write_together"]


def _missing_top(path: Path) -> Path | None:
    """The outermost folder above ``path`` that does not exist yet (what creating it would add), or None."""
    top = None
    folder = path.parent
    while str(folder) not in ("", ".") and not folder.exists():
        top = folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return top


def prove_outputs(outputs: Mapping[str, str | os.PathLike | None]) -> list[Path]:
    """Prove that every output can be written; return the folders this created (outermost first).

    Parameters
    ----------
    outputs : mapping of option name (e.g. ``"--json"``) to a path, or None when not asked for
        Every path is checked with :func:`otmix.atomic.check_writable`, which creates a
        missing folder and makes and removes a temporary file beside the target.

    Returns
    -------
    list of Path
        The folders that did not exist before, for :func:`removed_on_failure`.

    Raises
    ------
    UnwritableOutput
        One line that starts with the option: ``--json: cannot write /proc/x.json: ...``; also when
        two options name the same file. Folders created before the failure are removed again.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> [p.name for p in prove_outputs({"--json": folder / "new" / "out.json", "--plot": None})]
    ['new']
    """
    created: list[Path] = []
    seen: dict[Path, str] = {}
    try:
        for flag, raw in outputs.items():
            if raw is None:
                continue
            path = Path(raw)
            key = Path(os.path.abspath(path))
            if key in seen:
                raise UnwritableOutput(f"{flag}: {path} is also the file of {seen[key]}; give each output its own file")
            seen[key] = flag
            try:
                top = _missing_top(path)
                if top is not None:
                    created.append(top)
                check_writable(path)
            except UnwritableOutput as exc:
                raise UnwritableOutput(f"{flag}: {exc}") from None
            except OSError as exc:  # e.g. a folder above the target that may not even be searched
                raise UnwritableOutput(f"{flag}: cannot write {path}: {exc.strerror or exc}") from None
    except UnwritableOutput:
        _remove_empty(created)
        raise
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders made for outputs if nothing was written into them (innermost first)."""
    for top in reversed(folders):
        if top.is_dir() and not any(p.is_file() or p.is_symlink() for p in top.rglob("*")):
            shutil.rmtree(top, ignore_errors=True)


@contextmanager
def removed_on_failure(folders: list[Path]) -> Iterator[None]:
    """Remove the output folders :func:`prove_outputs` created when the block fails and they stayed empty.

    A command that fails after proving its outputs (bad data, a diverging fit) then leaves
    nothing on disk, not even an empty folder.
    """
    try:
        yield
    except BaseException as exc:
        if getattr(exc, "exit_code", 1) != 0:  # click's Exit(0) is a success
            _remove_empty(folders)
        raise


def write_together(writers: Mapping[str | os.PathLike, Callable[[Path], None]]) -> list[Path]:
    """Write every output, then rename them all into place; an error leaves none of them.

    Parameters
    ----------
    writers : mapping of target path to ``write(tmp_path)``
        Each writer writes its whole output to the temporary path it is given (same folder
        and suffix as the target, so ``savefig`` picks the format from it).

    Returns
    -------
    list of Path
        The targets, written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> def broken(tmp):
    ...     raise OSError("disk full")
    >>> try:
    ...     write_together({folder / "a.txt": lambda tmp: tmp.write_text("a"), folder / "b.txt": broken})
    ... except OSError:
    ...     pass
    >>> sorted(p.name for p in folder.iterdir())
    []
    """
    targets = [Path(p) for p in writers]
    with ExitStack() as stack:  # on leaving without error every temporary file is renamed into place
        for target, write in zip(targets, writers.values()):
            write(stack.enter_context(atomic_path(target)))
    return targets
