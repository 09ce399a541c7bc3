"""The dashboard's data: plain functions from the store to tables, CSV and media.

No gradio here: each function takes the :class:`wandbkit.panels.DashboardContext` (or a store)
and returns pandas frames, strings or paths, so they are tested without a browser; the tabs
wire them to components.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from wandbkit.csvio import write_csv
from wandbkit.errors import UserError
from wandbkit.panels import DashboardContext
from wandbkit.paths import safe_filename
from wandbkit.store import RunRecord, Store

RUN_COLUMNS = ["id", "name", "project", "state", "group", "tags", "started", "duration"]
MAX_METRIC_COLUMNS = 6
_PREFERRED = re.compile(r"(loss|acc|accuracy|f1|perplexity|reward|score|lr)$", re.IGNORECASE)


# --- runs ------------------------------------------------------------------------------------


def run_label(run: RunRecord) -> str:
    """``name (id)``, or the id when the run has no name of its own."""
    return f"{run.name} ({run.id})" if run.name and run.name != run.id else run.id


def filter_options(runs: list[RunRecord]) -> dict[str, list[str]]:
    """The values the Runs tab's filters offer: projects, states, groups and tags present."""
    return {
        "projects": sorted({r.project for r in runs}),
        "states": sorted({r.state for r in runs}),
        "groups": sorted({r.group for r in runs if r.group}),
        "tags": sorted({t for r in runs for t in r.tags}),
    }


def filter_runs(runs: list[RunRecord], *, search: str = "", projects: Iterable[str] = (),
                states: Iterable[str] = (), groups: Iterable[str] = (),
                tags: Iterable[str] = ()) -> list[RunRecord]:
    """Runs matching every filter given (an empty filter matches all).

    :param search: case-insensitive text found in the id, name, group, a tag or a config value.
    :param tags: runs carrying all these tags.
    """
    projects, states, groups, tags = set(projects), set(states), set(groups), set(tags)
    needle = search.strip().lower()
    out = []
    for run in runs:
        if projects and run.project not in projects:
            continue
        if states and run.state not in states:
            continue
        if groups and (run.group or "") not in groups:
            continue
        if tags and not tags.issubset(run.tags):
            continue
        if needle:
            haystack = " ".join([run.id, run.name or "", run.group or "", *run.tags,
                                 *(f"{k}={v}" for k, v in run.config.items())]).lower()
            if needle not in haystack:
                continue
        out.append(run)
    return out


def summary_keys(runs: list[RunRecord]) -> list[str]:
    """Every numeric summary key of ``runs``, sorted (the Runs table's column choices)."""
    return sorted({k for r in runs for k, v in r.summary.items()
                   if isinstance(v, (int, float)) and not k.startswith("_")})


def key_metrics(runs: list[RunRecord], limit: int = MAX_METRIC_COLUMNS) -> list[str]:
    """The summary keys worth a column: numeric, most common across ``runs``, losses and
    accuracies first."""
    counts: Counter[str] = Counter()
    for run in runs:
        for key, value in run.summary.items():
            if isinstance(value, (int, float)) and not key.startswith("_"):
                counts[key] += 1
    ranked = sorted(counts, key=lambda k: (not _PREFERRED.search(k), -counts[k], k))
    return ranked[:limit]


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _duration(run: RunRecord) -> str:
    end = run.finished_at
    if end is None:
        end = time.time() if run.state == "running" else getattr(run, "heartbeat_at", None)
    if end is None:
        return ""
    minutes, sec = divmod(int(max(end - run.started_at, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}"


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value if isinstance(value, (int, str)) else str(value)


def runs_frame(runs: list[RunRecord], metrics: list[str] | None = None) -> pd.DataFrame:
    """The Runs table: one row per run, the identity columns then ``metrics`` (summary
    values; default :func:`key_metrics`). Cells are text or numbers: the table shows them as
    text, never as HTML."""
    metrics = key_metrics(runs) if metrics is None else metrics
    rows = []
    for run in runs:
        rows.append([run.id, run.name or "", run.project, run.state, run.group or "",
                     ", ".join(run.tags), _when(run.started_at), _duration(run),
                     *(_cell(run.summary.get(k, "")) for k in metrics)])
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, *metrics])


def csv_folder(ctx: DashboardContext) -> Path:
    """The one folder this dashboard writes CSV downloads to (removed when the process
    exits); each download replaces the previous one, so no folder is left per click."""
    folder = ctx.shared.get("csv_folder")
    if folder is None:
        holder = tempfile.TemporaryDirectory(prefix="wandbkit-csv-")
        ctx.shared["csv_tempdir"] = holder  # cleaned up when collected or at exit
        folder = ctx.shared["csv_folder"] = Path(holder.name)
    return folder


def history_csv(store: Store, run_ids: list[str], folder: Path) -> Path:
    """Write the full logged history of ``run_ids`` to one CSV in ``folder`` (``run_id,
    run_name, step`` then one column per key, formula-like text quoted) and return its path;
    earlier downloads in ``folder`` are removed.

    :raises UserError: when no run is selected or a run is unknown.
    """
    if not run_ids:
        raise UserError("select one or more runs first (tick them in the Selected runs box)")
    runs = [store.get_run(r) for r in run_ids]
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in store.keys(run.id) if k not in keys)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("wandbkit-history-*.csv"):
        old.unlink(missing_ok=True)
    name = safe_filename(runs[0].id) if len(runs) == 1 else f"{len(runs)}-runs"
    path = folder / f"wandbkit-history-{name}.csv"

    def rows() -> Iterable[list[Any]]:
        for run in runs:
            cursor = 0
            while True:  # in pages, so a long run never sits in memory whole
                page, cursor = store.rows_since(run.id, cursor, limit=10_000)
                if not page:
                    break
                for step, values in page:
                    yield [run.id, run.name or "", step, *(values.get(k, "") for k in keys)]

    write_csv(path, ["run_id", "run_name", "step", *keys], rows())
    return path


