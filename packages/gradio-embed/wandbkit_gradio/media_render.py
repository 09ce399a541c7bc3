"""Media kinds beyond images, audio and video, shaped for the Media tab: plotly charts, HTML
pages (shown sandboxed: no script of a logged page ever runs in the dashboard), ``wandb.plot``
charts (drawn from their table by the same preset W&B would use) and tables whose cells hold
images. Plain functions of a store entry; the tab only places what they return."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

RICH_KINDS = ("plotly", "html", "chart")


def plotly_figure(entry: dict[str, Any]) -> Any:
    """The logged plotly figure, rebuilt from its JSON."""
    import plotly.io

    return plotly.io.from_json(Path(entry["path"]).read_text(), skip_invalid=True)


def html_frame(entry: dict[str, Any], height: int = 480) -> str:
    """The logged page in an ``<iframe sandbox>`` (no scripts, forms, popups or same-origin
    access), its HTML escaped into ``srcdoc``."""
    page = Path(entry["path"]).read_text(encoding="utf-8")
    return (f'<iframe class="wandbkit-html-media" sandbox="" referrerpolicy="no-referrer" '
            f'style="width:100%;height:{int(height)}px;border:1px solid #ddd;background:#fff" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>')


def _rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(doc["columns"], row, strict=False)) for row in doc["data"]]


def chart_figure(entry: dict[str, Any]) -> Any:
    """A ``wandb.plot`` chart drawn with plotly from its table, by its preset: line, scatter,
    bar, histogram, line series, area under curve (PR/ROC), confusion matrix. Another preset:
    its table as a scatter of the first two numeric columns."""
    import plotly.graph_objects as go

    doc = json.loads(Path(entry["path"]).read_text())
    spec, fields, strings = doc["spec_name"], doc["fields"], doc.get("string_fields") or {}
    rows = _rows(doc)
    fig = go.Figure()

    def col(name: str | None) -> list[Any]:
        return [r.get(name) for r in rows] if name else []

    def grouped(x: str, y: str, by: str | None, mode: str) -> None:
        groups: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r.get(by) if by else None, []).append(r)
        for name, members in groups.items():
            fig.add_trace(go.Scatter(x=[m.get(x) for m in members], y=[m.get(y) for m in members],
                                     mode=mode, name=str(name) if by else y))

    if spec.startswith("wandb/line/"):
        grouped(fields["x"], fields["y"], fields.get("stroke"), "lines")
    elif spec.startswith("wandb/scatter/"):
        grouped(fields["x"], fields["y"], None, "markers")
    elif spec.startswith("wandb/bar/"):
        fig.add_trace(go.Bar(x=col(fields["label"]), y=col(fields["value"])))
    elif spec.startswith("wandb/histogram/"):
        fig.add_trace(go.Histogram(x=col(fields["value"])))
    elif spec.startswith("wandb/lineseries/"):
        grouped(fields["step"], fields["lineVal"], fields["lineKey"], "lines")
        fig.update_xaxes(title=strings.get("xname", "x"))
    elif spec.startswith("wandb/area-under-curve/"):
        grouped(fields["x"], fields["y"], fields.get("class"), "lines")
        fig.update_xaxes(title=strings.get("x-axis-title", fields["x"]))
        fig.update_yaxes(title=strings.get("y-axis-title", fields["y"]))
    elif spec.startswith("wandb/confusion_matrix/"):
        actual, predicted = fields["Actual"], fields["Predicted"]
        xs = list(dict.fromkeys(col(predicted)))
        ys = list(dict.fromkeys(col(actual)))
        counts = {(r.get(actual), r.get(predicted)): r.get(fields["nPredictions"]) for r in rows}
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=[[counts.get((a, p), 0) for p in xs] for a in ys],
                                 colorscale="Blues"))
        fig.update_xaxes(title="Predicted")
        fig.update_yaxes(title="Actual", autorange="reversed")
    else:
        numeric = [c for c in doc["columns"] if all(isinstance(r.get(c), (int, float)) for r in rows)]
        if len(numeric) >= 2:
            grouped(numeric[0], numeric[1], None, "markers")
    fig.update_layout(title=strings.get("title") or None, height=420, margin={"t": 40, "b": 40})
    return fig


def table_html(entry: dict[str, Any], file_url: Any) -> str | None:
    """A table with media cells as an HTML table (images shown, other media linked); text
    escaped. None when the table has no media cells (the plain table view shows it).

    :param file_url: maps a store-relative media path to a URL the dashboard serves.
    """
    doc = json.loads(Path(entry["path"]).read_text())
    rows = doc.get("data") or []
    if not any(isinstance(c, dict) and "_type" in c for row in rows for c in row):
        return None
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in doc["columns"])
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, dict) and cell.get("_type") == "image-file" and cell.get("path"):
                caption = html.escape(str(cell.get("caption") or ""))
                cells.append(f'<td><img src="{html.escape(file_url(cell["path"]), quote=True)}" '
                             f'alt="{caption}" title="{caption}" style="max-height:96px"></td>')
            elif isinstance(cell, dict) and cell.get("path"):
                cells.append(f'<td><a href="{html.escape(file_url(cell["path"]), quote=True)}" '
                             f'target="_blank" rel="noopener">{html.escape(cell["_type"])}</a></td>')
            else:
                cells.append(f"<td>{html.escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="wandbkit-media-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def file_route(ctx: Any, rel: str) -> str:
    """The dashboard's URL for a media file of the store (checked to be one)."""
    return "/gradio_api/file=" + quote(str(ctx.media_path(rel)))
