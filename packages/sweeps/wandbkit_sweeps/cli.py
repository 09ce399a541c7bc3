"""``wandbkit sweep validate|run|agent|show``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="W&B sweep files: validate, run locally (Optuna) or on W&B, analyse.")

DirOption = typer.Option(None, "--dir", envvar="WANDBKIT_DIR",
                         help="Local store root (default ./wandbkit-runs).")
StorageOption = typer.Option(None, "--storage", envvar="WANDBKIT_SWEEP_STORAGE",
                             help="Optuna storage URL, e.g. postgresql://user@host/db "
                                  "(default: SQLite in the store).")


@app.command("validate")
def validate_command(file: Path = typer.Argument(..., help="Sweep file (YAML or JSON)."),
                     as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check a sweep file as W&B would: exit 0 with a summary, or 2 with one line per problem."""
    from wandbkit_sweeps.config import SweepConfigError, load_sweep
    from wandbkit_sweeps.summary import describe

    try:
        spec = load_sweep(file, check_program=True)
    except SweepConfigError as exc:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [
                {"path": p.path, "line": p.line, "message": p.message} for p in exc.problems]}))
        else:
            for problem in exc.problems:
                line = f":{problem.line}" if problem.line else ""
                typer.echo(f"{file}{line}: {problem}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"valid": True, "summary": describe(spec), "warnings": [
            {"path": p.path, "line": p.line, "message": p.message} for p in spec.warnings]}))
        return
    for problem in spec.warnings:
        line = f":{problem.line}" if problem.line else ""
        typer.echo(f"{file}{line}: warning: {problem}", err=True)
    typer.echo(f"{file}: valid: {describe(spec)}")


@app.command("run")
def run_command(file: Path = typer.Argument(..., help="Sweep file (YAML or JSON)."),
                count: int | None = typer.Option(None, "--count", min=1,
                                                 help="Trials to run in all (default: until done)."),
                workers: int = typer.Option(1, "--workers", "-w", min=1, help="Agent processes."),
                storage: str | None = StorageOption,
                engine: str = typer.Option("auto", "--engine",
                                           help="local (Optuna), wandb, or auto (wandb when "
                                                "logged in, else local)."),
                resume: bool = typer.Option(False, "--resume",
                                            help="Continue the newest unfinished sweep of this file."),
                project: str | None = typer.Option(None, "--project", "-p"),
                mode: str = typer.Option("auto", "--mode",
                                         help="The trials' wandbkit mode: auto, online, offline, "
                                              "disabled."),
                dir: Path | None = DirOption) -> None:
    """Start a sweep and its agents (each trial runs the file's program/command)."""
    from wandbkit.errors import UserError
    from wandbkit.settings import check_mode
    from wandbkit_sweeps.config import load_sweep
    from wandbkit_sweeps.macros import check_command
    from wandbkit_sweeps.wandb_engine import choose_engine, run_on_wandb

    check_mode(mode)
    spec = load_sweep(file, check_program=True)
    if not (spec.program or spec.command):
        raise UserError(f"{file} has neither `program` nor `command`: add one, or run the sweep "
                        "from Python with a train function (wandbkit_sweeps.run)")
    check_command(spec.command, spec.program)
    if choose_engine(engine) == "wandb":
        raise typer.Exit(run_on_wandb(spec, count=count, project=project))
    from wandbkit_sweeps.api import expected_trials, follow, launch, result, start

    opened = start(spec, storage=storage, dir=dir, project=project, resume=resume)
    typer.echo(f"sweep {opened.id} ({spec.method}); join it from another shell with: "
               f"wandbkit sweep agent {opened.id}" + (f" --storage '{_public(storage)}'" if storage else ""))
    from rich.progress import Progress

    try:
        with Progress(transient=False) as progress, \
                follow(opened, progress, expected_trials(opened, count), f"sweep {opened.id} trials"):
            launch(opened, None, count=count, workers=workers, storage=storage, dir=dir, mode=mode)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: continue with `wandbkit sweep run {file} --resume`", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(_print_outcome(result(opened)))


def _public(url: str | None) -> str:
    from wandbkit_sweeps.engine import _redact

    return _redact(url or "")


@app.command("agent")
def agent_command(sweep_id: str = typer.Argument(..., help="The sweep's id."),
                  count: int | None = typer.Option(None, "--count", min=1,
                                                   help="Trials to run here (default: until done)."),
                  storage: str | None = StorageOption,
                  mode: str = typer.Option("auto", "--mode"),
                  dir: Path | None = DirOption) -> None:
    """Join a sweep from this shell or machine (runs the file's program/command)."""
    from wandbkit.settings import check_mode
    from wandbkit_sweeps.api import agent, result
    from wandbkit_sweeps.engine import open_sweep

    check_mode(mode)
    try:
        outcomes = agent(sweep_id, None, count=count, storage=storage, dir=dir, mode=mode)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    typer.echo(f"agent ran {len(outcomes)} trial(s)")
    code = _print_outcome(result(open_sweep(sweep_id, storage=storage, store_dir=dir)))
    if outcomes and not any(o.state in ("complete", "pruned") for o in outcomes):
        code = code or 1  # every trial this agent ran failed
    raise typer.Exit(code)


def _print_outcome(res: object) -> int:
    """Print the sweep's outcome; the exit status: 1 when trials ran and none completed."""
    best = getattr(res, "best", None)
    reason = getattr(res, "finished_reason", None)
    trials = getattr(res, "trials", [])
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no trials"
    typer.echo(f"sweep {getattr(res, 'sweep_id', '?')}: {counts}" + (f"; {reason}" if reason else ""))
    if best:
        typer.echo(f"best: trial {best['number']} value {best['value']:.6g} config "
                   f"{json.dumps(best['config'], default=repr, ensure_ascii=False)}")
    if trials and not any(t["state"] == "complete" for t in trials):
        failed = [t for t in trials if t["state"] == "failed"]
        why = (failed[0].get("error") or "").strip().splitlines()[-1:] if failed else []
        typer.echo(f"no trial completed ({counts})" + (f"; the first failed: {why[0][:300]}"
                                                       if why else ""), err=True)
        return 1
    return 0


@app.command("show")
def show_command(sweep_id: str = typer.Argument(..., help="The sweep's id."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON."),
                 csv: bool = typer.Option(False, "--csv", help="Print the trials table as CSV."),
                 out: Path | None = typer.Option(None, "--out",
                                                 help="Write the plots (HTML + PNG) to this folder."),
                 log_run: bool = typer.Option(False, "--log/--no-log",
                                              help="Also log the plots to a summary run (once per "
                                                   "state of the sweep; it syncs to W&B as any "
                                                   "run does). Without it show only reads."),
                 storage: str | None = StorageOption,
                 dir: Path | None = DirOption) -> None:
    """Best trial, trials table, parameter importances; plots with --out or --log."""
    from wandbkit_sweeps.analysis import analyse, print_analysis, write_csv

    report = analyse(sweep_id, storage=storage, store_dir=dir, out=out, log_run=log_run)
    if csv:
        write_csv(report, sys.stdout)
    elif as_json:
        typer.echo(json.dumps(report, indent=2, default=repr))
    else:
        print_analysis(report)
