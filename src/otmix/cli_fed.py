"""``otmix fed``: federated clustering on Flower (simulation, real deployment, loopback demo)."""

from __future__ import annotations

from pathlib import Path

import typer

from .cli import _check_outputs, _scores_table, console, fail, write_json_atomic

fed_app = typer.Typer(
    help="Federated OTM on Flower: one agent per modality, a server that sees only latent codes.",
    no_args_is_help=True,
)

ERRORS = (ValueError, FileNotFoundError, FloatingPointError, RuntimeError, TimeoutError, OSError)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load(dataset: str | None, data: Path | None, preprocess: str | None):
    from .data import load_dataset, load_path

    return load_dataset(dataset, preprocessing=preprocess) if dataset else load_path(data, preprocess or "zscore")


def _report(payload: dict, json_out: Path | None) -> None:
    if payload["metrics"]:
        console.print(_scores_table(payload))
    fed = payload["federated"]
    spr = fed["seconds_per_round"]
    console.print(f"{fed['mode']}: {fed['rounds']} rounds × {fed['local_epochs']} local epochs "
                  f"({fed['steps_per_round']} batches per round), {spr['mean']:.2f} ± {spr['std']:.2f} s per round")
    for m, block in fed["bytes_per_round_per_agent"].items():
        console.print(f"agent {m}: {block['sent']['mean'] / 1e3:.1f} kB to it, "
                      f"{block['received']['mean'] / 1e3:.1f} kB from it per round")
    for event in fed["events"]:
        console.print(f"[yellow]{event}[/yellow]")
    console.print(f"done in {payload['seconds']:.1f} s")
    if json_out is not None:
        write_json_atomic(json_out, payload)
        console.print(f"wrote {json_out}")


def _overrides(rounds: int | None, local_epochs: int | None, timeout: float | None) -> dict:
    values = {"rounds": rounds, "local_epochs": local_epochs, "reply_timeout": timeout}
    return {k: v for k, v in values.items() if v is not None}


@fed_app.command()
def simulate(
    dataset: str | None = typer.Option(None, help="digits2 (built in), prokaryotic, movies, orl, orl4."),
    data: Path | None = typer.Option(None, help="A user file (.mat/.npz) or folder of views, as `otmix cluster`."),
    clusters: int | None = typer.Option(None, min=1, help="Number of clusters (default: number of label classes)."),
    unaligned: bool = typer.Option(True, "--unaligned/--aligned", help="Permute every view on its own (default)."),
    rounds: int = typer.Option(20, min=1, help="Server rounds (one message exchange each)."),
    local_epochs: int = typer.Option(3, "--local-epochs", min=1, help="Local epochs per round on every agent."),
    seeds: int = typer.Option(1, min=1, help="Number of seeds (0..seeds-1); mean ± std over them."),
    preprocess: str | None = typer.Option(None, help="zscore, l2, tfidf or none (default: the data set's own)."),
    audit: Path | None = typer.Option(None, help="Server audit log (JSON lines): every array it received."),
    checkpoint: Path | None = typer.Option(None, help="Server checkpoint (JSON): a stopped run resumes from it."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Agents keep their weights here too."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Flower simulation, one virtual SuperNode per modality; prints and saves scores like `otmix cluster`."""
    from .fed_job import run_federated

    if (dataset is None) == (data is None):
        fail("give exactly one of --dataset NAME or --data PATH")
    _check_outputs(json_out, None, "")
    for path in (audit, checkpoint):
        if path is not None and not path.parent.exists():
            fail(f"folder {path.parent} does not exist")
    try:
        ds = _load(dataset, data, preprocess)
        console.print(f"{ds.name}: {ds.n_views} agents (one per view), rows {ds.n_samples}, features "
                      f"{[X.shape[1] for X in ds.Xs]}; Flower simulation")
        from .federated.server_app import ServerSettings
        from .federated.simulation import simulate as run_simulation

        def runner(Xs, config):
            settings = ServerSettings(config, n_agents=len(Xs), audit=None if audit is None else str(audit),
                                      checkpoint=None if checkpoint is None else str(checkpoint))
            return run_simulation(Xs, settings, state_dir=None if state_dir is None else str(state_dir))

        def on_seed(seed: int, scores: dict, result: dict) -> None:
            text = f"ACC {scores['acc']:.3f}  NMI {scores['nmi']:.3f}  " if scores else ""
            console.print(f"seed {seed}: {text}({result['seconds']:.1f} s)")

        payload = run_federated(ds, runner, seeds=range(seeds), aligned=not unaligned, n_clusters=clusters,
                                overrides=_overrides(rounds, local_epochs, None), mode="simulation",
                                on_seed=on_seed)
    except ERRORS as exc:
        fail(_one_line(exc))
    _report(payload, json_out)


# -- a real deployment -------------------------------------------------------------------------------------


def _exec(cmd: list[str], home: Path | None = None) -> None:
    """Run a Flower process in the foreground (Ctrl-C stops it); its exit code becomes ours."""
    import subprocess

    from .federated.deploy import flower_env

    console.print("running: " + " ".join(cmd))
    try:
        code = subprocess.call(cmd, env=flower_env(home))
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code=code)


@fed_app.command()
def superlink(
    port: int = typer.Option(9092, help="Port of the SuperLink's HTTP(S) API (agents and `otmix fed run`)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface; needs TLS)."),
    certificates: Path | None = typer.Option(
        None, help="Folder with ca.crt, server.pem, server.key (see `otmix fed certificates`); none: insecure."),
    auth: bool = typer.Option(False, "--auth", help="Only registered agents may join (`flwr supernode register`)."),
    database: Path | None = typer.Option(None, help="SQLite file for the SuperLink's state (default: memory)."),
) -> None:
    """Start the server side (a Flower SuperLink; the ServerApp runs in it when `otmix fed run` submits)."""
    from .federated.deploy import superlink_command

    try:
        if certificates is None and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"an insecure SuperLink may only listen on 127.0.0.1, not {host}; give --certificates")
        cmd = superlink_command(port, host, certificates, auth, database)
    except ERRORS as exc:
        fail(_one_line(exc))
    _exec(cmd)


