"""Gradio building blocks for embedding W&B in your own app.

>>> import gradio as gr
>>> from wandbkit_gradio import WandbEmbed, wandb_panel
>>> with gr.Blocks() as demo:
...     WandbEmbed("https://wandb.ai/my-team/vlm/runs/abc123", embed_height=600)
...     wandb_panel("my-team/vlm")          # with a reference box, height and refresh controls
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from wandbkit_gradio.embed import DEFAULT_HEIGHT, PROBE_JS, reference_html


class WandbEmbed(gr.HTML):
    """An HTML component whose value is a W&B *reference*, never raw HTML.

    Give it (or return from an event) a W&B URL or path — a run, project, sweep or report —
    or a dict ``{"reference": ..., "height": ..., "jupyter": ..., "refresh": bool}``; it renders
    the escaped iframe, or a note saying why it cannot (not a W&B host, empty reference).
    Hosts other than wandb.ai and the configured W&B server are refused.

    :param value: the initial reference.
    :param embed_height: frame height in pixels.
    :param embed_jupyter: W&B's embedded view (``?jupyter=true``).
    :param embed_kind: insist on ``run``, ``project``, ``sweep`` or ``report``.
    """

    def __init__(self, value: str | dict[str, Any] | None = None, *,
                 embed_height: int = DEFAULT_HEIGHT, embed_jupyter: bool = True,
                 embed_kind: str | None = None, **kwargs: Any) -> None:
        self.embed_height = embed_height
        self.embed_jupyter = embed_jupyter
        self.embed_kind = embed_kind
        kwargs.setdefault("js_on_load", PROBE_JS)
        super().__init__(value, **kwargs)

    def postprocess(self, value: str | dict[str, Any] | None) -> str:  # type: ignore[override]
        """Turn a reference (or the dict form) into the embed's HTML."""
        if isinstance(value, dict):
            return reference_html(str(value.get("reference") or ""),
                                  height=int(value.get("height") or self.embed_height),
                                  jupyter=bool(value.get("jupyter", self.embed_jupyter)),
                                  kind=value.get("kind", self.embed_kind),
                                  refresh=bool(value.get("refresh", False)))
        return reference_html(str(value or ""), height=self.embed_height,
                              jupyter=self.embed_jupyter, kind=self.embed_kind)


@dataclass
class WandbPanel:
    """The components :func:`wandb_panel` created (wire your own events to them)."""

    reference: gr.Textbox
    height: gr.Slider
    jupyter: gr.Checkbox
    refresh: gr.Button
    frame: WandbEmbed
    timer: gr.Timer | None


def _render(reference: str, height: float, jupyter: bool, refresh: bool = False) -> dict[str, Any]:
    return {"reference": reference, "height": int(height), "jupyter": jupyter, "refresh": refresh}


def wandb_panel(reference: str = "", *, height: int = DEFAULT_HEIGHT, jupyter: bool = True,
                refresh_s: float = 0.0, kind: str | None = None,
                label: str = "W&B URL or ENTITY/PROJECT[/RUN_ID]") -> WandbPanel:
    """A W&B embed with controls, created inside the current ``gr.Blocks``: a reference box,
    a height slider, the ``?jupyter=true`` switch and a Refresh button (plus a reload every
    ``refresh_s`` seconds when above 0).

    :param reference: the initial W&B URL or path.
    :param kind: insist on a run, project, sweep or report.
    """
    with gr.Row():
        ref_box = gr.Textbox(value=reference, label=label, scale=4)
        height_slider = gr.Slider(240, 2000, value=height, step=20, label="Height (px)", scale=2)
        jupyter_box = gr.Checkbox(value=jupyter, label="Embedded view (?jupyter=true)", scale=1)
        refresh = gr.Button("Refresh", scale=1)
    frame = WandbEmbed(_render(reference, height, jupyter), embed_height=height,
                       embed_jupyter=jupyter, embed_kind=kind)
    inputs = [ref_box, height_slider, jupyter_box]
    for event in (ref_box.submit, height_slider.release, jupyter_box.change):
        event(_render, inputs, frame, show_progress="hidden")
    refresh.click(lambda r, h, j: _render(r, h, j, refresh=True), inputs, frame,
                  show_progress="hidden")
    timer = None
    if refresh_s > 0:
        timer = gr.Timer(refresh_s)
        timer.tick(lambda r, h, j: _render(r, h, j, refresh=True), inputs, frame,
                   show_progress="hidden")
    return WandbPanel(ref_box, height_slider, jupyter_box, refresh, frame, timer)
