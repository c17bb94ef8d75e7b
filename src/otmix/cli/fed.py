"""``otmix fed``: federated clustering on Flower (simulation, real deployment, loopback demo)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..atomic import UnwritableOutput, check_writable, write_json_atomic
from ..federated.processes import Interrupted, SignalsRaise
from ._common import (
    alignment_table,
    check_link_options,
    console,
    fail,
    links_spec,
    one_line,
    scores_table,
)

fed_app = typer.Typer(
    help="Federated OTM on Flower: one agent per modality, a server that sees only latent codes.",
    no_args_is_help=True,
)

ERRORS = (ValueError, FileNotFoundError, FloatingPointError, RuntimeError, TimeoutError, OSError)
FL_MODULES = ("flwr", "ray", "cryptography")  # what the `fl` extra brings


def needs_fl(*modules: str) -> Callable:
    """Decorate a command that needs the `fl` extra: ``modules`` are imported first, and a missing
    Flower, Ray or cryptography (then or later) is one line, ``pip install 'otmix[fl]'``, exit code 2."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            import importlib

            try:
                for module in modules:
                    importlib.import_module(module)
                return command(*args, **kwargs)
            except ModuleNotFoundError as exc:
                missing = (exc.name or "").split(".")[0]
                if missing not in FL_MODULES:
                    raise
                fail(f"otmix fed needs the federated extra ({missing} is not installed): pip install 'otmix[fl]'")

        return wrapper

    return decorate


def _stopped(exc: Interrupted, what: str) -> None:
    """One line on stderr for a run stopped by a signal; exit code 128 + the signal's number (130, 143)."""
    typer.echo(f"error: {exc}; {what}", err=True)
    raise typer.Exit(code=exc.exit_code)


def _writable(*paths: Path | None, appended: tuple[Path | None, ...] = ()) -> None:
    """Prove before any work that every output can be written (folders created); else one line, exit 2.

    ``appended``: files that are appended to (an audit log), which must also be writable if they exist.
    """
    try:
        for path in (*paths, *appended):
            if path is not None:
                check_writable(path)
        for path in appended:
            if path is not None and path.is_file():
                try:
                    path.open("ab").close()
                except OSError as exc:
                    raise UnwritableOutput(f"cannot append to {path}: {exc.strerror or exc}") from None
    except UnwritableOutput as exc:
        fail(str(exc))


def _load(dataset: str | None, data: Path | None, preprocess: str | None):
    from ..data import load_dataset, load_path

    return load_dataset(dataset, preprocessing=preprocess) if dataset else load_path(data, preprocess or "zscore")


def _value(block: dict[str, float], n: int, digits: int = 2) -> str:
    """``mean ± std``, or the value alone when there is one."""
    return f"{block['mean']:.{digits}f}" + (f" ± {block['std']:.{digits}f}" if n > 1 else "")


def _report(payload: dict, json_out: Path | None) -> None:
    if payload["metrics"]:
        console.print(scores_table(payload))
    table = alignment_table(payload)
    if table is not None:
        console.print(table)
    fed = payload["federated"]
    n_rounds = fed["rounds"] * len(payload["seeds"])
    console.print(f"{fed['mode']}: {fed['rounds']} rounds × {fed['local_epochs']} local epochs "
                  f"({fed['steps_per_round']} batches per round), {_value(fed['seconds_per_round'], n_rounds)} s "
                  "per round")
    for m, block in fed["bytes_per_round_per_agent"].items():
        console.print(f"agent {m}: {block['sent']['mean'] / 1e3:.1f} kB to it, "
                      f"{block['received']['mean'] / 1e3:.1f} kB from it per round")
    for event in fed["events"]:
        console.print(f"[yellow]{event}[/yellow]")
    console.print(f"done in {payload['seconds']:.1f} s")
    if json_out is not None:
        try:
            write_json_atomic(json_out, payload)
        except OSError as exc:
            fail(f"cannot write {json_out}: {exc.strerror or exc}")
        console.print(f"wrote {json_out}")


def _overrides(rounds: int | None, local_epochs: int | None, timeout: float | None) -> dict:
    values = {"rounds": rounds, "local_epochs": local_epochs, "reply_timeout": timeout}
    return {k: v for k, v in values.items() if v is not None}


