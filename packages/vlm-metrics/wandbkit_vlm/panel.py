"""The "VLM" dashboard tab: the pictures of one logged step, chosen with a step slider.

The data functions (:func:`vlm_runs`, :func:`picture_steps`, :func:`view_at`) read the local store
and return plain data, testable without a browser; :func:`build_panel` lays the tab out with
gradio, imported only there (gradio is not a dependency of this package).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PICTURE_PREFIX = "pictures/"
IMAGE_KEYS = ("pictures/relevance", "pictures/attention", "pictures/selection", "pictures/worst_images")
SUMMARY_KEYS = ("vqa/accuracy", "allocation/spearman", "allocation/gini_selected",
                "allocation/tokens_per_patch",
                "compression/vision", "compression/patch", "attention/recall", "attention/entropy_normalised",
                "relevance/weight/propositional", "relevance/weight/perspectival",
                "relevance/weight/participatory")


@dataclass
class StepView:
    """What the tab shows for one step: image paths (inside the store), the worst-samples table,
    the two histograms as ``(labels, counts)`` and the step's ARR-COC scalars."""

    step: int
    images: dict[str, str] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    table_columns: list[str] = field(default_factory=list)
    table_rows: list[list[Any]] = field(default_factory=list)
    histograms: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)


def _picture_entries(store: Any, run_id: str) -> list[dict[str, Any]]:
    return [m for m in store.media(run_id) if m["key"].startswith(PICTURE_PREFIX)]


def vlm_runs(ctx: Any) -> list[tuple[str, str]]:
    """``(label, run_id)`` of the runs (newest first) that logged vlm pictures."""
    return [(label, rid) for label, rid in ctx.run_choices() if _picture_entries(ctx.store, rid)]


def picture_steps(store: Any, run_id: str | None) -> list[int]:
    """The steps at which the run logged vlm pictures, ascending."""
    if not run_id:
        return []
    return sorted({int(m["step"]) for m in _picture_entries(store, run_id)})


def view_at(ctx: Any, run_id: str, step: int) -> StepView | None:
    """The pictures logged at the last picture step at or before ``step`` (None if there is none).

    Every file goes through ``ctx.media_path`` (files outside the store are refused).
    """
    steps = [s for s in picture_steps(ctx.store, run_id) if s <= step]
    if not steps:
        return None
    at = steps[-1]
    view = StepView(step=at)
    for entry in _picture_entries(ctx.store, run_id):
        if int(entry["step"]) != at:
            continue
        key, kind, meta = entry["key"], entry["kind"], entry["meta"]
        if kind == "image" and entry["path"]:
            view.images[key] = str(ctx.media_path(entry["path"]))
            view.captions[key] = str(meta.get("caption") or "")
        elif kind == "histogram":
            edges = meta.get("edges", [])
            labels = [f"{(a + b) / 2:g}" for a, b in zip(edges[:-1], edges[1:], strict=False)]
            view.histograms[key] = (labels, [float(c) for c in meta.get("counts", [])])
        elif kind == "table" and entry["path"]:
            data = json.loads(ctx.media_path(entry["path"]).read_text())
            view.table_columns, view.table_rows = list(data["columns"]), list(data["data"])
    history = ctx.store.history(run_id, list(SUMMARY_KEYS))
    for key, points in history.items():
        before = [v for s, v in points if s <= at and isinstance(v, (int, float))]
        if before:
            view.scalars[key] = float(before[-1])
    return view


def scalars_markdown(ctx: Any, view: StepView) -> str:
    """The step's ARR-COC scalars as a small Markdown table (keys escaped)."""
    if not view.scalars:
        return f"step {view.step}: no vlm scalars logged yet"
    lines = [f"**step {view.step}**", "", "| metric | value |", "|---|---|"]
    lines += [f"| {ctx.escape(k)} | {v:.4g} |" for k, v in view.scalars.items()]
    return "\n".join(lines)


def build_panel(ctx: Any) -> None:
    """Lay out the tab: run picker, step slider, the overlays, histograms and worst samples."""
    import gradio as gr
    import pandas as pd

    runs = vlm_runs(ctx)
    first = runs[0][1] if runs else None
    steps = picture_steps(ctx.store, first)

    def frame(view: StepView, key: str, y: str) -> Any:
        labels, counts = view.histograms.get(key, ([], []))
        return pd.DataFrame({"tokens": labels, y: counts})

    def show(run_id: str | None, at: float | None) -> list[Any]:
        blank = [None, None, None, None, None, None, None]
        if not run_id:
            return ["pick a run that logged vlm pictures", *blank]
        view = view_at(ctx, run_id, int(at or 0))
        if view is None:
            return [f"no vlm pictures up to step {int(at or 0)}", *blank]
        table_value = (pd.DataFrame(view.table_rows, columns=view.table_columns)
                       if view.table_columns else None)
        return [scalars_markdown(ctx, view),
                *[view.images.get(k) for k in IMAGE_KEYS[:3]],
                frame(view, "pictures/lod_histogram", "patches"),
                frame(view, "pictures/budget_histogram", "images"),
                view.images.get("pictures/worst_images"), table_value]

    # The tab opens on the newest run's last picture step, filled in at build time.
    initial = show(first, steps[-1] if steps else 0)
    with gr.Row():
        run_pick = gr.Dropdown(runs, value=first, label="Run", scale=2)
        step = gr.Slider(steps[0] if steps else 0, max(steps[-1] if steps else 1, 1),
                         value=steps[-1] if steps else 0, step=1, label="Step", scale=4,
                         elem_id="wandbkit-vlm-step")
    summary = gr.Markdown(initial[0], elem_id="wandbkit-vlm-summary")
    with gr.Row():
        images = [gr.Image(value=initial[1 + i], type="filepath", label=key.removeprefix(PICTURE_PREFIX),
                           interactive=False, elem_id=f"wandbkit-vlm-{key.removeprefix(PICTURE_PREFIX)}")
                  for i, key in enumerate(IMAGE_KEYS[:3])]
    with gr.Row():
        lod = gr.BarPlot(initial[4], x="tokens", y="patches", label="LOD histogram")
        budget = gr.BarPlot(initial[5], x="tokens", y="images", label="Budget histogram")
    strip = gr.Image(value=initial[6], type="filepath", label="worst samples", interactive=False)
    table = gr.Dataframe(value=initial[7], label="Worst samples", interactive=False,
                         elem_id="wandbkit-vlm-worst")

    def pick_run(run_id: str | None) -> Any:
        found = picture_steps(ctx.store, run_id)
        if not found:
            return gr.Slider(minimum=0, maximum=1, value=0)
        return gr.Slider(minimum=found[0], maximum=max(found[-1], found[0] + 1), value=found[-1])

    outputs = [summary, *images, lod, budget, strip, table]
    run_pick.change(pick_run, run_pick, step, api_name=False).then(
        show, [run_pick, step], outputs, api_name=False)
    step.release(show, [run_pick, step], outputs, api_name="vlm_view")
