"""wandbkit entry point: core's dashboard tabs and the ``wandbkit dashboard`` command.

Kept light: gradio loads inside the tab builders and the command, so ``wandbkit --help`` stays
fast.
"""

from __future__ import annotations

from typing import Any

from wandbkit import hookimpl
from wandbkit.panels import Panel


def _tab(name: str, module: str = "tabs") -> Any:
    def build(ctx: Any) -> None:
        import importlib

        getattr(importlib.import_module(f"wandbkit_gradio.{module}"), name)(ctx)

    build.__module__ = f"wandbkit_gradio.{module}"
    build.__qualname__ = name
    return build


@hookimpl
def wandbkit_dashboard_panels(register: Any) -> None:
    """Workspace (first), Runs, Run, Compare, Media and W&B."""
    register(Panel(title="Workspace", build=_tab("build_workspace", "workspace_tab"), order=5))
    register(Panel(title="Runs", build=_tab("build_runs"), order=10))
    register(Panel(title="Run", build=_tab("build_run_page", "workspace_tab"), order=15))
    register(Panel(title="Compare", build=_tab("build_compare", "workspace_tab"), order=20))
    register(Panel(title="Media", build=_tab("build_media"), order=30))
    register(Panel(title="W&B", build=_tab("build_wandb"), order=40))


@hookimpl
def wandbkit_register_commands(cli: Any) -> None:
    """Add ``wandbkit dashboard``."""
    from wandbkit_gradio.cli import dashboard

    cli.command("dashboard")(dashboard)


@hookimpl
def wandbkit_register_demo_stages(register: Any) -> None:
    """The dashboard on the demo's store (after the runs and before the summary)."""
    from wandbkit.demo import DemoStage

    def run(ctx: Any) -> Any:
        from wandbkit_gradio.demo import run_dashboard_stage

        return run_dashboard_stage(ctx)

    register(DemoStage(name="dashboard", order=80, run=run,
                       title="the local dashboard: every tab built and served on 127.0.0.1"))