class _Stages:
    """What a deployment is doing now: a spinner with the elapsed time on a terminal, a line per stage elsewhere."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last: str | None = None
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _Stages:
        if console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                     console=console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("starting", total=None)
        return self

    def __call__(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.progress is not None:
            self.progress.update(self.task, description=text)
        else:
            from rich.text import Text

            console.print(Text(f"[{time.perf_counter() - self.start:5.1f} s] {text}", style="dim"))

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


@fed_app.command()
@needs_fl("flwr")
def simulate(
    dataset: str | None = typer.Option(None, help="digits2 (built in), prokaryotic, movies, orl, orl4 "
                                       "(default: none; give this or --data)."),
    data: Path | None = typer.Option(None, help="A user file (.mat/.npz) or folder of views, as `otmix cluster` "
                                     "(default: none; give this or --dataset)."),
    clusters: int | None = typer.Option(None, min=1, help="Number of clusters (default: number of label classes)."),
    unaligned: bool | None = typer.Option(None, "--unaligned/--aligned", help="Permute every view on its own "
                                          "(default; rows as loaded with --link-file)."),
    links: float | None = typer.Option(
        None, "--links", metavar="FRACTION", help="Simulate links as `otmix cluster --links`: every view is permuted "
        "on its own (from the seed) and this fraction of the entities stays linked; agent m holds its column of the "
        "link table, the server the entity ids (0 <= FRACTION < 1; default: no links)."),
    link_file: Path | None = typer.Option(
        None, "--link-file", metavar="FILE", help="Links between the rows as given, as `otmix cluster --link-file` "
        "(default: no links)."),
    rounds: int = typer.Option(20, min=1, help="Server rounds (one message exchange each)."),
    local_epochs: int = typer.Option(3, "--local-epochs", min=1, help="Local epochs per round on every agent."),
    seeds: int = typer.Option(5, min=1, help="Number of seeds (0..seeds-1); mean ± std over them."),
    preprocess: str | None = typer.Option(None, help="zscore, l2, tfidf or none (default: the data set's own)."),
    audit: Path | None = typer.Option(None, help="Server audit log (JSON lines): every array it received "
                                      "(default: none)."),
    checkpoint: Path | None = typer.Option(None, help="Server checkpoint (JSON): a stopped run resumes from it "
                                           "(default: none)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Agents keep their weights here too "
                                          "(default: in memory only)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here (default: not "
                                         "written)."),
    quiet: bool = typer.Option(False, help="No progress bar and no per-round server log."),
) -> None:
    """Flower simulation, one virtual SuperNode per modality; prints and saves scores like `otmix cluster`."""
    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    aligned = check_link_options(links, link_file, unaligned)
    _writable(json_out, checkpoint, None if state_dir is None else state_dir / "agent-0.pt", appended=(audit,))
    try:
        ds = _load(dataset, data, preprocess)
        console.print(f"{ds.name}: {ds.n_views} agents (one per view), rows {ds.n_samples}, features "
                      f"{[X.shape[1] for X in ds.Xs]}; Flower simulation, {seeds} seed{'s' if seeds > 1 else ''}")
        spec = links_spec(ds, links, link_file)
        payload = _simulate_with_bar(ds, seeds, rounds, local_epochs, clusters, not aligned, audit, checkpoint,
                                     state_dir, quiet, spec, rows_match=dataset is not None or links is not None)
    except ERRORS as exc:
        fail(one_line(exc))
    if link_file is not None:
        payload["links"]["file"] = str(link_file)
    _report(payload, json_out)


def _simulate_with_bar(ds, seeds: int, rounds: int, local_epochs: int, clusters: int | None, unaligned: bool,
                       audit: Path | None, checkpoint: Path | None, state_dir: Path | None, quiet: bool,
                       links: Any = None, rows_match: bool = False) -> dict:
    """``run_federated`` over Flower simulations, with a progress bar over seeds × rounds unless ``quiet``."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..jobs.federated import run_federated
    from ..federated.server_app import ServerSettings
    from ..federated.simulation import simulate as run_simulation

    bar = None if quiet else Progress(TextColumn("rounds"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
                                      transient=True)
    with bar if bar is not None else nullcontext():
        task = None if bar is None else bar.add_task("rounds", total=seeds * rounds, info="")

        def on_round(entry: dict) -> None:
            if bar is not None:
                bar.update(task, advance=1, info=f"round {entry['round']} of {rounds}, otm {entry['otm']:.4f}")

        def runner(Xs, config, links=None):
            settings = ServerSettings(config, n_agents=len(Xs), audit=None if audit is None else str(audit),
                                      checkpoint=None if checkpoint is None else str(checkpoint))
            return run_simulation(Xs, settings, state_dir=None if state_dir is None else str(state_dir),
                                  on_round=on_round, verbose=False, links=links)

        def on_seed(seed: int, scores: dict, result: dict) -> None:
            text = f"ACC {scores['acc']:.3f}  NMI {scores['nmi']:.3f}  " if scores else ""
            console.print(f"seed {seed}: {text}({result['seconds']:.1f} s)")

        return run_federated(ds, runner, seeds=range(seeds), aligned=not unaligned, n_clusters=clusters,
                             overrides=_overrides(rounds, local_epochs, None), mode="simulation", on_seed=on_seed,
                             links=links, rows_match=rows_match)


# -- a real deployment -------------------------------------------------------------------------------------


def _exec(cmd: list[str], home: Path | None = None) -> None:
    """Run a Flower process in the foreground, output on ours; its exit code becomes ours.

    It runs in a session of its own: Ctrl-C, SIGTERM or SIGHUP sent to otmix stop it and
    every process it started (exit code 128 + the signal's number).
    """
    from ..federated.deploy import flower_env
    from ..federated.processes import Processes

    console.print("running: " + " ".join(cmd))
    try:
        with Processes(None, flower_env(home)) as procs:
            code = procs.start(Path(cmd[0]).name, cmd, output="inherit").wait()
    except Interrupted as exc:
        _stopped(exc, f"{Path(cmd[0]).name} and every process it started have been stopped")
    raise typer.Exit(code=code)


@fed_app.command()
@needs_fl("flwr")
def superlink(
    port: int = typer.Option(9092, help="Port of the SuperLink's HTTP(S) API (agents and `otmix fed run`)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface; needs TLS)."),
    certificates: Path | None = typer.Option(
        None, help="Folder with ca.crt, server.pem, server.key (see `otmix fed certificates`); default: none, "
        "insecure."),
    auth: bool = typer.Option(False, "--auth", help="Only registered agents may join (`flwr supernode register`; "
                              "default: off)."),
    database: Path | None = typer.Option(None, help="SQLite file for the SuperLink's state (default: memory)."),
) -> None:
    """Start the server side (a Flower SuperLink; the ServerApp runs in it when `otmix fed run` submits)."""
    from ..federated.deploy import superlink_command

    _writable(database)
    try:
        if certificates is None and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"an insecure SuperLink may only listen on 127.0.0.1, not {host}; give --certificates")
        cmd = superlink_command(port, host, certificates, auth, database)
    except ERRORS as exc:
        fail(one_line(exc))
    _exec(cmd)


