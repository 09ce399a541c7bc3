"""The ``wandbkit smoke`` command. Light at import: torch loads only when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP = ("Is this model trainable? Run nine quick checks (forward, loss at init, backward, batch "
        "independence, overfit one batch, zero-input baseline, NaN/Inf, LR range, determinism) "
        "and print a verdict for each. Exit code 0: no failures, 1: a check failed, 2: usage "
        "error.")


def smoke_command(
    model: Annotated[str, typer.Option(
        "--model", help="MODULE:FACTORY returning a fresh torch.nn.Module; MODULE is a dotted "
        "module or a path/to/file.py")],
    data: Annotated[str, typer.Option(
        "--data", help="MODULE:FACTORY returning an (inputs, targets) batch, a dataset of pairs "
        "or an iterable of batches")],
    loss: Annotated[str | None, typer.Option(
        "--loss", help="MODULE:FN with fn(output, target) -> scalar loss")] = None,
    task: Annotated[str, typer.Option(
        "--task", help="auto, classification, lm or regression (auto: from the targets)")
    ] = "auto",
    device: Annotated[str | None, typer.Option(
        "--device", help="cpu or cuda (default: cuda when available)")] = None,
    check: Annotated[list[str] | None, typer.Option(
        "--check", help="run only this check (repeatable)")] = None,
    quick_train: Annotated[bool, typer.Option(
        "--quick-train", help="run only the 100 examples x 10 epochs training check")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object, no table")
                       ] = False,
    project: Annotated[str, typer.Option("--project", help="wandbkit/W&B project")
                       ] = "wandbkit-smoke",
    mode: Annotated[str, typer.Option("--mode", help="auto, online, offline or disabled")
                    ] = "auto",
    no_run: Annotated[bool, typer.Option("--no-run", help="do not log to a run")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="folder for files such as lr_range.png (default: <store>/smoke/<run id>)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed for every check")] = 0,
) -> None:
    """Run the smoke checks and exit 0 (pass/warn), 1 (a check failed) or 2 (usage error)."""
    from rich.console import Console

    from wandbkit.errors import UserError
    from wandbkit_torch.smoke.checks import QUICK_TRAIN_CHECK
    from wandbkit_torch.smoke.context import SmokeSettings, default_out_dir
    from wandbkit_torch.smoke.runner import (
        log_report,
        prepare_context,
        run_checks,
        select_checks,
    )

    if quick_train and check:
        raise UserError("--quick-train runs alone; drop --check or --quick-train")
    ctx = prepare_context(model, data, loss, task, device, SmokeSettings(seed=seed))
    checks = [QUICK_TRAIN_CHECK] if quick_train else select_checks(check or None)
    run = None if no_run else _start_run(project, mode, model, data, ctx.task)
    ctx.run = run
    ctx.out_dir = default_out_dir(out, run)
    report = None
    try:
        report = run_checks(ctx, checks, progress=None if as_json else Console(stderr=True))
        report.extra.update(model=model, data=data)
        if run is not None:
            log_report(report, run, ctx)
    finally:
        if run is not None:
            run.finish(exit_code=report.exit_code if report else 1, quiet=as_json)
    if as_json:
        typer.echo(report.to_json())
    else:
        report.render(Console())
    raise typer.Exit(report.exit_code)


def _start_run(project: str, mode: str, model: str, data: str, task: str):
    import wandbkit

    return wandbkit.init(project=project, mode=mode, tags=["smoke"],
                         config={"smoke": {"model": model, "data": data, "task": task}})
