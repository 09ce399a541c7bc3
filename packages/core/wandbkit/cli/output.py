"""Rich rendering for the core commands (tables, sparklines)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wandbkit.metric_summary import load_definitions
from wandbkit.plugins import PluginInfo
from wandbkit.store import RunRecord, Store

SPARK = "▁▂▃▄▅▆▇█"
LOSS_KEYS = ("train/loss", "loss", "val/loss", "eval/loss")


def console() -> Console:
    """A console on stdout that does not wrap long lines for pipes."""
    return Console(soft_wrap=False)


def sparkline(values: list[float], width: int = 40) -> str:
    """A one-line chart of ``values`` (NaN/Inf shown as a space), downsampled to ``width``."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(SPARK[int((v - lo) / span * (len(SPARK) - 1))]
                   if isinstance(v, (int, float)) and math.isfinite(v) else " " for v in values)


def to_json(obj: Any) -> str:
    """Strict JSON for scripts: NaN and Inf become the strings "NaN", "Infinity", "-Infinity"."""
    return json.dumps(_strict(obj), indent=2, default=str)


def _strict(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def when(timestamp: float | None) -> str:
    """A local timestamp for tables."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "-"


def plain(value: Any) -> Text:
    """User text (a name, key, value, message) for Rich: shown exactly as given, never parsed
    as markup."""
    return Text(value if isinstance(value, str) else str(value))


def styled(value: Any, style: str) -> Text:
    """User text in ``style``, never parsed as markup."""
    return Text(value if isinstance(value, str) else str(value), style=style)


def print_plugins(infos: list[PluginInfo]) -> None:
    """The ``wandbkit plugins`` table."""
    table = Table("name", "distribution", "version", "hooks (wandbkit_…)", "status")
    for info in infos:
        status = styled(info.status, "green" if info.status == "ok" else "red")
        hooks = ", ".join(h.removeprefix("wandbkit_") for h in info.hooks)
        table.add_row(plain(info.name), plain(info.distribution), plain(info.version),
                      plain(hooks), status)
    console().print(table)


def print_runs(records: list[RunRecord], project: str | None = None,
               projects: list[str] | None = None) -> None:
    """The ``wandbkit runs`` table; with no runs, says so (for ``project``, with the projects
    the store does have)."""
    out = console()
    if not records:
        if project and projects:
            out.print(Text.assemble(f"no runs in project {project!r}; projects in this store: ",
                                    ", ".join(projects)))
        elif project:
            out.print(plain(f"no runs in project {project!r}: the store has no runs yet"))
        else:
            out.print("no runs yet")
        return
    table = Table("id", "project", "name", "state", "started", "W&B")
    for r in records:
        table.add_row(plain(r.id), plain(r.project), plain(r.name or ""),
                      state_text(r.state, r.resumed), when(r.started_at),
                      plain(r.wandb_url or (r.wandb_mode or "")))
    out.print(table)


STATE_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "crashed": "red",
               "preempted": "yellow"}


def state_text(state: str, resumed: int = 0) -> Text:
    """A run's state for tables, coloured, with how often it was resumed."""
    text = styled(state, STATE_STYLE.get(state, ""))
    if resumed:
        text.append(f" (resumed ×{resumed})")
    return text


def main_loss_key(keys: list[str]) -> str | None:
    """The key to draw: train/loss, loss, ... or the first key ending in 'loss'."""
    for key in LOSS_KEYS:
        if key in keys:
            return key
    return next((k for k in keys if k.endswith("loss")), None)


def run_details(store: Store, run_ref: str) -> dict[str, Any]:
    """Everything ``wandbkit show`` prints, as a JSON-friendly dict."""
    record = store.get_run(run_ref)
    history = store.history(record.id)
    last = {key: points[-1][1] for key, points in history.items() if points}
    loss_key = main_loss_key(sorted(history))
    loss = [v for _, v in history.get(loss_key, [])] if loss_key else []
    return {
        **record.to_dict(),
        "steps": store.step_count(record.id),
        "last": last,
        "loss_key": loss_key,
        "loss_first": loss[0] if loss else None,
        "loss_last": loss[-1] if loss else None,
        "sparkline": sparkline(loss),
        "media": len(store.media(record.id)),
        "alerts": store.alerts(record.id),
        "fragments": store.fragments(record.id),
        "metrics": [dataclasses.asdict(m) for m in load_definitions(store, record.id)],
    }


def print_fragments(fragments: list[dict[str, Any]]) -> None:
    """The processes that ran one run (a resumed run has several), first to last."""
    table = Table("#", "started", "ended", "state", "exit", "host", "pid", "from step", "W&B",
                  title="processes", title_justify="left")
    for f in fragments:
        table.add_row(str(f["fragment"]), when(f["started_at"]), when(f["finished_at"]),
                      state_text(f["state"]), "" if f["exit_code"] is None else str(f["exit_code"]),
                      plain(f["host"] or ""), str(f["pid"] or ""), str(f["start_step"]),
                      plain(f["wandb_dir"] or (f["wandb_mode"] or "")))
    console().print(table)


def value_text(value: Any) -> Text:
    """A config, summary or last value for ``show``: floats to 6 significant digits."""
    return plain(f"{value:.6g}" if isinstance(value, float) else value)


def _short(value: Any) -> str:
    """A number to 4 significant digits; anything else (a logged text) as it is."""
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def print_run(d: dict[str, Any]) -> None:
    """The ``wandbkit show`` view."""
    out = console()
    out.print(Text.assemble((d["id"], "bold"), " ", d["name"] or "", "  project ",
                            (d["project"], "cyan"), "  state ",
                            state_text(d["state"], d.get("resumed", 0)),
                            f"  steps {d['steps']}  started {when(d['started_at'])}"))
    if d.get("tags"):
        out.print(plain("tags: " + ", ".join(d["tags"])))
    if len(d.get("fragments") or []) > 1 or d["state"] == "crashed":
        print_fragments(d.get("fragments") or [])
    if d.get("wandb_mode"):
        where = d.get("wandb_url") or d.get("wandb_dir") or ""
        out.print(plain(f"W&B: {d['wandb_mode']} {where}"))
    if d["loss_key"]:
        out.print(plain(f"{d['loss_key']}: {_short(d['loss_first'])} → {_short(d['loss_last'])}  "
                        f"{d['sparkline']}"))
    for title, data in (("config", d["config"]), ("summary", d["summary"]), ("last values", d["last"])):
        if not data:
            continue
        table = Table(title=title, show_header=False, title_justify="left")
        for key, value in sorted(data.items()):
            table.add_row(plain(key), value_text(value))
        out.print(table)
    for m in d.get("metrics", []):
        out.print(plain(f"metric {m['name']}: summary {','.join(m['summary']) or 'last'}"
                        + (f", x-axis {m['step_metric']}" if m["step_metric"] else "")
                        + (f", goal {m['goal']}" if m["goal"] else "")))
    if d["media"]:
        out.print(f"{d['media']} media files")
    for alert in d["alerts"]:
        out.print(Text.assemble(("alert", "yellow"), f" [{alert['level']}] step {alert['step']}: "
                                f"{alert['title']}: {alert['text']}"))