@fed_app.command()
@needs_fl("flwr")
def agent(
    modality: int = typer.Option(..., min=0, help="Which modality this agent holds (0, 1, ...)."),
    data: Path = typer.Option(..., help="This agent's private view: .npz (array X), .npy or .csv."),
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    root_certificates: Path | None = typer.Option(None, "--root-certificates", help="CA certificate (TLS; "
                                                  "default: none, insecure)."),
    auth_key: Path | None = typer.Option(None, "--auth-key", help="This agent's private key (registered; "
                                         "default: none)."),
    state: Path | None = typer.Option(None, help="Folder for the agent's weights, so a stopped run resumes "
                                      "(default: none)."),
    port: int = typer.Option(9094, help="Local port of the SuperNode's runtime API (one per agent per host)."),
    links: Path | None = typer.Option(None, help="This agent's linked rows: a link table (csv, one column per "
                                      "modality; its column is read) or its column alone (default: no links)."),
) -> None:
    """Start one agent (a Flower SuperNode) that holds one modality; its data never leaves this machine."""
    from ..federated.deploy import check_reachable, supernode_command
    from ..federated.links import read_agent_links
    from ..federated.task import load_view

    _writable(None if state is None else state / f"agent-{modality}.pt")
    try:
        X = load_view(data)
        rows = None if links is None else read_agent_links(links, modality, X.shape[0])
        cmd = supernode_command(modality, data, superlink_address, port, root_certificates, auth_key, state, links)
        check_reachable(superlink_address)
    except (*ERRORS, ConnectionError) as exc:
        fail(one_line(exc))
    linked = "" if rows is None else f", {int((rows >= 0).sum())} of {rows.size} linked entities from {links}"
    console.print(f"agent for modality {modality}: {X.shape[0]} rows × {X.shape[1]} features from {data}{linked}")
    _exec(cmd)


