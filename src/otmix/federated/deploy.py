"""A real Flower deployment: SuperLink and SuperNode processes, the app bundle, ``flwr run``.

Used by ``otmix fed superlink | agent | run | demo`` and by the loopback tests. Every
process is started through :class:`~otmix.federated.processes.Processes`, which stops it
and every process it started (Flower's SuperExec, ServerApp and ClientApp runners, some in
sessions of their own) on every exit path, SIGTERM and SIGINT included. Offline by design:
telemetry off, runtime dependency installation off.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .processes import Interrupted, Processes

__all__ = ["Interrupted", "Processes", "flwr_run", "run_loopback", "server_stage"]

APP_NAME = "otmix-fed"


def flower_env(home: str | Path | None = None) -> dict[str, str]:
    """Environment for Flower processes: telemetry off, this interpreter's scripts first on PATH."""
    env = dict(os.environ)
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if home is not None:
        env["FLWR_HOME"] = str(home)
    return env


def flower_command(name: str) -> str:
    """Full path of a Flower command next to this interpreter (error if flwr is not installed)."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the federated extra, pip install 'otmix[fl]'")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) → (host, port); ValueError names a malformed address."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Raise ConnectionError (one line) when nothing accepts TCP connections at ``address``."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectionError(f"cannot reach the SuperLink at {address}: {reason}") from None


def wait_for_port(address: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None):
    """Wait until ``address`` accepts connections; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log and log.exists() else []
            raise RuntimeError(f"{Path(process.args[0]).name} exited with code {process.returncode}"
                               + (f": {tail[0]}" if tail else ""))
        try:
            check_reachable(address, timeout=0.5)
            return
        except ConnectionError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens at {address} after {timeout:.0f} s")


# -- commands ----------------------------------------------------------------------------------------------


def superlink_command(port: int, host: str = "127.0.0.1", certificates: str | Path | None = None,
                      auth: bool = False, database: str | Path | None = None) -> list[str]:
    """``flower-superlink`` for otmix: insecure without ``certificates`` (a folder with ca.crt, server.pem,
    server.key), SuperNode authentication with ``auth`` (needs TLS)."""
    cmd = [flower_command("flower-superlink"), "--host", host, "--port", str(port),
           "--disable-runtime-dependency-installation"]
    if certificates is None:
        if auth:
            raise ValueError("agent authentication needs TLS: give the certificates folder too")
        cmd.append("--insecure")
    else:
        folder = Path(certificates).resolve()
        missing = [n for n in ("ca.crt", "server.pem", "server.key") if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"certificates folder {folder} lacks {', '.join(missing)}")
        cmd += ["--ssl-ca-certfile", str(folder / "ca.crt"), "--ssl-certfile", str(folder / "server.pem"),
                "--ssl-keyfile", str(folder / "server.key")]
    if auth:
        cmd.append("--enable-supernode-auth")
    if database is not None:
        cmd += ["--database", str(database)]
    return cmd