def step_slider(steps: list[int]) -> dict[str, Any]:
    """A step slider's range over a key's logged steps: from the first to the last, moving by
    their greatest common spacing (logged every 100 steps: 0, 100, 200), at the last step."""
    if not steps:
        return {"minimum": 0, "maximum": 1, "value": 0, "step": 1}
    spacing = 0
    for a, b in zip(steps, steps[1:], strict=False):
        spacing = math.gcd(spacing, b - a)
    return {"minimum": steps[0], "maximum": max(steps[-1], steps[0] + 1), "value": steps[-1],
            "step": max(spacing, 1)}


# --- media -----------------------------------------------------------------------------------


MEDIA_KINDS = ("image", "audio", "video", "histogram", "table", "chart", "plotly", "html")


def media_keys(store: Store, run_id: str | None) -> list[str]:
    """Media keys a run logged: images first, then video, audio, histograms and tables, each
    kind sorted by name."""
    if not run_id:
        return []
    kinds = {m["key"]: m["kind"] for m in store.media(run_id) if m["kind"] in MEDIA_KINDS}
    rank = {kind: i for i, kind in enumerate(("image", "video", "audio", "histogram", "table",
                                              "chart", "plotly", "html"))}
    return sorted(kinds, key=lambda k: (rank.get(kinds[k], len(rank)), k))


def media_steps(store: Store, run_id: str | None, key: str | None) -> list[int]:
    """The steps at which ``key`` was logged, ascending."""
    if not run_id or not key:
        return []
    return sorted({m["step"] for m in store.media(run_id) if m["key"] == key})


def media_at(ctx: DashboardContext, run_id: str, key: str, step: int) -> dict[str, Any] | None:
    """The entry of ``key`` logged at ``step`` (or the last one before it), its file checked
    to be inside the store (``path`` then absolute), or None when nothing was logged yet.

    :raises UserError: when the entry's file is outside the store or missing.
    """
    entries = [m for m in ctx.store.media(run_id) if m["key"] == key and m["step"] <= step]
    if not entries:
        return None
    entry = dict(entries[-1])
    if entry.get("path"):
        entry["path"] = str(ctx.media_path(entry["path"]))
    return entry


def histogram_frame(entry: dict[str, Any]) -> pd.DataFrame:
    """A logged histogram as ``bin`` (centre) and ``count`` columns."""
    counts = entry["meta"].get("counts", [])
    edges = entry["meta"].get("edges", [])
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=False)]
    return pd.DataFrame({"bin": centres, "count": counts})


def table_frame(entry: dict[str, Any]) -> pd.DataFrame:
    """A logged table's rows (read from its file inside the store)."""
    import json

    data = json.loads(Path(entry["path"]).read_text())
    return pd.DataFrame(data["data"], columns=data["columns"])


# --- W&B -------------------------------------------------------------------------------------


def local_summary(run: RunRecord) -> pd.DataFrame:
    """Config and summary of a run as ``section, key, value`` rows (text)."""
    rows = [["run", k, str(v)] for k, v in (("id", run.id), ("name", run.name or ""),
                                            ("project", run.project), ("state", run.state),
                                            ("group", run.group or ""),
                                            ("tags", ", ".join(run.tags)),
                                            ("wandb mode", run.wandb_mode or ""))]
    rows += [["config", k, str(_cell(v))] for k, v in sorted(run.config.items())]
    rows += [["summary", k, str(_cell(v))] for k, v in sorted(run.summary.items())]
    return pd.DataFrame(rows, columns=["section", "key", "value"])


def wandb_status(store: Store, run: RunRecord) -> tuple[str, str | None]:
    """What the W&B tab says about a run, and its W&B URL when it has one.

    :returns: ``(text, url)``: the URL when the run is on W&B (online, or synced and linked),
        else a plain-text explanation of how to get it there (``wandbkit sync``).
    """
    if run.wandb_url:
        return f"W&B run {run.wandb_path or run.wandb_id or run.id}", run.wandb_url
    synced = store.synced_at(run.id)
    if run.wandb_mode == "offline" or run.wandb_dir:
        if synced:
            return (f"Run {run.id} was uploaded by `wandbkit sync` on {_when(synced)}, but the "
                    "store has no URL for it: open it from your W&B project page, or paste its "
                    "URL above. The local view is below.", None)
        return (f"Run {run.id} was logged offline, so W&B has no page for it yet. Upload it "
                f"with:\n\n    wandbkit sync {run.id}\n\n(needs `wandb login` or "
                "WANDB_API_KEY and network). Until then, the local view is below and in the "
                "Workspace and Media tabs.", None)
    return (f"Run {run.id} was not sent to W&B (W&B mode: {run.wandb_mode or 'none'}). The "
            "local view is below.", None)
