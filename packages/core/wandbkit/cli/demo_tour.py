"""``wandbkit demo``: run every installed plugin's demo stage, then summarise what they made.

With no plugin stages installed, the demo is core's own numpy run (:mod:`wandbkit.cli.demo`).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from wandbkit.cli.output import console
from wandbkit.demo import (
    DemoContext,
    DemoStage,
    StageOutcome,
    collect_demo_stages,
    missing_stages,
    run_stages,
)
from wandbkit.store import Store, default_root


def run_tour(mode: str = "offline", project: str = "wandbkit-demo", store_dir: Path | None = None,
             quick: bool = False, steps: int = 300) -> list[StageOutcome]:
    """Run the demo; returns each stage's outcome. Raises ``DemoStageFailed`` naming a stage."""
    root = (store_dir or default_root()).expanduser().resolve()
    stages = collect_demo_stages()
    out = console()
    started = time.time()
    if not stages:
        from wandbkit.cli.demo import run_demo

        out.print("[bold]wandbkit demo[/]: core only (install plugins for the full tour)")
        for line in missing_stages(stages):
            out.print(f"  [dim]{escape(line)}[/]")
        run_demo(steps=steps, mode=mode, project=project, store_dir=root)
        return []
    work_dir = root / "demo"
    work_dir.mkdir(parents=True, exist_ok=True)
    out.print(f"[bold]wandbkit demo[/]: {len(stages)} stages, store {escape(str(root))}, "
              f"W&B {escape(mode)}")
    for line in missing_stages(stages):
        out.print(f"  [dim]{escape(line)}[/]")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=out, transient=False) as progress:
        overall = progress.add_task("demo", total=len(stages))
        ctx = DemoContext(store_dir=root, project=project, mode=mode, quick=quick,
                          work_dir=work_dir, progress=progress)

        def on_start(stage: DemoStage) -> None:
            done = int(progress.tasks[overall].completed)
            progress.update(overall, description=escape(f"[{done + 1}/{len(stages)}] {stage.title}"))

        outcomes: list[StageOutcome] = []
        for stage in stages:
            outcomes += run_stages([stage], ctx, on_start=on_start)
            progress.advance(overall)
    print_summary(root, project, started, outcomes, ctx)
    return outcomes


def offline_runs_to_sync(store: Store, project: str, since: float) -> list[Any]:
    """Runs of ``project`` started since ``since`` whose W&B copy is offline and not yet synced."""
    return [r for r in store.runs(project=project)
            if r.started_at >= since and r.wandb_mode == "offline" and store.synced_at(r.id) is None]


def print_summary(root: Path, project: str, since: float, outcomes: list[StageOutcome],
                  ctx: DemoContext) -> None:
    """What the demo made: runs, best checkpoint, best sweep trial, runs to sync, next commands."""
    out = console()
    store = Store.open(root)
    runs = [r for r in store.runs(project=project) if r.started_at >= since]
    table = Table(title="wandbkit demo: what each stage did", show_lines=False)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    for o in outcomes:
        headline = o.facts.get("headline") or _facts_line(o.facts)
        table.add_row(Text(o.name), f"{o.seconds:.1f}", Text(str(headline)))
    out.print(table)
    out.print(Text(f"runs made: {len(runs)} in project {project!r} "
                   f"({', '.join(r.id for r in runs[:12])}{' ...' if len(runs) > 12 else ''})"))
    for key, label in (("best_checkpoint", "best checkpoint"), ("best_trial", "best sweep trial")):
        for o in outcomes:
            if key in o.facts:
                out.print(Text(f"{label} ({o.name}): {compact(o.facts[key])}"))
    pending = offline_runs_to_sync(store, project, since)
    if pending:
        out.print(Text(f"W&B offline runs waiting for upload: {len(pending)} "
                       f"(`wandbkit sync --dir {shlex.quote(str(root))}` once logged in)"))
    dir_arg = "" if os.environ.get("WANDBKIT_DIR") == str(root) else f" --dir {shlex.quote(str(root))}"
    if "dashboard" in ctx.results:  # the dashboard plugin's stage ran: its command is there
        out.print(f"open the dashboard: [bold]wandbkit dashboard{escape(dir_arg)}[/]")
    else:
        out.print("dashboard: pip install wandbkit-gradio, then `wandbkit dashboard`")
    out.print(Text(f"list the runs: wandbkit runs{dir_arg} --project {shlex.quote(project)}"))


def _facts_line(facts: dict[str, Any], width: int = 160) -> str:
    """A stage's scalar facts as ``k=v`` pairs, cut at a pair boundary near ``width``."""
    line = ""
    for k, v in facts.items():
        if not isinstance(v, (int, float, str)):
            continue
        pair = f"{k}={compact(v)}"
        if line and len(line) + len(pair) + 2 > width:
            return line + ", ..."
        line = f"{line}, {pair}" if line else pair
    return line


def compact(value: Any) -> str:
    """A fact on one line: dicts as ``k=v`` pairs (numbers to 4 significant figures), None dropped."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={compact(v)}" for k, v in value.items()
                               if v is not None and v is not False) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    return str(value)