def supernode_command(modality: int, data: str | Path, superlink: str, port: int,
                      root_certificates: str | Path | None = None, auth_key: str | Path | None = None,
                      state: str | Path | None = None, links: str | Path | None = None) -> list[str]:
    """``flower-supernode`` holding modality ``modality`` with its data file (optional state folder and
    link file: its column of a link table, :func:`otmix.federated.links.read_agent_links`)."""
    split_address(superlink)
    data = Path(data).resolve()
    if not data.is_file():
        raise FileNotFoundError(f"data file {data} does not exist")
    config = f"modality={int(modality)} data='{data}'"
    if state is not None:
        config += f" state='{Path(state).resolve()}'"
    if links is not None:
        if not Path(links).is_file():
            raise FileNotFoundError(f"link file {links} does not exist")
        config += f" links='{Path(links).resolve()}'"
    if any(p is not None and "'" in str(p) for p in (data, state, links)):
        raise ValueError("paths given to an agent must not contain single quotes")
    cmd = [flower_command("flower-supernode"), "--superlink", superlink, "--port", str(port),
           "--node-config", config]
    if root_certificates is None:
        if auth_key is not None:
            raise ValueError("agent authentication needs TLS: give --root-certificates too")
        cmd.append("--insecure")
    else:
        if not Path(root_certificates).is_file():
            raise FileNotFoundError(f"root certificate {root_certificates} does not exist")
        cmd += ["--root-certificates", str(Path(root_certificates).resolve())]
    if auth_key is not None:
        if not Path(auth_key).is_file():
            raise FileNotFoundError(f"agent key {auth_key} does not exist")
        cmd += ["--auth-supernode-private-key", str(Path(auth_key).resolve())]
    return cmd


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def write_app(folder: str | Path, run_config: Mapping[str, Any]) -> Path:
    """The Flower app bundle source: a ``pyproject.toml`` naming otmix's ServerApp and ClientApp.

    The code comes from the installed otmix on every machine; the bundle carries only
    the run config (``[tool.flwr.app.config]``).
    """
    from .. import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "[build-system]", 'requires = ["hatchling"]', 'build-backend = "hatchling.build"', "",
        "[project]", f'name = "{APP_NAME}"', f'version = "{__version__}"',
        'description = "otmix federated clustering: agents hold one modality each; the server mixes codes"',
        'license = "MIT"', "dependencies = []", "",
        "[tool.flwr.app]", 'publisher = "otmix"', "",
        "[tool.flwr.app.components]", 'serverapp = "otmix.federated.server_app:app"',
        'clientapp = "otmix.federated.client_app:app"', "",
        "[tool.flwr.app.config]",
        *(f"{key} = {_toml_value(value)}" for key, value in run_config.items() if value is not None),
    ]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def write_connection(home: str | Path, name: str, address: str, root_certificates: str | Path | None) -> Path:
    """``$FLWR_HOME/config.toml`` with one SuperLink connection for ``flwr run``."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[superlink]", f'default = "{name}"', "", f"[superlink.{name}]", f'address = "{address}"']
    if root_certificates is None:
        lines.append("insecure = true")
    else:
        lines.append(f'root-certificates = "{Path(root_certificates).resolve()}"')
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class RunOutcome:
    """How a ``flwr run`` ended: the CLI's exit code, the run id and the SuperLink's final status."""

    code: int
    run_id: str | None
    status: str | None
    details: str

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.status == "finished:completed"

    def describe(self) -> str:
        if self.run_id is None:
            return f"flwr run could not start the run (exit code {self.code})"
        return f"run {self.run_id} ended as {self.status or 'unknown'}" + (f": {self.details}" if self.details else "")


def _flwr_json(args: Sequence[str], home: Path) -> tuple[dict[str, Any] | None, str]:
    """Run ``flwr ARGS --format json``; returns (the JSON reply or None, the raw output for messages)."""
    import json

    cmd = [flower_command("flwr"), *args, "--format", "json"]
    completed = subprocess.run(cmd, capture_output=True, text=True, env=flower_env(home), timeout=120)
    text = completed.stdout.strip()
    try:
        return json.loads(text[text.index("{"):]), text
    except ValueError:
        return None, (text or completed.stderr).strip()[:200]


def run_status(run_id: str, connection: str, home: Path) -> tuple[str | None, str]:
    """``flwr ls CONNECTION --run-id ID`` → (status such as "finished:completed", details)."""
    reply, text = _flwr_json(["ls", connection, "--run-id", str(run_id)], home)
    if reply is None:
        return None, text
    runs = reply.get("runs", [])
    if not runs:
        return None, "the SuperLink does not know the run"
    return runs[0].get("status"), str(runs[0].get("status-details") or "")


_STAGES = (
    (re.compile(r"otmix server: waiting for (\d+) agents"), "waiting for {0} agents to connect"),
    (re.compile(r"otmix server: (\d+) agents connected"),
     "{0} agents connected, introducing themselves (each message starts a ClientApp process)"),
    (re.compile(r"otmix server: agents: "), "agents known; waiting for their first codes"),
    (re.compile(r"otmix server: round (\d+)/(\d+) started"), "round {0} of {1}: mixing, then local training"),
    (re.compile(r"otmix server: read-out took"), "sending the cluster centres to the agents"),
    (re.compile(r"otmix server: read-out"), "read-out: fusing and clustering the codes of all rows"),
)


def server_stage(line: str) -> str | None:
    """What a line of the ServerApp's log says the run is doing now (for a progress display), or None.

    >>> server_stage("INFO otmix server: round 2/5 started: 3 agents")
    'round 2 of 5: mixing, then local training'
    """
    for pattern, text in _STAGES:
        found = pattern.search(line)
        if found is not None:
            return text.format(*found.groups())
    return None


def _lines(stream: Any, into: Any) -> None:
    """Copy a pipe's lines into a queue, then None (at its end, or when it is closed under us)."""
    try:
        for line in stream:
            into.put(line)
    except (ValueError, OSError):  # closed by Processes.stop while reading
        pass
    finally:
        into.put(None)


