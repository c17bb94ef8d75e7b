"""Run the federated apps in Flower's simulation runtime: one virtual SuperNode per modality."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .server_app import ServerSettings


def simulate(
    Xs: Sequence[np.ndarray], settings: ServerSettings, state_dir: str | None = None, num_cpus: int | None = None,
    on_round: Callable[[dict], None] | None = None, verbose: bool = True, links: np.ndarray | None = None,
) -> dict:
    """Run one federated clustering with every view held by its own virtual agent; return the server's result.

    Parameters
    ----------
    Xs : list of arrays (N_m, D_m)
        View m becomes the private data of the agent with ``partition-id`` m.
    settings : ServerSettings
        ``n_agents`` is set to ``len(Xs)``; when ``settings.result`` is unset the result
        goes through a temporary file.
    state_dir : str, optional
        Where agents also keep their state on disk (needed to resume a stopped run).
    num_cpus : int, optional
        CPUs given to Ray (default: all).
    on_round : callable(dict), optional
        Called with every round's history entry as the round ends (a progress display).
    verbose : bool
        The server logs every round (INFO); False: only its warnings (dropped agents and such).
    links : int array (n_links, M), optional
        A link table: agent m holds its column m, the server the entity ids.

    Raises
    ------
    RuntimeError
        When the server did not finish (its error is in the log above).
    """
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    from flwr.simulation import run_simulation

    from .client_app import make_client_app
    from .server_app import make_server_app

    settings.config.validate()
    with tempfile.TemporaryDirectory(prefix="otmix-sim-") as tmp:
        result_path = settings.result or str(Path(tmp) / "result.json")
        n_links = 0 if links is None else len(links)
        chosen = replace(settings, n_agents=len(Xs), result=result_path, n_links=n_links)
        if Path(result_path).exists():
            Path(result_path).unlink()
        backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                   "init_args": {"logging_level": "error", "log_to_driver": False}}
        if num_cpus is not None:
            backend["init_args"]["num_cpus"] = int(num_cpus)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            flwr_logger = logging.getLogger("flwr")
            level = flwr_logger.level
            flwr_logger.setLevel(logging.ERROR)  # run_simulation's deprecation notice and per-round chatter
            try:
                server = make_server_app(chosen, on_round=on_round,
                                         log_level=logging.INFO if verbose else logging.WARNING)
                run_simulation(server, make_client_app(list(Xs), state_dir, None if not n_links else links),
                               num_supernodes=len(Xs), backend_config=backend)
            finally:
                flwr_logger.setLevel(level)
        if not Path(result_path).exists():
            raise RuntimeError("the federated simulation did not finish; see the log above")
        return json.loads(Path(result_path).read_text())
