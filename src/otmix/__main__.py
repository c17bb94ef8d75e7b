from otmix.cli import app

app()
