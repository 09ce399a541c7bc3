"""Core's CLI commands (plugins, runs, show, sync, export, demo), registered by the built-in
plugin :mod:`wandbkit.default_plugins.commands`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

DirOption = typer.Option(None, "--dir", envvar="WANDBKIT_DIR",
                         help="Local store root (default ./wandbkit-runs).")
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


def register(cli: typer.Typer) -> None:
    """Add the core commands to ``cli``."""
    cli.command("plugins")(plugins_command)
    cli.command("runs")(runs_command)
    cli.command("show")(show_command)
    cli.command("export")(export_command)
    cli.command("sync")(sync_command)
    cli.command("demo")(demo_command)


def plugins_command(as_json: bool = JsonOption) -> None:
    """List installed plugins: name, distribution, version, hooks, status."""
    from wandbkit.cli.output import print_plugins
    from wandbkit.plugins import plugin_infos

    infos = plugin_infos()
    if as_json:
        typer.echo(json.dumps([i.to_dict() for i in infos], indent=2))
    else:
        print_plugins(infos)


def runs_command(project: str | None = typer.Option(None, "--project", "-p"),
                 limit: int = typer.Option(50, "--limit", "-n", min=1),
                 as_json: bool = JsonOption, dir: Path | None = DirOption) -> None:
    """List runs in the local store, newest first."""
    from wandbkit.cli.output import print_runs, to_json
    from wandbkit.store import Store

    store = Store.open(dir, readonly=True)
    records = store.runs(project=project, limit=limit)
    if as_json:
        typer.echo(to_json([r.to_dict() for r in records]))
    else:
        projects = sorted({r.project for r in store.runs()}) if project and not records else None
        print_runs(records, project=project, projects=projects)


def show_command(run: str = typer.Argument(..., help="Run id, id prefix or name."),
                 as_json: bool = JsonOption, dir: Path | None = DirOption) -> None:
    """Show a run: config, summary, last values, a sparkline of its loss."""
    from wandbkit.cli.output import print_run, run_details, to_json
    from wandbkit.store import Store

    details = run_details(Store.open(dir, readonly=True), run)
    if as_json:
        typer.echo(to_json(details))
    else:
        print_run(details)


def export_command(run: str = typer.Argument(..., help="Run id, id prefix or name."),
                   format: str = typer.Option("csv", "--format", "-f", help="Only csv for now."),
                   output: Path | None = typer.Option(None, "--output", "-o",
                                                         help="File to write (default stdout)."),
                   dir: Path | None = DirOption) -> None:
    """Export a run's metric history (one row per step, one column per key)."""
    from wandbkit.cli.export import export_csv
    from wandbkit.errors import UserError
    from wandbkit.store import Store

    if format != "csv":
        raise UserError(f"--format {format!r} is not supported (supported: csv)")
    store = Store.open(dir, readonly=True)
    export_csv(store, store.get_run(run).id, output)


def sync_command(runs: list[str] | None = typer.Argument(None, help="Runs to upload "
                                                            "(default: every offline run)."),
                 timeout: float = typer.Option(600.0, "--timeout", min=1.0,
                                               help="Seconds one run's upload may take before it "
                                                    "is stopped and the run stays offline."),
                 dry_run: bool = typer.Option(False, "--dry-run",
                                              help="List what would be uploaded; upload nothing."),
                 dir: Path | None = DirOption) -> None:
    """Upload offline runs to W&B (needs a W&B login); runs still running are skipped."""
    from wandbkit.cli.sync import sync_runs
    from wandbkit.store import Store

    raise typer.Exit(sync_runs(Store.open(dir, create=False), runs or [], timeout_s=timeout,
                               dry_run=dry_run))


def demo_command(mode: str = typer.Option("offline", "--mode",
                                          help="auto, online, offline or disabled."),
                 project: str = typer.Option("wandbkit-demo", "--project"),
                 quick: bool = typer.Option(False, "--quick", help="A tiny version of every stage."),
                 steps: int = typer.Option(300, "--steps", min=10,
                                           help="Training steps of core's own numpy run."),
                 dir: Path | None = DirOption) -> None:
    """Tour every installed package offline: each plugin's stage, then a summary.

    With no plugin installed, trains core's small numpy MLP on two spirals instead.
    """
    from wandbkit.cli.demo_tour import run_tour
    from wandbkit.settings import check_mode

    check_mode(mode)
    run_tour(mode=mode, project=project, store_dir=dir, quick=quick, steps=steps)
