"""The dashboard's Checkpoints tab: versions, aliases, metrics and verification.

Registered through ``wandbkit_dashboard_panels`` by this package's plugin; the data functions
are plain (no gradio) and the tab only wires them to components. Nothing here writes to a
checkpoint: verifying reads the files and compares them with their manifest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from wandbkit.formatting import human_size
from wandbkit_artifacts.index import Index, Version

COLUMNS = ["ref", "step", "aliases", "metrics", "size", "created", "run", "project", "wandb"]


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(metrics.items()))


def list_versions(index: Index, name: str | None = None, project: str | None = None) -> list[Version]:
    """Listed versions, newest first, of one checkpoint name (or all) and one project (or all)."""
    versions = index.versions(name or None)
    if project:
        versions = [v for v in versions if v.project in (project, None)]
    return sorted(versions, key=lambda v: (v.created, v.name, v.version), reverse=True)


def versions_rows(versions: list[Version]) -> list[list[Any]]:
    """The table's rows (text and numbers; the table shows them as text, never HTML)."""
    return [[v.ref, v.step, ", ".join(sorted(v.aliases)), _metrics_text(v.metrics),
             human_size(v.size), dt.datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S"),
             v.run_id or "", v.project or "", v.wandb_mode or ""] for v in versions]


def metric_keys(versions: list[Version]) -> list[str]:
    """Numeric metrics recorded with the versions, sorted."""
    return sorted({k for v in versions for k, x in v.metrics.items()
                   if isinstance(x, (int, float)) and not isinstance(x, bool)})


def metric_points(versions: list[Version], metric: str) -> list[dict[str, Any]]:
    """``{step, value, checkpoint}`` per version that recorded ``metric``, by step."""
    points = [{"step": v.step, "value": float(v.metrics[metric]), "checkpoint": v.name}
              for v in versions if isinstance(v.metrics.get(metric), (int, float))]
    return sorted(points, key=lambda p: (p["checkpoint"], p["step"]))


def verify(index: Index, ref: str) -> tuple[bool, list[str]]:
    """Check one version's files against its manifest (sizes and digests).

    :param ref: ``NAME:vN`` as listed in the table.
    :returns: ``(ok, problems)``; an unknown reference is a problem, not an exception.
    """
    from wandbkit_artifacts.loader import verify_folder

    name, _, tag = (ref or "").rpartition(":")
    if not name or not tag.startswith("v") or not tag[1:].isdigit():
        return False, [f"{ref!r} is not NAME:vN; pick a version from the table"]
    version = index.get(name, int(tag[1:]))
    if version is None:
        return False, [f"no listed version {ref}"]
    problems = verify_folder(version.path)
    return not problems, problems


def build_checkpoints_tab(ctx: Any) -> None:
    """The tab: a name filter, the versions table, a metric-by-step chart and Verify."""
    import gradio as gr
    import pandas as pd

    index = Index(ctx.store, readonly=True)  # the dashboard only reads

    def table(name: str | None) -> tuple[Any, Any, Any]:
        versions = list_versions(index, name, ctx.project)
        frame = pd.DataFrame(versions_rows(versions), columns=COLUMNS)
        keys = metric_keys(versions)
        refs = [v.ref for v in versions]
        return (frame, gr.Dropdown(choices=keys, value=keys[0] if keys else None),
                gr.Dropdown(choices=refs, value=refs[0] if refs else None))

    def chart(name: str | None, metric: str | None) -> Any:
        points = metric_points(list_versions(index, name, ctx.project), metric) if metric else []
        return pd.DataFrame(points, columns=["step", "value", "checkpoint"])

    def check(ref: str | None) -> str:
        ok, problems = verify(index, ref or "")
        if ok:
            text, bg, fg = f"{ref}: every file matches its manifest (sizes and digests)", \
                "#f0fdf4", "#166534"
        else:
            text, bg, fg = f"{ref or 'nothing selected'}: " + "; ".join(problems), "#fef2f2", \
                "#991b1b"
        return (f'<div role="status" style="background:{bg};color:{fg};padding:0.8em 1em;'
                f'border-radius:6px">{ctx.escape(text)}</div>')

    names = index.names()
    versions = list_versions(index, None, ctx.project)
    if not versions:
        gr.HTML('<div style="padding:1em">No checkpoints in this store yet: save one with '
                "<code>wandbkit.checkpointing.save_checkpoint(step, model, ...)</code> or "
                "<code>CheckpointManager</code>.</div>")
    with gr.Row():
        name_pick = gr.Dropdown([("all checkpoints", "")] + [(n, n) for n in names], value="",
                                label="Checkpoint", scale=2, allow_custom_value=True)
        reload = gr.Button("Reload", scale=1)
    versions_table = gr.Dataframe(pd.DataFrame(versions_rows(versions), columns=COLUMNS),
                                  interactive=False, label="Versions (newest first)",
                                  elem_id="wandbkit-checkpoints-table")
    keys = metric_keys(versions)
    with gr.Row():
        metric_pick = gr.Dropdown(keys, value=keys[0] if keys else None, label="Metric", scale=1,
                                  allow_custom_value=True)
        plot = gr.LinePlot(chart(None, keys[0] if keys else None), x="step", y="value",
                           color="checkpoint", label="Metric by checkpoint step", scale=3)
    with gr.Row():
        refs = [v.ref for v in versions]
        ref_pick = gr.Dropdown(refs, value=refs[0] if refs else None, label="Version", scale=2,
                               allow_custom_value=True)
        verify_button = gr.Button("Verify files", scale=1)
    verdict = gr.HTML("", elem_id="wandbkit-checkpoints-verdict")

    for trigger in (name_pick.change, reload.click):
        trigger(table, name_pick, [versions_table, metric_pick, ref_pick], api_name=False)
    metric_pick.change(chart, [name_pick, metric_pick], plot, api_name=False)
    verify_button.click(check, ref_pick, verdict, api_name="verify_checkpoint")
