"""Processes: every process started, and every process those started (in sessions of their own too), is stopped
on a normal exit, on an error and on SIGTERM/SIGINT. Plain Python processes here (fast, no Flower)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from otmix.federated.processes import Interrupted, Processes, SignalsRaise, live_processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# a leader that starts a grandchild in a session of its own (as the SuperLink starts its SuperExec), then waits
DETACHING = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(300)
""")


def running(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"


def wait_for_line(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):  # the whole line
            return text.strip()
        time.sleep(0.05)
    raise AssertionError(f"nothing written to {path} within {timeout} s")


def test_stop_ends_a_grandchild_that_left_the_process_group(tmp_path):
    with Processes(tmp_path, dict(os.environ)) as procs:
        leader = procs.start("leader", [sys.executable, "-c", DETACHING])
        grandchild = int(wait_for_line(tmp_path / "leader.log"))
        assert running(grandchild)
        assert os.getsid(grandchild) != os.getsid(leader.pid)  # killpg of the leader's group would miss it
        assert procs.alive() == {leader.pid, grandchild}
    assert not running(grandchild) and leader.returncode is not None
    assert procs.alive() == set()


def test_stop_finds_marked_processes_whose_parent_is_gone(tmp_path):
    """The grandchild is re-parented once the leader dies: only the marker in its environment finds it."""
    procs = Processes(tmp_path, dict(os.environ))
    with procs:
        leader = procs.start("leader", [sys.executable, "-c", DETACHING])
        grandchild = int(wait_for_line(tmp_path / "leader.log"))
        procs.kill("leader", signal.SIGKILL)
        assert leader.returncode is not None, "the leader was not reaped"
        assert running(grandchild), f"the grandchild {grandchild} died with its leader"
        found = live_processes(procs.marker)
        assert found == {grandchild}, {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in found}
    assert not running(grandchild)


def test_an_error_in_the_block_stops_everything(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), Processes(tmp_path, dict(os.environ)) as procs:
        procs.start("leader", [sys.executable, "-c", DETACHING])
        grandchild = int(wait_for_line(tmp_path / "leader.log"))
        raise RuntimeError("boom")
    assert not running(grandchild)


SIGNALLED = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from otmix.federated.processes import Interrupted, Processes
    folder = Path(sys.argv[1])
    try:
        with Processes(folder, dict(os.environ)) as procs:
            procs.start("leader", [sys.executable, "-c", sys.argv[2]])
            while not (folder / "leader.log").read_text().endswith("\\n"):
                time.sleep(0.05)
            (folder / "ready").write_text("")
            time.sleep(300)
    except Interrupted as exc:
        print(exc, flush=True)
        sys.exit(exc.exit_code)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_every_process_and_exits_with_128_plus_its_number(tmp_path, sig):
    process = subprocess.Popen([sys.executable, "-c", SIGNALLED, str(tmp_path), DETACHING], stdout=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert process.poll() is None and time.monotonic() < deadline, "the script did not start its processes"
            time.sleep(0.05)
        grandchild = int((tmp_path / "leader.log").read_text())
        assert running(grandchild)
        process.send_signal(sig)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + sig, out
    assert out.strip() == f"stopped by {signal.Signals(sig).name}"
    assert not running(grandchild)


def test_signals_raise_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with SignalsRaise():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode; the sleep is cut short
    assert caught.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_start_refuses_a_log_without_a_folder_and_a_duplicate_name(tmp_path):
    with Processes(None, dict(os.environ)) as procs:
        with pytest.raises(ValueError, match="logs folder"):
            procs.start("x", [sys.executable, "-c", "pass"])
        procs.start("x", [sys.executable, "-c", "import time; time.sleep(30)"], output="pipe")
        with pytest.raises(ValueError, match="already running"):
            procs.start("x", [sys.executable, "-c", "pass"], output="pipe")
    assert procs.alive() == set()