def flwr_run(app: Path, connection: str, home: Path, timeout: float, log: Path | None = None,
             processes: Processes | None = None, on_line: Callable[[str], None] | None = None) -> RunOutcome:
    """``flwr run APP CONNECTION --stream``, then the run's final status from the SuperLink.

    ``flwr run --stream`` exits 0 when the log stream ends, whether the ServerApp succeeded
    or not; the status (``finished:completed`` / ``finished:failed`` ...) says. The streamed
    log goes to ``log``, or to this process's output; every line also to ``on_line``. The
    ``flwr`` process is started through ``processes`` (a fresh :class:`Processes` when not
    given), so a timeout, an error or a stop signal ends it. TimeoutError after ``timeout``
    seconds, with or without output.
    """
    import queue
    import threading

    cmd = [flower_command("flwr"), "run", str(app), connection, "--stream"]
    lines: list[str] = []
    chosen = Processes(None, flower_env(home)) if processes is None else contextlib.nullcontext(processes)
    with chosen as procs:
        process = procs.start("flwr-run", cmd, output="pipe")
        arrived: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_lines, args=(process.stdout, arrived), daemon=True).start()
        out = open(log, "w") if log is not None else None  # noqa: SIM115
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"flwr run did not finish within {timeout:.0f} s")
                try:
                    line = arrived.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                if line is None:
                    break
                lines.append(line)
                target = out if out is not None else sys.stdout
                target.write(line)
                target.flush()
                if on_line is not None:
                    on_line(line)
            try:
                code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"flwr run did not exit within {timeout:.0f} s") from None
        finally:
            if out is not None:
                out.close()
    found = re.search(r"Successfully started run (\d+)", "".join(lines))
    if found is None:
        return RunOutcome(code, None, None, "".join(lines[-3:]).strip())
    status, details = run_status(found.group(1), connection, home)
    return RunOutcome(code, found.group(1), status, details)


def register_agent(public_key: Path, connection: str, home: Path) -> int:
    """``flwr supernode register``: allow the agent holding the matching private key; returns its node id."""
    reply, text = _flwr_json(["supernode", "register", str(public_key), connection], home)
    if reply is None:
        raise RuntimeError(f"flwr supernode register failed: {text}")
    if not reply.get("success", False):
        raise RuntimeError(f"flwr supernode register refused {public_key.name}: {reply.get('error-message', reply)}")
    return int(reply.get("node-id", 0))


def run_config(config: Any, n_agents: int, result: str | Path | None = None, audit: str | Path | None = None,
               checkpoint: str | Path | None = None, **extra: Any) -> dict[str, Any]:
    """The Flower run config of a federated run: FedConfig fields and the server's settings, ``-`` in keys
    (read back by :meth:`otmix.federated.server_app.ServerSettings.from_run_config`; empty string = unset)."""
    values = {key.replace("_", "-"): value for key, value in config.to_dict().items()}
    values.update({"n-agents": int(n_agents), "result": str(result or ""), "audit": str(audit or ""),
                   "checkpoint": str(checkpoint or ""), "poll-interval": 0.2})
    values.update({key.replace("_", "-"): value for key, value in extra.items()})
    return values


