"""wandbkit-jsonl: every run also written as JSON lines, and ``wandbkit jsonl-tail RUN``.

It reaches every place a plugin can: a sink (runs), a command (the CLI), a dashboard tab
(``wandbkit dashboard``) and a stage of ``wandbkit demo``. This module is what the ``wandbkit``
entry point loads, so it stays light: the sink, the command, the tab and the stage are
imported inside the hooks, when they are used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wandbkit import hookimpl

if TYPE_CHECKING:
    import typer

    from wandbkit.demo import DemoStage
    from wandbkit.panels import Panel
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


@hookimpl
def wandbkit_dashboard_panels(register: Callable[[Panel], None]) -> None:
    """Add a "JSON lines" tab: the last rows of a run's file."""
    from wandbkit.panels import Panel
    from wandbkit_jsonl.tab import build_tab

    register(Panel(title="JSON lines", build=build_tab, order=90))


@hookimpl
def wandbkit_register_demo_stages(register: Callable[[DemoStage], None]) -> None:
    """Add a ``jsonl`` stage to ``wandbkit demo``: what the sink wrote for the demo's runs."""
    from wandbkit.demo import DemoStage
    from wandbkit_jsonl.tab import demo_stage

    register(DemoStage(name="jsonl", title="count what the JSON-lines sink wrote", order=85,
                       run=demo_stage))
