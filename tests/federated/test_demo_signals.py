"""`otmix fed demo` stopped by SIGTERM or SIGINT mid-run: real Flower processes, none left behind.

The demo runs as a subprocess with a marker in its environment that every process it starts (SuperLink,
SuperExecs, SuperNodes, flwr run, ServerApp, ClientApps) inherits; the test counts the running processes
that carry it, before and after the signal.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import require_flwr

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def marked(mark: str) -> dict[int, str]:
    """Running (not zombie) processes with OTMIX_TEST_MARK=mark in their environment: pid -> command line."""
    tag = f"OTMIX_TEST_MARK={mark}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if tag not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2] in "ZX":
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def otmix_command() -> list[str]:
    return [str(Path(sys.executable).parent / "otmix")]


@pytest.mark.parametrize(("sig", "wait_for"), [
    (signal.SIGTERM, "flwr-clientapp"),  # mid-run: agents' ClientApps and the ServerApp up
    (signal.SIGINT, "flwr-serverapp"),   # Ctrl-C while the run starts
], ids=["SIGTERM-mid-run", "SIGINT-at-start"])
def test_demo_stopped_by_a_signal_leaves_no_process(tmp_path, sig, wait_for):
    require_flwr()
    mark = uuid.uuid4().hex
    env = {**os.environ, "OTMIX_TEST_MARK": mark}
    work = tmp_path / "work"
    demo = subprocess.Popen([*otmix_command(), "fed", "demo", "--agents", "2", "--rounds", "2", "--work", str(work)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            seen = marked(mark)
            if any(wait_for in command for command in seen.values()):
                break
            assert demo.poll() is None, f"the demo ended before {wait_for} started: {demo.communicate()}"
            assert time.monotonic() < deadline, f"no {wait_for} within 150 s: {seen}"
            time.sleep(0.2)
        names = " ".join(seen.values())
        for name in ("flower-superlink", "flower-superexec", "flower-supernode", "flwr run"):
            assert name in names, (name, seen)
        assert len(seen) >= 7, seen  # demo, SuperLink, 2 SuperNodes, 3 SuperExecs, flwr run, ServerApp...
        demo.send_signal(sig)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    left = marked(mark)
    assert left == {}, f"{len(left)} of {len(seen)} processes left: {left}"
    assert demo.returncode == 128 + sig, (demo.returncode, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"error: stopped by {signal.Signals(sig).name}; every process started for the demo has been "
                     "stopped"], err
    assert not (work / "result.json").exists()
    # off a terminal the progress display is one line per stage
    assert "starting the SuperLink (flower-superlink)" in out and "starting agent 1 (2 of 2" in out, out
