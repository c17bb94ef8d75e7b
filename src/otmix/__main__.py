"""``python -m otmix``: the otmix command line."""

from otmix.cli import app

app()
