"""The dashboard's Sweeps tab: the sweeps in the store's SQLite storage, one at a time with its
best trial, trials table, importances and the two plots (interactive plotly).

:func:`sweep_choices` and :func:`sweep_view` are plain data transforms (tested without a
browser); :func:`build` lays them out. gradio is imported inside :func:`build` only: this
package does not depend on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wandbkit_sweeps.engine import SWEEPS_DB


def sweep_choices(store_dir: Path) -> list[tuple[str, str]]:
    """``(label, sweep_id)`` for every sweep in the store's storage, newest first."""
    if not (Path(store_dir) / SWEEPS_DB).exists():
        return []
    import optuna

    from wandbkit_sweeps.engine import open_storage

    summaries = optuna.get_all_study_summaries(open_storage(None, store_dir, read_only=True),
                                               include_best_trial=False)
    rows = []
    for s in summaries:
        raw = s.user_attrs.get("sweep") or {}
        label = f"{raw.get('name') or s.study_name} ({s.study_name}, {raw.get('method', '?')}, " \
                f"{s.n_trials} trials)"
        rows.append((float(s.user_attrs.get("created_at") or 0), label, s.study_name))
    return [(label, sid) for _, label, sid in sorted(rows, reverse=True)]


def sweep_view(store_dir: Path, sweep_id: str) -> dict[str, Any]:
    """Everything the tab shows for one sweep: headline, table rows, importances and the two
    figures as plotly objects. Reads only: nothing is written to the store or the storage."""
    from wandbkit_sweeps.analysis import plotly_figures, summarise
    from wandbkit_sweeps.engine import open_sweep
    from wandbkit_sweeps.space import flat_params

    sweep = open_sweep(sweep_id, store_dir=store_dir, read_only=True)
    report = summarise(sweep)
    names = [p.name for p in sweep.spec.searchable]
    columns = ["trial", "state", report["metric"] or "value", "steps", "run"] + names
    rows = []
    for t in report["trials"]:
        flat = flat_params(sweep.spec, t["config"])
        rows.append([t["number"], t["state"], t["value"], t["steps"], t["run_id"] or ""]
                    + [_cell(flat.get(n)) for n in names])
    states = ", ".join(f"{n} {s}" for s, n in sorted(report["states"].items())) or "no trials yet"
    best = report["best"]
    figures = plotly_figures(sweep)
    return {
        "headline": f"{sweep.spec.name or 'sweep'}: {report['method']} sweep {sweep_id}, {report['goal']} "
                    f"{report['metric'] or '(no metric)'}: {states}"
                    + (f"; {report['finished_reason']}" if report["finished_reason"] else ""),
        "best": (f"best: trial {best['number']} = {best['value']:.6g}, config "
                 f"{json.dumps(best['config'], default=repr)}") if best else "no completed trial yet",
        "columns": columns, "rows": rows,
        "importances": report["importances"], "importance_note": report["importance_note"],
        "parallel": figures.get("parallel_coordinates"),
        "history": figures.get("optimization_history"),
    }


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else json.dumps(value)


def build(ctx: Any) -> None:
    """Lay out the Sweeps tab inside the open ``gr.Tab``."""
    import gradio as gr

    choices = sweep_choices(ctx.store_dir)
    if not choices:
        gr.HTML("<p>No sweeps in this store yet: <code>wandbkit sweep run FILE</code> starts one.</p>")
        return

    def show(sweep_id: str) -> tuple[Any, ...]:
        import pandas as pd

        view = sweep_view(ctx.store_dir, sweep_id)
        text = f"<p><b>{ctx.escape(view['headline'])}</b><br>{ctx.escape(view['best'])}</p>"
        imp = ", ".join(f"{ctx.escape(k)} {v:.2f}" for k, v in view["importances"].items()) \
            or ctx.escape(view["importance_note"] or "")
        frame = pd.DataFrame(view["rows"], columns=view["columns"])
        return text, frame, f"<p>Parameter importances: {imp}</p>", view["parallel"], view["history"]

    first = show(choices[0][1])
    pick = gr.Dropdown(choices, value=choices[0][1], label="Sweep")
    headline = gr.HTML(first[0])
    table = gr.Dataframe(first[1], interactive=False, wrap=False, label="Trials")
    importances = gr.HTML(first[2])
    parallel = gr.Plot(first[3], label="Parallel coordinates")
    history = gr.Plot(first[4], label="Optimisation history")
    pick.change(show, pick, [headline, table, importances, parallel, history], api_name="sweep_view")
