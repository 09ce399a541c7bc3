"""``sweep show``: best trial, trials table, parameter importances, plots, a summary run.

The functions that read the study and shape the data are plain transforms (used by the CLI,
the dashboard's Sweeps tab and tests); the figures are Optuna's own: parallel coordinates and
optimisation history, written as HTML (plotly) and PNG (matplotlib backend).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, TextIO

from optuna.trial import TrialState

from wandbkit.store import default_root
from wandbkit_sweeps.api import best_trial, trial_rows
from wandbkit_sweeps.engine import Sweep, _redact, open_sweep


def importances(sweep: Sweep) -> tuple[dict[str, float], str | None]:
    """Optuna's default evaluator (PED-ANOVA in Optuna 5) over completed trials, or a note
    saying why there are none yet."""
    import optuna

    if sweep.spec.metric_name is None:
        return {}, "no metric: nothing to attribute"
    complete = sweep.trials(states=(TrialState.COMPLETE,))
    varied = [p.name for p in sweep.spec.searchable
              if len({json.dumps(t.params.get(p.name), default=repr) for t in complete}) > 1]
    if len(complete) < 2 or not varied:
        return {}, "needs at least 2 completed trials that differ in a parameter"
    try:
        result = optuna.importance.get_param_importances(sweep.study, params=varied)
    except (ValueError, RuntimeError) as exc:
        return {}, f"not computable yet: {exc}"
    return {k: float(v) for k, v in result.items()}, None


def write_figures(sweep: Sweep, out: Path) -> dict[str, str]:
    """Parallel coordinates and optimisation history as HTML and PNG under ``out``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import optuna.visualization as vis
    import optuna.visualization.matplotlib as mvis

    out.mkdir(parents=True, exist_ok=True)
    complete = sweep.trials(states=(TrialState.COMPLETE,))
    if not complete or sweep.spec.metric_name is None:
        return {}
    name = sweep.spec.metric_name
    params = [p.name for p in sweep.spec.searchable]
    files: dict[str, str] = {}
    figures = {
        "parallel_coordinates": (lambda: vis.plot_parallel_coordinate(
            sweep.study, params=params or None, target_name=name),
            lambda: mvis.plot_parallel_coordinate(sweep.study, params=params or None,
                                                  target_name=name)),
        "optimization_history": (lambda: vis.plot_optimization_history(sweep.study,
                                                                        target_name=name),
                                 lambda: mvis.plot_optimization_history(sweep.study,
                                                                        target_name=name)),
    }
    for key, (html_fig, png_fig) in figures.items():
        try:
            with warnings.catch_warnings():
                # matplotlib's notes on a one-trial axis (identical limits expanded) and the
                # like are about our figure, not the user's code
                warnings.simplefilter("ignore", UserWarning)
                _write_figure(key, html_fig, png_fig, out, plt, files)
        except (ValueError, RuntimeError) as exc:  # too few trials for this plot
            files[f"{key}_error"] = str(exc)
    return files


def _write_figure(key: str, html_fig: Any, png_fig: Any, out: Path, plt: Any,
                  files: dict[str, str]) -> None:
    """One figure as HTML then PNG, each recorded in ``files`` once written."""
    html = out / f"{key}.html"
    html_fig().write_html(str(html), include_plotlyjs=True, full_html=True)
    files[f"{key}_html"] = str(html)
    axes = png_fig()
    png = out / f"{key}.png"
    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.set_size_inches(10, 5)
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    files[f"{key}_png"] = str(png)


def plotly_figures(sweep: Sweep) -> dict[str, Any]:
    """The two figures as plotly objects (for an interactive view), when there is data."""
    import optuna.visualization as vis

    if sweep.spec.metric_name is None or not sweep.trials(states=(TrialState.COMPLETE,)):
        return {}
    params = [p.name for p in sweep.spec.searchable] or None
    name = sweep.spec.metric_name
    out = {}
    for key, make in (("parallel_coordinates", lambda: vis.plot_parallel_coordinate(
                          sweep.study, params=params, target_name=name)),
                      ("optimization_history", lambda: vis.plot_optimization_history(
                          sweep.study, target_name=name))):
        try:
            out[key] = make()
        except (ValueError, RuntimeError):
            continue
    return out


def summarise(sweep: Sweep) -> dict[str, Any]:
    """The report without figures: states, best trial, trials, importances (reads only)."""
    rows = trial_rows(sweep)
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    importance, note = importances(sweep)
    return {
        "sweep_id": sweep.id, "method": sweep.spec.method, "metric": sweep.spec.metric_name,
        "goal": sweep.spec.goal, "storage": _redact(sweep.storage.url),
        "project": sweep.project, "finished_reason": sweep.finished_reason(), "states": states,
        "best": best_trial(sweep), "trials": rows, "importances": importance,
        "importance_note": note,
    }


