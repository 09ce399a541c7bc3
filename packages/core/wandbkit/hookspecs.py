"""The whole plugin contract of wandbkit: every hook a plugin may implement.

Plugins write ``from wandbkit import hookimpl`` and decorate functions named after these specs.
Each hook is prefixed ``wandbkit_``; ``docs/plugins.md`` documents every one with an example,
and a test keeps the two in step.

Hooks that contribute things (sinks, commands, metrics, panels, smoke checks) take a
``register`` callback, as llm does, so the host never has to merge return values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import typer

    from wandbkit.checkpointing import CheckpointRequest, LoadRequest
    from wandbkit.demo import DemoStage
    from wandbkit.dropin import SweepRequest
    from wandbkit.metrics import Metric
    from wandbkit.panels import Panel
    from wandbkit.report import RunReport
    from wandbkit.rows import Row
    from wandbkit.run import Run
    from wandbkit.sinks.base import Sink
    from wandbkit.smoke import SmokeCheck
    from wandbkit.store import RunRecord

hookspec = pluggy.HookspecMarker("wandbkit")
hookimpl = pluggy.HookimplMarker("wandbkit")


# --- logging ------------------------------------------------------------------------------


@hookspec
def wandbkit_register_sinks(register: Callable[[Sink], None], run: Run) -> None:
    """Add sinks (destinations for logged rows) to a run that is starting.

    :param register: call ``register(sink)`` once per :class:`wandbkit.sinks.Sink` to add.
    :param run: the run being started; read ``run.settings`` (project, mode, dir, ...) to decide
        whether and how to take part. A resumed run has ``run.settings.fragment`` > 0 and
        ``run.settings.start_step`` (the first step after the stored ones): continue it.
        Called on the caller's thread inside ``wandbkit.init``: construct the sink only, and do
        slow start-up work in ``Sink.start``, which runs on the background flusher.
    """


@hookspec
def wandbkit_run_started(run: Run) -> None:
    """Observe a run that has just been created.

    :param run: the new run; ``run.id``, ``run.project`` and ``run.config`` are set.
        Called on the caller's thread: return quickly.
    """


@hookspec
def wandbkit_rows_logged(run: Run, rows: list[Row]) -> None:
    """Observe a batch of rows after every sink has been given it.

    :param run: the run the rows belong to.
    :param rows: the batch, values already converted to Python numbers and media objects.
        Called on the background flusher thread, never on the training thread.
    """


@hookspec
def wandbkit_run_finishing(run: Run) -> None:
    """Act on a run that is about to finish, while its sinks still accept data.

    :param run: the run; ``run.log``, ``run.log_artifact`` and ``run.summary`` still reach every
        sink. Called once, at the start of ``run.finish()``, on the thread that finishes the run.
        Finish per-run work here (flush async checkpoint saves, log a last artifact).
        Raise :class:`wandbkit.errors.RunFailure` when that work failed in a way that means the
        run did not end well (its last checkpoint could not be written): the run then ends
        ``failed`` (exit code 1 in the store and W&B's exit record) with that reason; any other
        exception is reported once and the run ends as it would have.
    """


@hookspec
def wandbkit_run_finished(run: Run, report: RunReport) -> None:
    """Observe a run that has finished and flushed every row.

    :param run: the finished run; ``run.final_state`` is ``finished``, ``failed`` or
        ``preempted``.
    :param report: counts of rows logged and delivered per sink, and sink failures.
    """


@hookspec
def wandbkit_run_synced(record: RunRecord, store_dir: Path) -> None:
    """Observe an offline run that ``wandbkit sync`` has just uploaded to W&B.

    :param record: the run as the local store knows it (``record.wandb_dir`` was uploaded).
    :param store_dir: the root of the local store that holds the run.
        Plugins apply work that needed W&B online, e.g. deleting artifact versions that
        retention removed while offline.
    """


@hookspec(firstresult=True)
def wandbkit_watch(run: Run, model: Any, log: str | None, log_freq: int) -> Any:
    """Watch a model for ``wandbkit.watch`` (wandb's ``watch``); the first non-None result wins.

    :param run: the active run to log to.
    :param model: the object passed to ``watch`` (e.g. a ``torch.nn.Module``); return ``None``
        for a model you do not handle.
    :param log: what to log: ``"gradients"``, ``"parameters"``, ``"all"`` or ``None``
        (wandb's meanings), or ``"norms"`` (gradient and weight norms only, as integrations
        such as the HF callback ask for).
    :param log_freq: log every this many training steps (backward passes).
        Called on the caller's thread. Return a handle with a ``remove()`` method, which
        ``wandbkit.unwatch()`` calls to stop watching.
    """


@hookspec(firstresult=True)
def wandbkit_sweep_call(request: SweepRequest) -> Any:
    """Run the drop-in's ``wandb.sweep`` or ``wandb.agent``; the first non-None result wins.

    :param request: the call (``request.call`` is ``"sweep"`` or ``"agent"``) and its
        arguments: ``config`` (the sweep configuration, a dict) for ``sweep``; ``sweep_id``,
        ``function`` (called with no arguments; it starts its run with ``wandb.init()``, which
        must see the trial's values) and ``count`` for ``agent``; ``project`` and ``entity``
        for both. Called on the caller's thread. Return the new sweep's id for ``sweep``, any
        non-None value once the agent's trials ran for ``agent``, or ``None`` to leave the call
        to another plugin. With no plugin, the call ends the script with a one-line error.
    """


# --- metrics ------------------------------------------------------------------------------


@hookspec
def wandbkit_register_metrics(register: Callable[[Metric], None]) -> None:
    """Add metrics that compute values from a batch's outputs.

    :param register: call ``register(Metric(name=..., fn=...))`` for each metric. ``fn(outputs,
        batch)`` returns a dict of namespaced values (``{"vqa/accuracy": t}``); tensors may stay
        on the device. Integrations call :func:`wandbkit.compute_metrics` to run them all.
    """


# --- checkpointing ------------------------------------------------------------------------


@hookspec(firstresult=True)
def wandbkit_checkpoint_save(request: CheckpointRequest) -> Any:
    """Save a checkpoint; the first plugin that returns a non-None result handles it.

    :param request: what to save (step, model, optimizer, scheduler, scaler, extra, metrics,
        name, aliases, run, force, keep_last), or, when ``request.files`` is set, existing
        files to register as the version in place (hard links, never a second write; the
        objects are then ignored). Return a result object describing the saved (or
        policy-skipped) version, or ``None`` to leave the request to another plugin.
    """


@hookspec(firstresult=True)
def wandbkit_checkpoint_load(request: LoadRequest) -> Any:
    """Load a checkpoint by reference; the first plugin that returns a non-None result wins.

    :param request: the reference (``NAME:ALIAS``, ``NAME:vN`` or a path), the objects to
        restore into (model, optimizer, ...), ``map_location``, whether to fall back to an
        older version that verifies, and ``resolve_only`` (find and verify the local folder,
        load nothing; the result has ``path``). Return the loaded state, or ``None`` if the reference is
        not yours. A plugin that owns the reference's form but cannot find it may raise
        :class:`wandbkit.errors.UserError` listing what exists.
    """


# --- UI -----------------------------------------------------------------------------------


@hookspec
def wandbkit_dashboard_panels(register: Callable[[Panel], None]) -> None:
    """Add tabs to ``wandbkit dashboard``.

    :param register: call ``register(Panel(title=..., build=..., order=...))``. ``build(ctx)``
        is called inside the dashboard's layout, within the tab's open ``gr.Tab``, with a
        :class:`wandbkit.panels.DashboardContext`: ``ctx.store`` (the opened store, read only),
        ``ctx.store_dir``, ``ctx.project`` (the ``--project`` filter), ``ctx.runs()``,
        ``ctx.run_choices()``, ``ctx.series(run_id, keys)`` (downsampled numeric history),
        ``ctx.media_path(path)`` (a file inside the store, or UserError), ``ctx.escape(text)``,
        ``ctx.refresh_s`` (auto-refresh interval, 0 = off) and ``ctx.selection`` (a ``gr.State``
        of the run ids selected in the Runs tab). A build that raises shows an error box in its
        own tab; the rest of the app keeps working. Import gradio inside ``build``.
    """


# --- CLI ----------------------------------------------------------------------------------


@hookspec
def wandbkit_register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``wandbkit`` CLI.

    :param cli: the root typer app; use ``@cli.command()`` or ``cli.add_typer(app, name=...)``.
        Keep heavy imports (torch, gradio) inside the command functions so ``wandbkit --help``
        stays fast.
    """


# --- validation ---------------------------------------------------------------------------


@hookspec
def wandbkit_register_smoke_checks(register: Callable[[SmokeCheck], None]) -> None:
    """Add checks to ``wandbkit smoke``.

    :param register: call ``register(SmokeCheck(name=..., fn=..., description=...))``.
        ``fn(ctx)`` returns a :class:`wandbkit.smoke.Verdict` (pass / warn / fail with a
        one-line reason and the numbers behind it).
    """


# --- demo ---------------------------------------------------------------------------------


@hookspec
def wandbkit_register_demo_stages(register: Callable[[DemoStage], None]) -> None:
    """Add a stage to ``wandbkit demo``, the tour of every installed package.

    :param register: call ``register(DemoStage(name=..., title=..., order=..., run=...))``.
        ``run(ctx)`` gets a :class:`wandbkit.demo.DemoContext` (store, project, ``quick`` for a
        tiny version, ``shared`` objects earlier stages published, their ``results``) and returns
        a dict of facts for the demo's summary. Stages run in ``order`` on the caller's thread;
        one that raises stops the demo, which names the stage and exits non-zero.
    """
