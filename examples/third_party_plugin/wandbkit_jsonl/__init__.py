"""wandbkit-jsonl: every run also written as JSON lines, and ``wandbkit jsonl-tail RUN``.

This module is what the ``wandbkit`` entry point loads, so it stays light: the sink and the
command are imported inside the hooks, when a run starts or the CLI is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wandbkit import hookimpl

if TYPE_CHECKING:
    import typer

    from wandbkit.run import Run
    from wandbkit.sinks.base import Sink

__version__ = "0.1.0"


@hookimpl
def wandbkit_register_sinks(register: Callable[[Sink], None], run: Run) -> None:
    """Add a JSON-lines sink writing ``<store root>/jsonl/<run id>.jsonl``."""
    from wandbkit_jsonl.sink import JsonlSink

    register(JsonlSink(run.settings.store_dir))


@hookimpl
def wandbkit_register_commands(cli: typer.Typer) -> None:
    """Add ``wandbkit jsonl-tail RUN``."""
    from wandbkit_jsonl.cli import jsonl_tail

    cli.command("jsonl-tail")(jsonl_tail)
