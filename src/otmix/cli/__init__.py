"""The otmix command line: one Typer app assembled from the command groups of this package.

Every group module (:mod:`~otmix.cli.demo`, :mod:`~otmix.cli.cluster`, :mod:`~otmix.cli.supervised`,
:mod:`~otmix.cli.tune`, :mod:`~otmix.cli.report`, :mod:`~otmix.cli.fed`, :mod:`~otmix.cli.bench`) defines
its commands (functions, or a ``typer.Typer`` of sub-commands) and never imports this app; they share
only :mod:`otmix.cli._common`. The work itself lives in :mod:`otmix.jobs` and the library; the commands
parse, check and print. The console script ``otmix`` is ``otmix.cli:app``.
"""

from __future__ import annotations

import typer

from .. import __version__
from . import bench, cluster, demo, fed, report, supervised, tune
from ._common import console

__all__ = ["app"]

app = typer.Typer(
    name="otmix",
    help="Robust multi-modal learning on unaligned, distributed data with an optimal-transport mixer.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"otmix {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool | None = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """otmix: stochastic fused Gromov-Wasserstein barycenters for multi-modal learning."""


# the order of `otmix --help`: the single commands as registered, then the groups
for command in (demo.demo, cluster.cluster, supervised.supervised, tune.tune, report.report):
    app.command()(command)
app.add_typer(fed.fed_app, name="fed")
app.add_typer(bench.bench_app, name="bench")
del command
