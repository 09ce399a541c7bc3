"""The "JSON lines" dashboard tab and the ``jsonl`` demo stage.

The tab's data function (:func:`tail_text`) is plain Python, testable without a browser; the
tab only wires a run picker to it. gradio is imported inside :func:`build_tab`, which runs only
when ``wandbkit dashboard`` builds its tabs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wandbkit_jsonl.cli import format_row, read_rows
from wandbkit_jsonl.records import jsonl_path


def tail_text(store_dir: Path, run_id: str | None, last: int = 20) -> str:
    """The last ``last`` rows of a run's JSON-lines file, one per line (or why there are none)."""
    if not run_id:
        return "pick a run"
    path = jsonl_path(Path(store_dir), run_id)
    if not path.exists():
        return f"run {run_id} has no JSON-lines file (was wandbkit-jsonl installed when it ran?)"
    return "\n".join(format_row(row) for row in read_rows(path, last)) or "no rows yet"


def build_tab(ctx: Any) -> None:
    """A run picker and the tail of its file (every value shown as text, never as HTML)."""
    import gradio as gr

    choices = ctx.run_choices()
    run = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None, label="Run",
                      elem_id="jsonl-run")
    rows = gr.Textbox(label="Last rows", lines=12, interactive=False, elem_id="jsonl-rows",
                      value=tail_text(ctx.store_dir, choices[0][1]) if choices else "no runs")
    run.change(lambda run_id: tail_text(ctx.store_dir, run_id), inputs=run, outputs=rows)


def demo_stage(ctx: Any) -> dict[str, Any]:
    """Count the rows this plugin's sink wrote for the demo's runs."""
    folder = Path(ctx.store_dir) / "jsonl"
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    rows = sum(len(read_rows(f, 10**9)) for f in files)
    return {"headline": f"{len(files)} runs also written as JSON lines ({rows} rows)",
            "files": len(files), "rows": rows}
