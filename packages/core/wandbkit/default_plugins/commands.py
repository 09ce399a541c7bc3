"""Built-in plugin: core's CLI commands (plugins, runs, show, sync, export, demo).

typer (and pydantic behind it) load only when the CLI is built, not on ``wandbkit.init``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wandbkit.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def wandbkit_register_commands(cli: typer.Typer) -> None:
    """Register the core commands."""
    from wandbkit.cli.core_commands import register

    register(cli)