def analyse(sweep_id: str, *, storage: str | None = None, store_dir: str | Path | None = None,
            out: Path | None = None, log_run: bool = False, mode: str = "auto") -> dict[str, Any]:
    """Everything ``sweep show`` prints, as a dict.

    It only reads (the sweep's storage opened read-only, no run started) unless asked:
    ``out`` writes the figures there; ``log_run`` writes them (to ``out``, else the store's
    ``sweeps/<id>``) and logs them to a summary run, which goes to W&B as any run does.
    """
    sweep = open_sweep(sweep_id, storage=storage, store_dir=store_dir, read_only=not log_run)
    root = Path(store_dir).expanduser() if store_dir else default_root()
    report = summarise(sweep)
    report["figures"] = {}
    if out is not None or log_run:
        report["figures"] = write_figures(sweep, out or root / "sweeps" / sweep.id)
    if log_run and any(k.endswith("_png") for k in report["figures"]):
        finished = sum(report["states"].get(s, 0) for s in ("complete", "pruned", "failed"))
        last = sweep.attrs.get("summary_run") or {}
        if last.get("finished") == finished and last.get("run_id"):
            report["summary_run"] = last["run_id"]  # nothing new since: no second copy
        else:
            report["summary_run"] = log_summary_run(sweep, report, root, mode)
            sweep.study.set_user_attr("summary_run", {"run_id": report["summary_run"],
                                                      "finished": finished})
    return report


def log_summary_run(sweep: Sweep, report: dict[str, Any], root: Path, mode: str) -> str:
    """Log the figures, the trials table and the importances to one wandbkit run (so they
    reach W&B when it syncs); returns the run's id."""
    import wandbkit
    from wandbkit.media import Image, Table

    figures = report["figures"]
    values: dict[str, Any] = {}
    for key in ("parallel_coordinates", "optimization_history"):
        if f"{key}_png" in figures:
            values[f"sweep/{key}"] = Image(figures[f"{key}_png"], caption=f"sweep {sweep.id}")
    columns = ["trial", "state", "value", "run_id"] + [p.name for p in sweep.spec.searchable]
    table_rows = []
    for r in report["trials"]:
        from wandbkit_sweeps.space import flat_params

        flat = flat_params(sweep.spec, r["config"])
        table_rows.append([r["number"], r["state"], _cell(r["value"]), r["run_id"] or ""]
                          + [_cell(flat.get(p.name)) for p in sweep.spec.searchable])
    values["sweep/trials"] = Table(columns=columns, data=table_rows)
    for name, score in report["importances"].items():
        values[f"sweep/importance/{name}"] = score
    run = wandbkit.init(project=sweep.project, name=f"sweep-{sweep.id}-summary", group=sweep.id,
                        tags=["sweep-summary"], mode=mode, dir=root,
                        config={"sweep": sweep.spec.raw, "sweep_id": sweep.id})
    try:
        run.log(values)
        best = report["best"]
        if best:
            run.summary.update({"best/trial": best["number"], "best/value": best["value"],
                                "best/run_id": best["run_id"] or ""})
        folder = Path(next(iter(figures.values()))).parent
        run.log_artifact(folder, name=f"sweep-{sweep.id}-analysis", type="sweep-analysis")
    finally:
        run.finish(quiet=True)
    return run.id


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value if not (isinstance(value, float) and not math.isfinite(value)) else str(value)
    return json.dumps(value, default=repr)


def write_csv(report: dict[str, Any], out: Path | TextIO) -> None:
    """The trials table as CSV (to a path or an open text stream): number, state, value, run
    id, seconds, then each parameter (nested keys dotted). Written by the one CSV writer
    (:func:`wandbkit.csvio.write_csv`), whose formula guard keeps user text inert."""
    from wandbkit.csvio import write_csv as write_rows

    trials = report["trials"]
    keys: list[str] = []
    for r in trials:
        for k in _flatten(r["config"]):
            if k not in keys:
                keys.append(k)
    header = ["number", "state", report["metric"] or "value", "run_id", "seconds"] + keys
    rows = []
    for r in trials:
        flat = _flatten(r["config"])
        rows.append([r["number"], r["state"], _cell(r["value"]), r["run_id"] or "",
                     _cell(r["seconds"])] + [_cell(flat.get(k)) for k in keys])
    write_rows(out, header, rows)


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def print_analysis(report: dict[str, Any]) -> None:
    """The report for people: a headline, the best trial, importances, the trials table.
    Names, values and configs are the user's text: printed as Rich ``Text``, never markup."""
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = Console()
    states = ", ".join(f"{n} {s}" for s, n in sorted(report["states"].items())) or "no trials"
    headline = Text.assemble((f"sweep {report['sweep_id']}", "bold"),
                             f" ({report['method']}, {report['goal']} {report['metric'] or '-'}): "
                             f"{states}"
                             + (f"; {report['finished_reason']}" if report["finished_reason"] else ""))
    console.print(headline)
    best = report["best"]
    if best:
        config = json.dumps(best["config"], default=repr, ensure_ascii=False)
        console.print(Text(f"best: trial {best['number']} {report['metric']}={best['value']:.6g} "
                           f"run {best['run_id']}\n  config {config}"), soft_wrap=True)
    if report["importances"]:
        console.print(Text("importances: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                       report["importances"].items())))
    elif report["importance_note"]:
        console.print(Text(f"importances: {report['importance_note']}"))
    table = RichTable()
    for header in ("trial", "state", report["metric"] or "value", "steps", "run", "config"):
        table.add_column(Text(header))
    for r in report["trials"]:
        value = "" if r["value"] is None else f"{r['value']:.6g}"
        config = json.dumps(r["config"], default=repr, ensure_ascii=False)[:80]
        table.add_row(Text(str(r["number"])), Text(r["state"]), Text(value), Text(str(r["steps"])),
                      Text(r["run_id"] or ""), Text(config))
    console.print(table)
    for key, path in report["figures"].items():
        console.print(Text(f"{key}: {path}"))
    if report.get("summary_run"):
        console.print(Text(f"figures logged to run {report['summary_run']}"))
