"""wandbkit entry point: the checkpoint save/load hooks and the ``ckpt`` commands.

Kept light: torch and the rest load inside the hook bodies, so ``wandbkit --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

from wandbkit import hookimpl


@hookimpl
def wandbkit_checkpoint_save(request: Any) -> Any:
    """Save through the (run, name) CheckpointManager: the user's, else a default one."""
    from wandbkit_artifacts.manager import manager_for

    manager = manager_for(request.run, request.name)
    keep_last = getattr(request, "keep_last", None)
    if keep_last is not None:
        manager.keep_last_k = keep_last
    if getattr(request, "files", None) is not None:
        return manager.register(request.step, request.files, metrics=request.metrics,
                                aliases=request.aliases, force=request.force)
    return manager.save(request.step, request.model, request.optimizer, request.scheduler,
                        request.scaler, extra=request.extra, metrics=request.metrics,
                        aliases=request.aliases, force=request.force)


@hookimpl
def wandbkit_checkpoint_load(request: Any) -> Any:
    """Load ``request.ref`` (name:alias, name:vN or a folder) into the objects given."""
    from wandbkit_artifacts.loader import load

    if getattr(request, "resolve_only", False):
        from wandbkit_artifacts.inplace import locate

        return locate(request.ref, fallback=request.fallback)
    return load(request.ref, request.model, request.optimizer, request.scheduler, request.scaler,
                map_location=request.map_location, fallback=request.fallback,
                restore_rng=request.restore_rng)


@hookimpl
def wandbkit_run_finishing(run: Any) -> None:
    """Finish this run's managers while its sinks are open, so the last versions reach W&B.

    A save that could not be written (a full disk, a folder that cannot be made) fails the run:
    :class:`wandbkit.errors.RunFailure` names the checkpoint and the error.
    """
    manager_module = sys.modules.get("wandbkit_artifacts.manager")
    if manager_module is None:
        return  # no checkpoint was saved in this process: nothing to finish (and no torch import)
    from wandbkit.errors import RunFailure
    from wandbkit.formatting import first_line

    failures = []
    for manager in manager_module.managers_of(run):
        try:
            manager.finish()
        except Exception as exc:  # every manager finishes; the run then fails with the reasons
            failures.append(f"checkpoint {manager.name!r}: {first_line(exc)}")
    if failures:
        raise RunFailure("; ".join(failures))


@hookimpl
def wandbkit_run_finished(run: Any, report: Any) -> None:
    """Finish managers still open (sinks are closed now: their versions stay local); online,
    apply the W&B deletions that were waiting."""
    manager_module = sys.modules.get("wandbkit_artifacts.manager")
    if manager_module is not None:
        for manager in manager_module.managers_of(run):
            manager.wandb_mode = None  # the run's sinks are closed: nothing more reaches W&B
            manager.finish()
    if getattr(run, "wandb", {}).get("mode") == "online":
        from wandbkit_artifacts.wandb_link import apply_pending_deletions

        apply_pending_deletions(getattr(run, "store_dir", None), run_id=run.id)


@hookimpl
def wandbkit_register_demo_stages(register: Any) -> None:
    """``wandbkit demo``: a job preempted by SIGUSR1 saves, and its restart continues the run."""
    from wandbkit.demo import DemoStage
    from wandbkit_artifacts.preempt_demo import run_stage

    register(DemoStage(name="preempt", order=35, run=run_stage,
                       title="a job gets SIGUSR1, saves and exits; restarted, it continues the "
                             "same run bit-exactly"))


@hookimpl
def wandbkit_register_commands(cli: Any) -> None:
    """Add ``wandbkit ckpt ls|show|verify|gc|pull``."""
    from wandbkit_artifacts.cli import app

    cli.add_typer(app, name="ckpt")


@hookimpl
def wandbkit_dashboard_panels(register: Any) -> None:
    """Add the Checkpoints tab to ``wandbkit dashboard`` (versions, aliases, metrics, verify)."""
    from wandbkit.panels import Panel

    def build(ctx: Any) -> None:
        from wandbkit_artifacts.dashboard import build_checkpoints_tab

        build_checkpoints_tab(ctx)

    register(Panel(title="Checkpoints", build=build, order=60))


@hookimpl
def wandbkit_run_synced(record: Any, store_dir: Any) -> None:
    """After ``wandbkit sync`` uploaded a run: apply the W&B deletions retention left pending,
    and say what happened to them (one line each way)."""
    from wandbkit.console import warn
    from wandbkit_artifacts.wandb_link import apply_pending_deletions

    run_id = getattr(record, "id", None)
    result = apply_pending_deletions(store_dir, run_id=run_id)
    if result["applied"]:
        warn(f"run {run_id}: deleted {result['applied']} retired checkpoint version(s) on W&B "
             "and their kept local files")
    if result["kept"]:
        warn(f"run {run_id}: {result['kept']} W&B deletion(s) of retired checkpoint versions "
             f"wait for the next sync ({result['error']})")
