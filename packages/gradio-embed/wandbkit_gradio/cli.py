"""``wandbkit dashboard [--port] [--host] [--auth] [--project]``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from wandbkit.errors import UserError


def dashboard(
    port: int = typer.Option(None, "--port", "-p", help="Port (default: first free from 7860)."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind; anything but loopback needs --auth."),
    auth: str = typer.Option(None, "--auth", envvar="WANDBKIT_DASHBOARD_AUTH",
                             help="USER:PASS the browser must give (or $WANDBKIT_DASHBOARD_AUTH)."),
    insecure: bool = typer.Option(False, "--insecure",
                                  help="Serve a non-local --host without a password (warns)."),
    project: str = typer.Option(None, "--project", help="Show only this project's runs."),
    store_dir: Path = typer.Option(None, "--dir",
                                   help="Store folder (default $WANDBKIT_DIR or ./wandbkit-runs)."),
    refresh: float = typer.Option(5.0, "--refresh", min=0.0,
                                  help="Seconds between refreshes of live runs (0: off)."),
) -> None:
    """Open the local dashboard: the workspace, runs, compare, media, W&B and every plugin's tabs."""
    from wandbkit_gradio.app import build_app, check_exposure, launch, parse_auth

    credentials = parse_auth(auth)
    warning = check_exposure(host, credentials, insecure)  # fail before the slow build
    if port is not None and not 0 < port < 65536:
        raise UserError(f"--port {port} is not a TCP port (1-65535)")
    dashboard_app = build_app(store_dir, project=project, refresh_s=refresh)
    if warning:
        typer.secho(warning, fg="yellow", err=True)
    for title, why in dashboard_app.failed.items():
        typer.secho(f"warning: the {title} tab failed to build: {why}", fg="yellow", err=True)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    typer.echo(f"wandbkit dashboard for {dashboard_app.context.store_dir} "
               f"({'project ' + project if project else 'all projects'}); Ctrl+C to stop")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_exposure's warning was printed above
        url = launch(dashboard_app, host=host, port=port, auth=credentials, insecure=insecure,
                     block=False)
    typer.echo(f"open {url}")
    try:
        dashboard_app.blocks.block_thread()
    finally:
        dashboard_app.blocks.close()
