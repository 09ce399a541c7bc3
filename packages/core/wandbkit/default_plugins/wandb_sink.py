"""Built-in plugin: the W&B sink (online, or offline and synced later)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wandbkit.hookspecs import hookimpl
from wandbkit.sinks.wandb_writer import choose_wandb_sink

if TYPE_CHECKING:
    from wandbkit.run import Run
    from wandbkit.sinks.base import Sink


@hookimpl
def wandbkit_register_sinks(register: Callable[[Sink], None], run: Run) -> None:
    """Send the run to W&B unless its mode is ``disabled`` (offline: the transaction-log writer)."""
    if run.settings.wandb_mode != "disabled":
        register(choose_wandb_sink(run.settings.wandb_mode, run.settings.store_dir))
