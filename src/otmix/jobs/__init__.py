"""What the command line runs: seeds, scores and payloads of every otmix command, with no command-line code.

:mod:`~otmix.jobs.cluster` (``otmix cluster``), :mod:`~otmix.jobs.supervised` (``otmix supervised``),
:mod:`~otmix.jobs.federated` (``otmix fed``), :mod:`~otmix.jobs.benchmark` (``otmix bench clustering``),
:mod:`~otmix.jobs.tune` (``otmix tune``) and :mod:`~otmix.jobs.demo` (``otmix demo``) return plain
payloads; :mod:`otmix.cli` parses the options and prints them. Nothing here imports typer or
:mod:`otmix.cli`, and this package imports none of its modules (each brings its own dependencies).
"""