def run_loopback(
    Xs: Sequence[Any],
    config: Any,
    work: str | Path,
    tls: bool = False,
    timeout: float = 1800.0,
    during: Any = None,
    startup_timeout: float = 180.0,
    say: Callable[[str], None] | None = None,
    status: Callable[[str], None] | None = None,
    links: Any = None,
) -> dict:
    """One SuperLink and one SuperNode per view as processes on 127.0.0.1, one ``flwr run``; every process stopped.

    Every process (and all that Flower starts from them) is stopped when the run ends, fails,
    or (main thread) when SIGTERM, SIGINT or SIGHUP arrives; the signal then surfaces as
    :class:`~otmix.federated.processes.Interrupted`.

    Parameters
    ----------
    Xs : list of arrays
        View m is written to ``work/agent-m/view.npz``, the data of the agent for modality m.
    config : FedConfig
    work : folder
        Data files, ``audit.jsonl``, ``result.json``, ``checkpoint.json`` and ``logs/``.
    tls : bool
        TLS with a fresh CA, and SuperNode authentication with every agent's key registered.
    timeout : float
        Seconds the ``flwr run`` may take.
    during : callable(Processes, Path, str), optional
        Called in a thread with the processes, ``work`` and the SuperLink address once the
        run is submitted (tests use it to kill an agent or to start an intruder).
    startup_timeout : float
        Seconds to wait for the SuperLink's port and for the agents to connect.
    say : callable(str), optional
        Lasting progress messages (processes started, run submitted, where the logs are).
    status : callable(str), optional
        What the deployment is doing now (which process is starting, waiting for agents,
        round k of n), for a spinner; the ServerApp's log lines are read for it.
    links : int array (n_links, M), optional
        A link table: agent m's column is written to ``work/agent-m/links.csv`` (its node
        config's ``links``), the server gets the entity ids (``n-links``).

    Returns
    -------
    dict
        The ServerApp's result (:func:`otmix.federated.server_app.run_server`), plus
        ``"seconds_total"`` (wall time including process start-up).
    """
    import json
    import threading

    import numpy as np

    from .links import write_agent_links
    from .task import save_view

    start = time.perf_counter()
    say = say or (lambda text: None)
    status = status or (lambda text: None)
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    home = work / "flwr-home"
    port = free_port()
    address = f"127.0.0.1:{port}"
    certs = None
    if tls:
        from .security import make_agent_key, make_certificates

        status("making TLS certificates")
        certs = work / "certs"
        make_certificates(certs)
    write_connection(home, "otmix", address, None if certs is None else certs / "ca.crt")
    files = []
    for m, X in enumerate(Xs):
        folder = work / f"agent-{m}"
        folder.mkdir(exist_ok=True)
        save_view(folder / "view.npz", X)
        files.append(folder / "view.npz")
        if links is not None:
            write_agent_links(folder / "links.csv", np.asarray(links)[:, m])
        else:
            (folder / "links.csv").unlink(missing_ok=True)
    result_path = work / "result.json"
    for stale in (result_path, work / "checkpoint.json"):  # a loopback run always starts afresh
        stale.unlink(missing_ok=True)
    app = write_app(work / "app", run_config(config, len(Xs), result_path, work / "audit.jsonl",
                                             work / "checkpoint.json", wait_for_agents=startup_timeout,
                                             n_links=0 if links is None else len(links)))

    def on_line(line: str) -> None:
        stage = server_stage(line)
        if stage is not None:
            status(stage)

    with Processes(work / "logs", flower_env(home)) as procs:
        status("starting the SuperLink (flower-superlink)")
        link = procs.start("superlink", superlink_command(port, "127.0.0.1", certs, auth=tls))
        wait_for_port(address, startup_timeout, link, procs.log("superlink"))
        say(f"SuperLink listening at {address}{' (TLS, agent authentication)' if tls else ''}")
        for m, path in enumerate(files):
            key = None
            if tls:
                status(f"registering agent {m}'s key")
                key, public = make_agent_key(work / f"agent-{m}" / "agent.key")
                register_agent(public, "otmix", home)
            status(f"starting agent {m} ({m + 1} of {len(files)}, flower-supernode)")
            procs.start(f"agent-{m}", supernode_command(m, path, address, free_port(),
                                                        None if certs is None else certs / "ca.crt", key,
                                                        state=work / f"agent-{m}" / "state",
                                                        links=None if links is None else
                                                        work / f"agent-{m}" / "links.csv"))
            say(f"agent {m} started (SuperNode, data {path})")
        watcher = None
        if during is not None:
            watcher = threading.Thread(target=during, args=(procs, work, address), daemon=True)
            watcher.start()
        status("submitting the run (flwr run); the SuperLink starts the ServerApp")
        say(f"run submitted with flwr run; server log in {procs.log('flwr-run')}")
        outcome = flwr_run(app, "otmix", home, timeout, log=procs.log("flwr-run"), processes=procs,
                           on_line=on_line)
        if watcher is not None:
            watcher.join(timeout=60)
        status("stopping the SuperLink and the agents")
    if not outcome.ok or not result_path.exists():
        raise RuntimeError(f"the federated run failed: {outcome.describe()} (log: {procs.log('flwr-run')})")
    result = json.loads(result_path.read_text())
    result["seconds_total"] = time.perf_counter() - start
    return result