@fed_app.command()
def agent(
    modality: int = typer.Option(..., min=0, help="Which modality this agent holds (0, 1, ...)."),
    data: Path = typer.Option(..., help="This agent's private view: .npz (array X), .npy or .csv."),
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    root_certificates: Path | None = typer.Option(None, "--root-certificates", help="CA certificate (TLS)."),
    auth_key: Path | None = typer.Option(None, "--auth-key", help="This agent's private key (registered)."),
    state: Path | None = typer.Option(None, help="Folder for the agent's weights, so a stopped run resumes."),
    port: int = typer.Option(9094, help="Local port of the SuperNode's runtime API (one per agent per host)."),
) -> None:
    """Start one agent (a Flower SuperNode) that holds one modality; its data never leaves this machine."""
    from .federated.deploy import check_reachable, supernode_command
    from .federated.task import load_view

    try:
        X = load_view(data)
        cmd = supernode_command(modality, data, superlink_address, port, root_certificates, auth_key, state)
        check_reachable(superlink_address)
    except (*ERRORS, ConnectionError) as exc:
        fail(_one_line(exc))
    console.print(f"agent for modality {modality}: {X.shape[0]} rows × {X.shape[1]} features from {data}")
    _exec(cmd)


@fed_app.command("run")
def run_app(
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    agents: int = typer.Option(..., min=1, help="Number of agents (modalities) to wait for."),
    clusters: int = typer.Option(..., min=1, help="Number of clusters."),
    rounds: int = typer.Option(20, min=1, help="Server rounds (one message exchange each)."),
    local_epochs: int = typer.Option(3, "--local-epochs", min=1, help="Local epochs per round on every agent."),
    seed: int = typer.Option(0, help="Seed of the server's and the agents' randomness."),
    reply_timeout: float = typer.Option(600.0, "--reply-timeout", help="Seconds to wait for agents per round."),
    root_certificates: Path | None = typer.Option(None, "--root-certificates", help="CA certificate (TLS)."),
    result: Path = typer.Option(..., help="Result JSON, written by the ServerApp: an absolute path on the "
                                "SuperLink's machine."),
    audit: Path | None = typer.Option(None, help="Audit log (JSON lines) on the SuperLink's machine."),
    checkpoint: Path | None = typer.Option(None, help="Server checkpoint on the SuperLink's machine."),
    timeout: float = typer.Option(7200.0, help="Give up after this many seconds."),
) -> None:
    """Submit a federated clustering run to a SuperLink whose agents are connected; wait for it to finish."""
    import tempfile

    from .federated.deploy import check_reachable, flwr_run, run_config, write_app, write_connection
    from .federated.task import FedConfig

    try:
        config = FedConfig(n_clusters=clusters, rounds=rounds, local_epochs=local_epochs, random_state=seed,
                           reply_timeout=reply_timeout)
        config.validate()
        for flag, path in (("--result", result), ("--audit", audit), ("--checkpoint", checkpoint)):
            if path is not None and not path.is_absolute():
                raise ValueError(f"{flag} must be an absolute path (the ServerApp writes it on the SuperLink's "
                                 f"machine), got {path}")
        check_reachable(superlink_address)
        if root_certificates is not None and not root_certificates.is_file():
            raise FileNotFoundError(f"root certificate {root_certificates} does not exist")
    except (*ERRORS, ConnectionError) as exc:
        fail(_one_line(exc))
    with tempfile.TemporaryDirectory(prefix="otmix-fed-run-") as tmp:
        app = write_app(Path(tmp) / "app", run_config(config, agents, result, audit, checkpoint))
        write_connection(Path(tmp) / "home", "otmix", superlink_address, root_certificates)
        console.print(f"submitting to {superlink_address}: {agents} agents, {rounds} rounds × {local_epochs} "
                      "local epochs")
        try:
            outcome = flwr_run(app, "otmix", Path(tmp) / "home", timeout, log=None)
        except (*ERRORS, ConnectionError) as exc:
            fail(_one_line(exc))
    if not outcome.ok:
        fail(outcome.describe())
    console.print(f"{outcome.describe()}; the ServerApp wrote {result} on the SuperLink's machine")


