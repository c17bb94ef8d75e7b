"""Processes started for a deployment, and how every one of them is stopped on every exit path.

Flower's processes start processes of their own, some in new sessions (the SuperLink's
SuperExec, and through it the ServerApp), and those outlive their parents: a process group
alone cannot reach them. So :class:`Processes` gives every process it starts a marker in
its environment (``OTMIX_DEPLOYMENT=<id>``, inherited by everything they start), and
:meth:`Processes.stop` ends the groups it started, every process that carries the marker
and every descendant of its own children (read from ``/proc``), SIGTERM first, then
SIGKILL. While a :class:`Processes` block runs in the main thread, SIGTERM, SIGINT and
SIGHUP raise :class:`Interrupted`, so the block's exit (and :meth:`~Processes.stop`) runs
instead of the interpreter dying with the children left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MARKER = "OTMIX_DEPLOYMENT"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when a stop signal arrives; ``signum`` says which (exit code 128 + signum).

    A subclass of KeyboardInterrupt, so code that treats Ctrl-C as "stop now" treats SIGTERM alike.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class SignalsRaise:
    """Context manager: while active, SIGTERM, SIGINT and SIGHUP raise :class:`Interrupted` (main thread only).

    The previous handlers come back on exit. Elsewhere than in the main thread it does nothing
    (Python delivers signals to the main thread only).
    """

    def __init__(self, signals: Sequence[int] = STOP_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.previous: dict[int, Any] = {}

    def _raise(self, signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    def __enter__(self) -> SignalsRaise:
        if _in_main_thread():
            for sig in self.signals:
                self.previous[sig] = signal.signal(sig, self._raise)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()


@contextmanager
def signals_deferred(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[list[int]]:
    """Within the block the stop signals are only recorded (in the yielded list), so a second Ctrl-C or
    SIGTERM cannot cut a clean-up short; the previous handlers come back after it."""
    received: list[int] = []
    if not _in_main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in signals}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- /proc ---------------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name in brackets may hold spaces
    return int(fields[1]), fields[0]


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's process
        return False


def live_processes(marker: str | None = None, roots: Sequence[int] = ()) -> set[int]:
    """Pids of running (not zombie) processes that carry ``MARKER=marker`` in their environment or descend
    from one of ``roots``; this process excluded. Empty where there is no ``/proc``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    parents: dict[int, int] = {}
    chosen: set[int] = set()
    tag = f"{MARKER}={marker}".encode() if marker else None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None or stat[1] in "ZX":
            continue
        parents[pid] = stat[0]
        if tag is not None and _has_marker(pid, tag):
            chosen.add(pid)
    tree = set(roots)
    changed = True
    while changed:  # descendants of the roots, however deep
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    chosen |= {pid for pid in tree if pid in parents}
    chosen.discard(os.getpid())
    return chosen


def _signal(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# -- the registry ----------------------------------------------------------------------------------------------


@dataclass
class Processes:
    """Processes started for a deployment, each in its own session; :meth:`stop` ends them and all they started.

    Use as a context manager, so that nothing outlives the block: on a normal exit, on an
    error, and (main thread) on SIGTERM, SIGINT or SIGHUP, which raise :class:`Interrupted`
    inside the block.

    Attributes
    ----------
    logs : Path, optional
        Folder of the processes' logs (``NAME.log``); needed for processes started with ``output="log"``.
    env : dict
        Their environment; the marker ``OTMIX_DEPLOYMENT=<id>`` is added to it.
    started : dict
        Name → Popen of every process started.
    """

    logs: Path | None
    env: dict[str, str]
    started: dict[str, subprocess.Popen] = field(default_factory=dict)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    handle_signals: bool = True
    _signals: SignalsRaise | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.env = {**self.env, MARKER: self.marker}

    def start(self, name: str, cmd: Sequence[str], output: str = "log") -> subprocess.Popen:
        """Start ``cmd`` in a new session; ``output``: ``"log"`` (``logs/NAME.log``), ``"pipe"`` (a text pipe,
        ``process.stdout``) or ``"inherit"`` (this process's own output)."""
        if name in self.started and self.started[name].poll() is None:
            raise ValueError(f"a process named {name} is already running")
        if output not in ("log", "pipe", "inherit"):
            raise ValueError(f"output must be log, pipe or inherit, got {output!r}")
        out: IO[Any] | int | None = None
        if output == "pipe":
            out = subprocess.PIPE
        elif output == "log":
            if self.logs is None:
                raise ValueError("Processes without a logs folder cannot start a process with its output in a log")
            self.logs.mkdir(parents=True, exist_ok=True)
            out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (handed to the child, closed below)
        try:
            process = subprocess.Popen(list(cmd), stdout=out, stderr=None if out is None else subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
                                       **({"text": True, "errors": "replace"} if output == "pipe" else {}))
        finally:
            if output == "log":
                out.close()  # type: ignore[union-attr]
        self.started[name] = process
        return process

    def log(self, name: str) -> Path:
        if self.logs is None:
            raise ValueError("these processes have no logs folder")
        return self.logs / f"{name}.log"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a process's whole group (SIGKILL: an agent that crashes)."""
        process = self.started.get(name)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def alive(self) -> set[int]:
        """Pids of every running process started here or by them (marked, or descendants of ours)."""
        ours = [p.pid for p in self.started.values() if p.poll() is None]  # unreaped: the pid is still ours
        return live_processes(self.marker, ours)

    def _signal_all(self, sig: int) -> None:
        for process in self.started.values():
            if process.returncode is None:  # not reaped: the group id cannot have been reused
                try:
                    os.killpg(process.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        _signal(self.alive(), sig)

    def _wait_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            for process in self.started.values():
                process.poll()  # reap ours, so they stop counting
            if not self.alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to every group started and every process they started, SIGKILL to what is left after
        ``grace`` seconds; returns when none is left (stop signals are deferred meanwhile)."""
        with signals_deferred():
            self._signal_all(signal.SIGTERM)
            if not self._wait_gone(grace):
                self._signal_all(signal.SIGKILL)
                self._wait_gone(10.0)
            for process in self.started.values():
                if process.stdout is not None:
                    process.stdout.close()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    def __enter__(self) -> Processes:
        if self.handle_signals:
            self._signals = SignalsRaise().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        interrupted = None
        try:
            while True:
                try:
                    self.stop()
                    break
                except Interrupted as caught:  # arrived before stop() deferred the signals: stop again
                    interrupted = caught
        finally:
            if self._signals is not None:
                self._signals.__exit__(None, None, None)
                self._signals = None
        if interrupted is not None and exc[0] is None:
            raise interrupted
