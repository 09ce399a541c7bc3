"""``python -m wandbkit`` runs the CLI."""

from wandbkit.cli import run_cli

run_cli()