@fed_app.command("run")
@needs_fl("flwr")
def run_app(
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    agents: int = typer.Option(..., min=1, help="Number of agents (modalities) to wait for."),
    clusters: int = typer.Option(..., min=1, help="Number of clusters."),
    rounds: int = typer.Option(20, min=1, help="Server rounds (one message exchange each)."),
    local_epochs: int = typer.Option(3, "--local-epochs", min=1, help="Local epochs per round on every agent."),
    seed: int = typer.Option(0, help="Seed of the server's and the agents' randomness."),
    reply_timeout: float = typer.Option(600.0, "--reply-timeout", help="Seconds to wait for agents per round."),
    root_certificates: Path | None = typer.Option(None, "--root-certificates", help="CA certificate (TLS; "
                                                  "default: none, insecure)."),
    result: Path = typer.Option(..., help="Result JSON, written by the ServerApp: an absolute path on the "
                                "SuperLink's machine."),
    audit: Path | None = typer.Option(None, help="Audit log (JSON lines) on the SuperLink's machine (default: "
                                      "none)."),
    checkpoint: Path | None = typer.Option(None, help="Server checkpoint on the SuperLink's machine (default: "
                                           "none)."),
    timeout: float = typer.Option(7200.0, help="Give up after this many seconds."),
    links: int = typer.Option(0, "--links", min=0, metavar="N", help="Linked entities (ids 0..N-1, the lines of "
                              "the agents' link files; default: 0, no links)."),
) -> None:
    """Submit a federated clustering run to a SuperLink whose agents are connected; wait for it to finish."""
    import tempfile

    from ..federated.deploy import check_reachable, flwr_run, run_config, write_app, write_connection
    from ..federated.task import FedConfig

    try:
        from ..jobs.cluster import dataset_config

        # the model, loss and read-out of `otmix cluster` on a user's data (configs/clustering.json)
        config = FedConfig.from_dict({**dataset_config(None), "n_clusters": clusters, "rounds": rounds,
                                      "local_epochs": local_epochs, "random_state": seed,
                                      "reply_timeout": reply_timeout})
        config.validate()
        for flag, path in (("--result", result), ("--audit", audit), ("--checkpoint", checkpoint)):
            if path is not None and not path.is_absolute():
                raise ValueError(f"{flag} must be an absolute path (the ServerApp writes it on the SuperLink's "
                                 f"machine), got {path}")
        check_reachable(superlink_address)
        if root_certificates is not None and not root_certificates.is_file():
            raise FileNotFoundError(f"root certificate {root_certificates} does not exist")
    except (*ERRORS, ConnectionError) as exc:
        fail(one_line(exc))
    with tempfile.TemporaryDirectory(prefix="otmix-fed-run-") as tmp:
        app = write_app(Path(tmp) / "app", run_config(config, agents, result, audit, checkpoint, n_links=links))
        write_connection(Path(tmp) / "home", "otmix", superlink_address, root_certificates)
        console.print(f"submitting to {superlink_address}: {agents} agents, {rounds} rounds × {local_epochs} "
                      "local epochs")
        try:
            outcome = flwr_run(app, "otmix", Path(tmp) / "home", timeout, log=None)
        except Interrupted as exc:
            _stopped(exc, "flwr run stopped (the run may go on in the SuperLink: flwr stop)")
        except (*ERRORS, ConnectionError) as exc:
            fail(one_line(exc))
    if not outcome.ok:
        fail(outcome.describe())
    console.print(f"{outcome.describe()}; the ServerApp wrote {result} on the SuperLink's machine")


@fed_app.command()
@needs_fl("flwr")
def demo(
    agents: int = typer.Option(3, min=2, max=8, help="Agents, one modality each (digits: pixels + weak views)."),
    rounds: int = typer.Option(2, min=1, help="Server rounds."),
    local_epochs: int = typer.Option(1, "--local-epochs", min=1, help="Local epochs per round."),
    links: float | None = typer.Option(
        None, "--links", metavar="FRACTION", help="Simulated links as `otmix cluster --links`: this fraction of the "
        "entities stays linked; every agent gets its column as a link file (its node config's links), the "
        "server the entity ids (0 <= FRACTION < 1; default: no links)."),
    tls: bool = typer.Option(False, "--tls", help="TLS with a fresh CA and registered, authenticated agents "
                             "(default: off)."),
    work: Path | None = typer.Option(None, help="Keep data, logs, audit and result here (default: a temp dir, "
                                     "removed)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the scores as JSON here (default: not "
                                         "written)."),
) -> None:
    """Start a SuperLink and one SuperNode per modality on 127.0.0.1, run, print the scores, stop them all.

    SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop every process it started too (exit code 143, 130, 129).
    """
    check_link_options(links, None, None)
    _writable(json_out, None if work is None else work / "result.json")
    try:
        with SignalsRaise():
            payload = _demo(agents, rounds, local_epochs, tls, work, links)
    except Interrupted as exc:
        _stopped(exc, "every process started for the demo has been stopped")
    except (*ERRORS, ConnectionError) as exc:
        fail(one_line(exc))
    _report(payload, json_out)
    console.print("every process started for the demo has been stopped")


