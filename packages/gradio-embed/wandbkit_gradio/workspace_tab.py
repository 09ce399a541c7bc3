"""The Workspace, Run and Compare tabs: a layout and thin event functions over
:mod:`wandbkit_gradio.workspace` (the data) and ``static/workspace.js`` (the drawing)."""

from __future__ import annotations

import urllib.parse
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.panels import DashboardContext
from wandbkit_gradio import views, workspace
from wandbkit_gradio.embed import message_html

STATIC = Path(__file__).with_name("static")


@cache
def workspace_css() -> str:
    """The workspace's stylesheet (the app adds it to the page's CSS)."""
    return (STATIC / "workspace.css").read_text(encoding="utf-8")


@cache
def _script() -> str:
    return (STATIC / "workspace.js").read_text(encoding="utf-8")


def media_url(ctx: DashboardContext, path: str) -> str:
    """The URL the page loads a media file from, after checking it is a file inside the
    store (:meth:`DashboardContext.media_path`, raising ``UserError`` otherwise)."""
    resolved = ctx.media_path(path)
    return "gradio_api/file=" + urllib.parse.quote(str(resolved))


def data_function(ctx: DashboardContext) -> Any:
    """The function the page calls for its data (first load, live ticks, a chart's own x
    axis): :func:`workspace.workspace_data` over the dashboard's runs, or one run's."""

    def workspace_data(request: dict[str, Any]) -> dict[str, Any]:
        try:
            if not isinstance(request, dict):
                raise UserError("a workspace request is a JSON object")
            runs = ctx.runs()
            only = str(request.get("run") or "")
            if only:
                runs = [r for r in runs if r.id == only]
                if not runs:
                    raise UserError(f"no run {only!r} in this dashboard")
            return workspace.workspace_data(ctx.store, runs, request,
                                            media_url=lambda p: media_url(ctx, p))
        except UserError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # the page shows one line; the server keeps serving
            return {"error": f"{type(exc).__name__}: {first_line(exc)}"}

    return workspace_data


def workspace_html(ctx: DashboardContext, *, run_id: str = "", elem_id: str) -> gr.HTML:
    """The workspace component: its value is the run it shows ("" for every run)."""
    refresh_ms = int(ctx.refresh_s * 1000) if ctx.refresh_s > 0 else 0
    js = (_script() + f"\nconst opts = () => ({{refresh_ms: {refresh_ms}, run: props.value || ''}});\n"
          "WandbkitWorkspace.mount(element, server, opts());\n"
          "watch('value', () => WandbkitWorkspace.mount(element, server, opts()));\n")
    return gr.HTML(run_id, html_template='<div class="wk-root"></div>', js_on_load=js,
                   server_functions=[data_function(ctx)], elem_id=elem_id,
                   apply_default_css=False)


def build_workspace(ctx: DashboardContext) -> None:
    """One chart per metric in sections by prefix, the runs beside them, live by itself."""
    workspace_html(ctx, elem_id="wandbkit-workspace")


def run_choices(ctx: DashboardContext) -> list[tuple[str, str]]:
    """``(label, run_id)`` of the dashboard's runs, read now (new runs included)."""
    return [(views.run_label(r), r.id) for r in ctx.runs()]


def refresh_on_load(component: gr.Dropdown, ctx: DashboardContext, *, keep_first: bool) -> None:
    """Give a run picker the runs as they are when the page opens (a run started after the
    dashboard appears on reload), keeping the user's value when it still exists."""
    demo = gr.context.Context.root_block
    if demo is None:
        return

    def fresh(current: Any) -> Any:
        choices = run_choices(ctx)
        ids = [c[1] for c in choices]
        if isinstance(current, list):
            return gr.Dropdown(choices=choices, value=[v for v in current if v in ids])
        value = current if current in ids else (ids[0] if ids and keep_first else None)
        return gr.Dropdown(choices=choices, value=value)

    demo.load(fresh, component, component, api_name=False, show_progress="hidden")


def system_info(ctx: DashboardContext, run_id: str) -> pd.DataFrame:
    """A run's system information: host, process, times, exit code, W&B mode and each
    process (fragment) that ran it."""
    run = ctx.store.get_run(run_id)
    rows = [["host", run.host or ""], ["pid", str(run.pid or "")], ["state", run.state],
            ["started", views._when(run.started_at)], ["finished", views._when(run.finished_at)],
            ["exit code", "" if run.exit_code is None else str(run.exit_code)],
            ["W&B mode", run.wandb_mode or ""], ["W&B folder", run.wandb_dir or ""]]
    for frag in ctx.store.fragments(run_id):
        rows.append([f"process {frag['fragment']}",
                     f"{frag['state']} on {frag['host'] or '?'} pid {frag['pid'] or '?'} from step "
                     f"{frag['start_step']}"])
    return pd.DataFrame(rows, columns=["what", "value"])


def build_run_page(ctx: DashboardContext) -> None:
    """One run: its config and summary, system information, and its own workspace."""
    runs = ctx.runs()
    first = runs[0].id if runs else None
    pick = gr.Dropdown(run_choices(ctx), value=first, label="Run", elem_id="wandbkit-run-pick")
    with gr.Row():
        summary = gr.Dataframe(views.local_summary(runs[0]) if runs else None, wrap=True,
                               label="Config and summary", interactive=False, scale=3)
        system = gr.Dataframe(system_info(ctx, first) if first else None, wrap=True,
                              label="System", interactive=False, scale=2,
                              elem_id="wandbkit-run-system")
    page = workspace_html(ctx, run_id=first or "", elem_id="wandbkit-run-workspace")

    def show(run_id: str | None) -> list[Any]:
        if not run_id or run_id not in {r.id for r in ctx.runs()}:
            return [None, None, ""]
        return [views.local_summary(ctx.store.get_run(run_id)), system_info(ctx, run_id), run_id]

    pick.change(show, pick, [summary, system, page], api_name="run_page",
                show_progress="hidden")
    refresh_on_load(pick, ctx, keep_first=True)


def compare_frame(ctx: DashboardContext, run_ids: list[str]) -> tuple[pd.DataFrame, str]:
    """Configs of two or more runs side by side, only the keys that differ, and a note."""
    known = {r.id: r for r in ctx.runs()}
    runs = [known[r] for r in run_ids if r in known]
    if len(runs) < 2:
        return pd.DataFrame(columns=["key"]), "pick two or more runs"
    header, rows = workspace.config_diff(runs)
    labels = [views.run_label(r) for r in runs]
    frame = pd.DataFrame(rows, columns=["key", *labels]) if rows else pd.DataFrame(
        columns=["key", *labels])
    total = len({k for r in runs for k in r.config})
    same = total - len(rows)
    return frame, f"{len(rows)} of {total} config keys differ ({same} the same, not shown)"


def build_compare(ctx: DashboardContext) -> None:
    """Two or more runs' configs side by side, showing only the keys that differ."""
    runs = ctx.runs()
    first = [r.id for r in runs[:2]]
    pick = gr.Dropdown(run_choices(ctx), value=first, multiselect=True, label="Runs to compare",
                       elem_id="wandbkit-compare-pick")
    note = gr.HTML("")
    table = gr.Dataframe(compare_frame(ctx, first)[0], interactive=False, wrap=True,
                         label="Config keys that differ", elem_id="wandbkit-compare-table")

    def show(run_ids: list[str] | None) -> list[Any]:
        frame, text = compare_frame(ctx, list(run_ids or []))
        return [frame, message_html(text)]

    pick.change(show, pick, [table, note], api_name="compare", show_progress="hidden")
    refresh_on_load(pick, ctx, keep_first=False)
