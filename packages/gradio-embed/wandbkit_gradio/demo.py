"""The ``dashboard`` stage of ``wandbkit demo``: the dashboard built and served on the demo's
store, the workspace's data prepared for its runs, and the command to open it."""

from __future__ import annotations

import urllib.request
from typing import Any


def run_dashboard_stage(ctx: Any) -> dict[str, Any]:
    """Build every tab, serve on 127.0.0.1 for a moment (the page answers), prepare the
    workspace's charts.

    :raises RuntimeError: when the demo's store has no runs or the served page does not answer.
    """
    from wandbkit_gradio import workspace
    from wandbkit_gradio.app import build_app, launch

    dashboard = build_app(ctx.store_dir, project=ctx.project, refresh_s=0)
    runs = dashboard.context.runs()
    if not runs:
        raise RuntimeError(f"no runs of project {ctx.project!r} in {ctx.store_dir} to show")
    data = workspace.workspace_data(dashboard.context.store, runs, {})
    charts = sum(len(keys) for _, keys in data["sections"])
    note = (f"{charts} charts in {len(data['sections'])} sections, {data['points']:,} points "
            f"for {len(runs)} runs")
    url = launch(dashboard, block=False, quiet=True)
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/config", timeout=30) as answer:
            status = answer.status
    finally:
        dashboard.blocks.close()
    if status != 200:
        raise RuntimeError(f"the dashboard at {url} answered HTTP {status}")
    return {"tabs": [p.title for p in dashboard.panels], "failed_tabs": dashboard.failed,
            "runs": len(runs), "workspace": note,
            "open": f"wandbkit dashboard --dir {ctx.store_dir} --project {ctx.project}"}
