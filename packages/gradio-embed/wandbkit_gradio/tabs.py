"""Core's dashboard tabs — Runs, Media, W&B — built through the same panel hook as every
plugin's (the Workspace, Run and Compare tabs are in :mod:`wandbkit_gradio.workspace_tab`).
Event handlers are thin: they call :mod:`wandbkit_gradio.views`. Run pickers offer the runs as
they are when the page opens and accept only those."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from wandbkit.errors import UserError
from wandbkit.panels import DashboardContext
from wandbkit_gradio import media_render, views
from wandbkit_gradio.component import WandbEmbed
from wandbkit_gradio.embed import message_html
from wandbkit_gradio.workspace_tab import refresh_on_load


def _choices(ctx: DashboardContext) -> list[tuple[str, str]]:
    return [(views.run_label(r), r.id) for r in ctx.runs()]


def _known(ctx: DashboardContext, run_ids: list[str] | None) -> list[str]:
    known = {r.id for r in ctx.runs()}
    return [r for r in (run_ids or []) if r in known]


# --- Runs ------------------------------------------------------------------------------------


def build_runs(ctx: DashboardContext) -> None:
    """Filterable run table, the shared run selection and the CSV download."""
    runs = ctx.runs()
    options = views.filter_options(runs)
    with gr.Row():
        search = gr.Textbox(label="Search (id, name, group, tag, config)", scale=3)
        projects = gr.Dropdown(options["projects"], multiselect=True, label="Project", scale=2,
                               value=[ctx.project] if ctx.project else [])
        states = gr.Dropdown(options["states"], multiselect=True, label="State", scale=2)
        groups = gr.Dropdown(options["groups"], multiselect=True, label="Group", scale=2)
        tags = gr.Dropdown(options["tags"], multiselect=True, label="Tags", scale=2)
        reload = gr.Button("Reload", scale=1)
    columns = gr.Dropdown(views.summary_keys(runs), value=views.key_metrics(runs),
                          multiselect=True, label="Metric columns (summary values)",
                          allow_custom_value=False)
    table = gr.Dataframe(views.runs_frame(runs), interactive=False, wrap=False,
                         label="Runs (click a row to add it to the selection)",
                         elem_id="wandbkit-runs-table", max_height=480)
    with gr.Row():
        selected = gr.Dropdown(_choices(ctx), multiselect=True, scale=4, allow_custom_value=False,
                               value=[r.id for r in runs[:1]], label="Selected runs",
                               elem_id="wandbkit-selected-runs")
        download = gr.DownloadButton("Download selected runs' history (CSV)", scale=1)
    note = gr.HTML("")
    filters = [search, projects, states, groups, tags, columns]

    def refresh_table(text: str, proj: list[str], st: list[str], gr_: list[str],
                      tg: list[str], metrics: list[str] | None) -> pd.DataFrame:
        found = views.filter_runs(ctx.runs(), search=text, projects=proj, states=st,
                                  groups=gr_, tags=tg)
        return views.runs_frame(found, list(metrics or []))

    for component in filters:
        event = component.submit if isinstance(component, gr.Textbox) else component.change
        event(refresh_table, filters, table, api_name=False, show_progress="hidden")
    reload.click(refresh_table, filters, table, api_name="runs_table")
    reload.click(lambda: gr.Dropdown(choices=_choices(ctx)), None, selected, api_name=False)

    # The selection lives in the session on the server and row clicks are handled one at a
    # time, so quick clicks each add their run (reading the dropdown's value instead lost
    # clicks made before the previous answer arrived).
    chosen = gr.State([r.id for r in runs[:1]])

    def add_clicked(current: list[str] | None, evt: gr.SelectData) -> tuple[list[str], Any]:
        row = getattr(evt, "row_value", None) or []
        run_id = str(row[0]) if row else ""
        current = _known(ctx, current)
        if run_id and run_id not in current and run_id in {r.id for r in ctx.runs()}:
            current.append(run_id)
        return current, gr.Dropdown(choices=_choices(ctx), value=current)

    table.select(add_clicked, [chosen], [chosen, selected], api_name=False, concurrency_limit=1,
                 trigger_mode="multiple", show_progress="hidden")
    selected.input(lambda ids: _known(ctx, ids), selected, chosen, api_name=False,
                   concurrency_limit=1)
    if ctx.selection is not None:
        selected.change(lambda ids: _known(ctx, ids), selected, ctx.selection, api_name=False)

    def make_csv(run_ids: list[str] | None) -> tuple[Any, str]:
        try:
            return str(views.history_csv(ctx.store, _known(ctx, run_ids),
                                         views.csv_folder(ctx))), ""
        except UserError as exc:
            return None, message_html(str(exc), level="warning")

    download.click(make_csv, selected, [download, note], api_name="history_csv")
    refresh_on_load(selected, ctx, keep_first=False)


# --- Media -----------------------------------------------------------------------------------


def build_media(ctx: DashboardContext) -> None:
    """Logged images, audio, video, histograms and tables with a step slider."""
    runs = ctx.runs()
    with_media = [r.id for r in runs if views.media_keys(ctx.store, r.id)]
    first = with_media[0] if with_media else (runs[0].id if runs else None)
    keys = views.media_keys(ctx.store, first)
    steps = views.media_steps(ctx.store, first, keys[0] if keys else None)
    with gr.Row():
        run_pick = gr.Dropdown(_choices(ctx), value=first, label="Run", scale=2,
                               allow_custom_value=False)
        key_pick = gr.Dropdown(keys, value=keys[0] if keys else None, label="Media key", scale=2,
                               allow_custom_value=False)
        step = gr.Slider(**views.step_slider(steps), label="Step", scale=4,
                         elem_id="wandbkit-media-step")
    caption = gr.HTML("", elem_id="wandbkit-media-caption")
    image = gr.Image(type="filepath", label="Image", interactive=False, visible=False,
                     elem_id="wandbkit-media-image", height=420)
    audio = gr.Audio(type="filepath", label="Audio", interactive=False, visible=False)
    video = gr.Video(label="Video", interactive=False, visible=False)
    hist = gr.BarPlot(x="bin", y="count", label="Histogram", visible=False)
    table = gr.Dataframe(label="Table", interactive=False, visible=False)
    chart = gr.Plot(label="Chart", visible=False, elem_id="wandbkit-media-chart")
    page = gr.HTML("", visible=False, elem_id="wandbkit-media-html")
    outputs = [caption, image, audio, video, hist, table, chart, page]

    def show(run_id: str | None, key: str | None, at: float | None) -> list[Any]:
        hidden = [gr.update(visible=False)] * 7
        if not run_id or not key or run_id not in {r.id for r in ctx.runs()}:
            return [message_html("pick a run and a media key"), *hidden]
        try:
            entry = views.media_at(ctx, run_id, key, int(at or 0))
        except UserError as exc:
            return [message_html(str(exc), level="error"), *hidden]
        if entry is None:
            return [message_html(f"nothing logged under {key} up to step {int(at or 0)}"), *hidden]
        kind = entry["kind"]
        text = f"{key} · step {entry['step']} · {kind}"
        if entry["meta"].get("caption"):
            text += f" · {entry['meta']['caption']}"
        out: list[Any] = [message_html(text), *hidden]
        if kind == "image":
            out[1] = gr.update(value=entry["path"], visible=True)
        elif kind == "audio":
            out[2] = gr.update(value=entry["path"], visible=True)
        elif kind == "video" and entry["meta"].get("format") == "gif":
            out[1] = gr.update(value=entry["path"], visible=True)  # a GIF plays as an image
        elif kind == "video":
            out[3] = gr.update(value=entry["path"], visible=True)
        elif kind == "histogram":
            out[4] = gr.update(value=views.histogram_frame(entry), visible=True)
        elif kind == "table" and entry.get("path"):
            with_media = media_render.table_html(entry, lambda rel: media_render.file_route(ctx, rel))
            if with_media is None:
                out[5] = gr.update(value=views.table_frame(entry), visible=True)
            else:
                out[7] = gr.update(value=with_media, visible=True)
        elif kind == "plotly":
            out[6] = gr.update(value=media_render.plotly_figure(entry), visible=True)
        elif kind == "chart":
            out[6] = gr.update(value=media_render.chart_figure(entry), visible=True)
        elif kind == "html":
            out[7] = gr.update(value=media_render.html_frame(entry), visible=True)
        return out

    def pick_run(run_id: str | None, key: str | None) -> tuple[Any, Any]:
        # the key and the slider in one answer: the slider takes this run's logged steps even
        # when the new run has a key of the same name (no key change event would follow)
        keys = views.media_keys(ctx.store, run_id)
        key = key if key in keys else (keys[0] if keys else None)
        return (gr.Dropdown(choices=keys, value=key),
                gr.Slider(**views.step_slider(views.media_steps(ctx.store, run_id, key))))

    def pick_key(run_id: str | None, key: str | None) -> Any:
        return gr.Slider(**views.step_slider(views.media_steps(ctx.store, run_id, key)))

    run_pick.change(pick_run, [run_pick, key_pick], [key_pick, step], api_name=False).then(
        show, [run_pick, key_pick, step], outputs, api_name=False, show_progress="hidden")
    key_pick.input(pick_key, [run_pick, key_pick], step, api_name=False)
    step.change(show, [run_pick, key_pick, step], outputs, api_name="media_view",
                show_progress="hidden")
    key_pick.input(show, [run_pick, key_pick, step], outputs, api_name=False,
                   show_progress="hidden")
    if ctx.selection is not None:  # follow the run selected last that has media
        def follow(ids: list[str] | None) -> Any:
            with_media = [i for i in (ids or []) if views.media_keys(ctx.store, i)]
            return with_media[-1] if with_media else gr.skip()

        ctx.selection.change(follow, ctx.selection, run_pick, api_name=False)
    demo = gr.context.Context.root_block
    if demo is not None:
        demo.load(show, [run_pick, key_pick, step], outputs, api_name=False)
    refresh_on_load(run_pick, ctx, keep_first=True)


# --- W&B -------------------------------------------------------------------------------------


def build_wandb(ctx: DashboardContext) -> None:
    """The run's W&B page embedded, or how to get it there (``wandbkit sync``) and the local
    view; any W&B URL can be pasted too."""
    runs = ctx.runs()
    first = runs[0].id if runs else None
    with gr.Row():
        run_pick = gr.Dropdown(_choices(ctx), value=first, label="Run", scale=3,
                               allow_custom_value=False)
        ref_box = gr.Textbox(label="…or a W&B URL / ENTITY/PROJECT[/RUN_ID]", scale=3)
        height = gr.Slider(240, 2000, value=720, step=20, label="Height (px)", scale=2)
        jupyter = gr.Checkbox(value=True, label="?jupyter=true", scale=1)
        refresh = gr.Button("Refresh", scale=1)
    status = gr.HTML("", elem_id="wandbkit-wandb-status")
    frame = WandbEmbed(None, elem_id="wandbkit-wandb-frame", visible=False)
    local = gr.Dataframe(label="Local view (config and summary)", interactive=False, wrap=True)
    inputs = [run_pick, ref_box, height, jupyter]

    def view(run_id: str | None, reference: str, h: float, jup: bool,
             reload: bool = False) -> list[Any]:
        embed = {"height": int(h), "jupyter": jup, "refresh": reload}
        if reference and reference.strip():
            return [message_html(f"showing {reference.strip()}"),
                    gr.update(value={**embed, "reference": reference}, visible=True),
                    gr.update()]
        if not run_id or run_id not in {r.id for r in ctx.runs()}:
            return [message_html("pick a run, or paste a W&B URL"), gr.update(visible=False),
                    gr.update(value=None)]
        run = ctx.store.get_run(run_id)
        text, url = views.wandb_status(ctx.store, run)
        if url:
            return [message_html(text), gr.update(value={**embed, "reference": url}, visible=True),
                    views.local_summary(run)]
        return [message_html(text, level="warning"), gr.update(visible=False),
                views.local_summary(run)]

    outputs = [status, frame, local]
    run_pick.change(view, inputs, outputs, api_name="wandb_view")
    ref_box.submit(view, inputs, outputs, api_name=False)
    height.release(view, inputs, outputs, api_name=False)
    jupyter.change(view, inputs, outputs, api_name=False)
    refresh.click(lambda *a: view(*a, reload=True), inputs, outputs, api_name=False)
    if ctx.selection is not None:  # follow the run selected last
        ctx.selection.change(lambda ids: ids[-1] if ids else gr.skip(), ctx.selection, run_pick,
                             api_name=False)
    demo = gr.context.Context.root_block
    if demo is not None:
        demo.load(view, inputs, outputs, api_name=False)
    refresh_on_load(run_pick, ctx, keep_first=True)