def _demo(agents: int, rounds: int, local_epochs: int, tls: bool, work: Path | None,
          links: float | None = None) -> dict:
    """The demo's run: digits views, one loopback deployment, its payload (stages shown as it goes)."""
    import tempfile

    from ..data.digits2 import make_digits_views
    from ..jobs.federated import run_federated
    from ..federated.deploy import run_loopback

    ds = make_digits_views(agents)
    console.print(f"{ds.name}: {agents} agents on 127.0.0.1 (views {[X.shape[1] for X in ds.Xs]} features, "
                  f"{ds.n_samples[0]} rows each, unaligned){' with TLS and agent authentication' if tls else ''}; "
                  f"{rounds} rounds")
    with tempfile.TemporaryDirectory(prefix="otmix-fed-demo-") as tmp, _Stages() as stages:
        folder = work if work is not None else Path(tmp)

        def runner(Xs, config, links=None):
            return run_loopback(Xs, config, folder, tls=tls, say=console.print, status=stages, links=links)

        return run_federated(ds, runner, seeds=[0], overrides=_overrides(rounds, local_epochs, 120.0),
                             mode="deployment (loopback)", links=links, rows_match=True)


@fed_app.command()
@needs_fl("cryptography")
def certificates(
    out: Path = typer.Option(..., help="Folder for ca.crt, ca.key, server.pem, server.key (created if missing)."),
    host: list[str] = typer.Option(["localhost"], help="Name or address agents use to reach the SuperLink "
                                   "(repeatable; localhost and 127.0.0.1 are always included)."),
    days: int = typer.Option(365, min=1, help="Validity in days."),
) -> None:
    """Make a CA and a SuperLink TLS certificate (give ca.crt to agents; keep ca.key and server.key private)."""
    from ..federated.security import make_certificates

    _writable(*(out / name for name in ("ca.crt", "ca.key", "server.pem", "server.key")))
    try:
        paths = make_certificates(out, host, days)
    except (ValueError, OSError) as exc:
        fail(one_line(exc))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


@fed_app.command()
@needs_fl("cryptography")
def keygen(out: Path = typer.Option(..., help="Private key file (the public key goes to OUT.pub).")) -> None:
    """Make an agent's authentication key pair (ECDSA P-384, OpenSSH format, as Flower reads it)."""
    from ..federated.security import make_agent_key

    public = out.with_name(out.name + ".pub")
    for path in (out, public):
        if path.exists():
            fail(f"{path} exists; refusing to overwrite a key")
    _writable(out, public)
    try:
        private, public = make_agent_key(out)
    except OSError as exc:
        fail(one_line(exc))
    console.print(f"wrote {private} (keep it on the agent) and {public} (register it on the SuperLink)")


@fed_app.command()
@needs_fl("flwr")
def register(
    public_key: Path = typer.Argument(..., help="An agent's public key (from `otmix fed keygen`)."),
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    root_certificates: Path = typer.Option(..., "--root-certificates", help="CA certificate of the SuperLink."),
) -> None:
    """Allow the agent holding the matching private key to join (`flwr supernode register`)."""
    import tempfile

    from ..federated.deploy import check_reachable, register_agent, write_connection

    try:
        if not public_key.is_file():
            raise FileNotFoundError(f"public key {public_key} does not exist")
        if not root_certificates.is_file():
            raise FileNotFoundError(f"root certificate {root_certificates} does not exist")
        check_reachable(superlink_address)
        with tempfile.TemporaryDirectory(prefix="otmix-fed-register-") as tmp:
            write_connection(tmp, "otmix", superlink_address, root_certificates)
            node = register_agent(public_key, "otmix", Path(tmp))
    except (*ERRORS, ConnectionError) as exc:
        fail(one_line(exc))
    console.print(f"registered {public_key.name}: the agent will join as node {node}")