@fed_app.command()
def demo(
    agents: int = typer.Option(3, min=2, max=8, help="Agents, one modality each (digits: pixels + weak views)."),
    rounds: int = typer.Option(2, min=1, help="Server rounds."),
    local_epochs: int = typer.Option(1, "--local-epochs", min=1, help="Local epochs per round."),
    tls: bool = typer.Option(False, "--tls", help="TLS with a fresh CA and registered, authenticated agents."),
    work: Path | None = typer.Option(None, help="Keep data, logs, audit and result here (default: a temp dir)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the scores as JSON here."),
) -> None:
    """Start a SuperLink and one SuperNode per modality on 127.0.0.1, run, print the scores, stop them all."""
    import tempfile

    from .data.digits2 import make_digits_views
    from .fed_job import run_federated
    from .federated.deploy import run_loopback

    _check_outputs(json_out, None, "")
    if work is not None and not work.parent.exists():
        fail(f"folder {work.parent} does not exist")
    ds = make_digits_views(agents)
    console.print(f"{ds.name}: {agents} agents on 127.0.0.1 (views {[X.shape[1] for X in ds.Xs]} features, "
                  f"{ds.n_samples[0]} rows each, unaligned){' with TLS and agent authentication' if tls else ''}")
    with tempfile.TemporaryDirectory(prefix="otmix-fed-demo-") as tmp:
        folder = work if work is not None else Path(tmp)

        def runner(Xs, config):
            return run_loopback(Xs, config, folder, tls=tls, say=console.print)

        try:
            payload = run_federated(ds, runner, seeds=[0], overrides=_overrides(rounds, local_epochs, 120.0),
                                    mode="deployment (loopback)")
        except (*ERRORS, ConnectionError) as exc:
            fail(_one_line(exc))
    _report(payload, json_out)
    console.print("every process started for the demo has been stopped")


@fed_app.command()
def certificates(
    out: Path = typer.Option(..., help="Folder for ca.crt, ca.key, server.pem, server.key."),
    host: list[str] = typer.Option(["localhost"], help="Name or address agents use to reach the SuperLink "
                                   "(repeatable; localhost and 127.0.0.1 are always included)."),
    days: int = typer.Option(365, min=1, help="Validity in days."),
) -> None:
    """Make a CA and a SuperLink TLS certificate (give ca.crt to agents; keep ca.key and server.key private)."""
    from .federated.security import make_certificates

    if not out.parent.exists():
        fail(f"folder {out.parent} does not exist")
    try:
        paths = make_certificates(out, host, days)
    except OSError as exc:
        fail(_one_line(exc))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


@fed_app.command()
def keygen(out: Path = typer.Option(..., help="Private key file (the public key goes to OUT.pub).")) -> None:
    """Make an agent's authentication key pair (ECDSA P-384, OpenSSH format, as Flower reads it)."""
    from .federated.security import make_agent_key

    if not out.parent.exists():
        fail(f"folder {out.parent} does not exist")
    if out.exists():
        fail(f"{out} exists; refusing to overwrite a key")
    try:
        private, public = make_agent_key(out)
    except OSError as exc:
        fail(_one_line(exc))
    console.print(f"wrote {private} (keep it on the agent) and {public} (register it on the SuperLink)")


@fed_app.command()
def register(
    public_key: Path = typer.Argument(..., help="An agent's public key (from `otmix fed keygen`)."),
    superlink_address: str = typer.Option(..., "--superlink", help="HOST:PORT of the SuperLink."),
    root_certificates: Path = typer.Option(..., "--root-certificates", help="CA certificate of the SuperLink."),
) -> None:
    """Allow the agent holding the matching private key to join (`flwr supernode register`)."""
    import tempfile

    from .federated.deploy import check_reachable, register_agent, write_connection

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
        fail(_one_line(exc))
    console.print(f"registered {public_key.name}: the agent will join as node {node}")
