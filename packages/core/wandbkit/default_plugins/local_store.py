"""Built-in plugin: the local SQLite store as a sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wandbkit.hookspecs import hookimpl
from wandbkit.sinks.store_sink import LocalStoreSink

if TYPE_CHECKING:
    from wandbkit.run import Run
    from wandbkit.sinks.base import Sink


@hookimpl
def wandbkit_register_sinks(register: Callable[[Sink], None], run: Run) -> None:
    """Every run is kept in the local store."""
    register(LocalStoreSink(run.settings.store_dir))
