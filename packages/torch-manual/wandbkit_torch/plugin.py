"""wandbkit hook implementations of wandbkit-torch: the ``smoke`` command and its checks.

Kept light: torch is imported only when a command runs or checks are collected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wandbkit import hookimpl

if TYPE_CHECKING:
    import typer

    from wandbkit.smoke import SmokeCheck


@hookimpl
def wandbkit_register_commands(cli: typer.Typer) -> None:
    """Add ``wandbkit smoke`` (with ``--quick-train``)."""
    from wandbkit_torch.smoke.cli import HELP, smoke_command

    cli.command("smoke", help=HELP)(smoke_command)


@hookimpl
def wandbkit_register_smoke_checks(register: Callable[[SmokeCheck], None]) -> None:
    """Register the nine built-in checks."""
    from wandbkit_torch.smoke.checks import BUILTIN_CHECKS

    for check in BUILTIN_CHECKS:
        register(check)


@hookimpl
def wandbkit_register_demo_stages(register: Callable[[Any], None]) -> None:
    """Smoke-test and train the demo model (published by another plugin) in ``wandbkit demo``."""
    from wandbkit_torch.demo import stages

    for stage in stages():
        register(stage)


@hookimpl
def wandbkit_watch(run: Any, model: Any, log: str | None, log_freq: int) -> Any:
    """``wandbkit.watch(model)`` for a ``torch.nn.Module``: gradient/parameter histograms."""
    import sys

    torch = sys.modules.get("torch")  # a model of ours means torch is imported already
    if torch is None or not isinstance(model, torch.nn.Module):
        return None
    from wandbkit_torch.watch import ModelWatch

    return ModelWatch(run, model, log, log_freq)
