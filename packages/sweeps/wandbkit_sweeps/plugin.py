"""wandbkit entry point: the ``sweep`` commands, the metric watcher, the Sweeps tab, the demo
stage. Kept light: Optuna loads only when a sweep is used."""

from __future__ import annotations

import os
import sys
from typing import Any

from wandbkit import hookimpl


@hookimpl
def wandbkit_register_commands(cli: Any) -> None:
    """Add ``wandbkit sweep validate|run|agent|show``."""
    from wandbkit_sweeps.cli import app

    cli.add_typer(app, name="sweep")


@hookimpl
def wandbkit_rows_logged(run: Any, rows: list[Any]) -> None:
    """Hand a trial's metric values to its Optuna trial (only in a process running trials)."""
    agent = sys.modules.get("wandbkit_sweeps.agent")
    if agent is not None and agent._MONITORS:
        agent.observe_rows(run, rows)


@hookimpl
def wandbkit_run_started(run: Any) -> None:
    """Link a trial's run that the user's code started itself (a W&B-style train function, or a
    program an agent launched) to its trial, and give it the trial's config."""
    agent = sys.modules.get("wandbkit_sweeps.agent")
    if agent is not None and agent._PENDING:
        agent.attach_pending(run)  # a W&B-style train function started its own run
    elif os.environ.get("WANDBKIT_SWEEP_ID") and os.environ.get("_WANDBKIT_SWEEP_LINKED") != "1":
        from wandbkit_sweeps.agent import link_run

        link_run(run)


@hookimpl
def wandbkit_sweep_call(request: Any) -> Any:
    """``wandb.sweep`` / ``wandb.agent`` under ``import wandbkit as wandb``: the local engine
    (or W&B's, with ``WANDBKIT_SWEEP_ENGINE=wandb``)."""
    from wandbkit_sweeps.dropin import handle

    return handle(request)


@hookimpl
def wandbkit_dashboard_panels(register: Any) -> None:
    """The dashboard's Sweeps tab (gradio loads only when the dashboard builds it)."""
    from wandbkit.panels import Panel

    def build(ctx: Any) -> None:
        from wandbkit_sweeps.dashboard import build as build_sweeps

        build_sweeps(ctx)

    register(Panel(title="Sweeps", build=build, order=60))


@hookimpl
def wandbkit_register_demo_stages(register: Any) -> None:
    """`wandbkit demo`: a local sweep, 6 trials on 2 workers with hyperband."""
    from wandbkit.demo import DemoStage
    from wandbkit_sweeps.demo import run_sweep_stage

    register(DemoStage(name="sweep", title="a local sweep: 6 trials, 2 workers, hyperband",
                       order=30, run=run_sweep_stage))
