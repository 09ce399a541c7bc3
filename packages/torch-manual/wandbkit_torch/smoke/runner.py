"""Run smoke checks: resolve the user's factories, build the context, run every check safely."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wandbkit.errors import UserError
from wandbkit.smoke import SmokeCheck, Verdict
from wandbkit_torch.smoke.checks import BUILTIN_CHECKS, QUICK_TRAIN_CHECK
from wandbkit_torch.smoke.context import (
    TASKS,
    SmokeContext,
    SmokeSettings,
    default_out_dir,
    infer_task,
    resolve_device,
)
from wandbkit_torch.smoke.data import to_smoke_data
from wandbkit_torch.smoke.loading import call_factory, describe, resolve_callable
from wandbkit_torch.smoke.report import SmokeReport

Factory = Callable[[], Any] | str
CheckRef = SmokeCheck | str


def run_smoke(model_factory: Factory, data_factory: Factory,
              loss_fn: Callable[..., torch.Tensor] | str | None = None, task: str | None = None,
              device: str | None = None, checks: Sequence[CheckRef] | None = None,
              run: Any = None, *, settings: SmokeSettings | None = None,
              out_dir: str | Path | None = None, progress: Any = None) -> SmokeReport:
    """Run the smoke checks on a model and return a report of verdicts.

    :param model_factory: a no-argument callable returning a fresh ``nn.Module`` (called once
        per check, after seeding), or a ``"MODULE:FACTORY"`` string.
    :param data_factory: a no-argument callable returning a batch ``(x, y)``, a dataset of
        pairs or an iterable of batches, or a ``"MODULE:FACTORY"`` string.
    :param loss_fn: ``fn(output, target) -> scalar`` (or ``"MODULE:FN"``); default
        cross-entropy for classification/lm, MSE for regression.
    :param task: ``classification``, ``lm`` or ``regression``; ``None`` infers it from targets.
    :param device: ``cpu``, ``cuda`` or ``cuda:N``; ``None`` picks CUDA when available.
    :param checks: names or :class:`wandbkit.smoke.SmokeCheck` objects; ``None`` runs every
        registered check (built-in ones plus those of installed plugins).
    :param run: a wandbkit run to log the verdict table, summary, curves and plot to.
    :param settings: sizes and thresholds (:class:`SmokeSettings`).
    :param out_dir: where files (the LR plot) go; default ``<store root>/smoke/<run id|time>``
        (the store root is ``$WANDBKIT_DIR`` or ``./wandbkit-runs``).
    :param progress: a ``rich.console.Console`` to show progress on, or ``None`` for silence.
    """
    ctx = prepare_context(model_factory, data_factory, loss_fn, task, device, settings)
    ctx.run = run
    ctx.out_dir = default_out_dir(out_dir, run)
    report = run_checks(ctx, select_checks(checks), progress)
    if run is not None:
        log_report(report, run, ctx)
    return report


def log_report(report: SmokeReport, run: Any, ctx: SmokeContext | None = None) -> bool:
    """Log the report to ``run``; a failure there is reported on stderr, never raised, so the
    verdicts (already computed) still reach the terminal. True when logging worked."""
    try:
        report.log_to(run, ctx)
    except Exception as exc:
        from wandbkit.console import warn

        warn(f"could not log the smoke report to run {getattr(run, 'id', '?')}: "
             f"{type(exc).__name__}: {exc}")
        return False
    return True


def quick_train(model_factory: Factory, data_factory: Factory, **kwargs: Any) -> SmokeReport:
    """The "100 examples x 10 epochs" run alone; same arguments as :func:`run_smoke`."""
    return run_smoke(model_factory, data_factory, checks=[QUICK_TRAIN_CHECK], **kwargs)


def prepare_context(model_factory: Factory, data_factory: Factory,
                    loss_fn: Callable[..., torch.Tensor] | str | None = None,
                    task: str | None = None, device: str | None = None,
                    settings: SmokeSettings | None = None) -> SmokeContext:
    """Validate every user input up front; mistakes raise :class:`UserError` (exit code 2)."""
    make_model = _callable(model_factory, "--model")
    make_data = _callable(data_factory, "--data")
    loss = _callable(loss_fn, "--loss") if loss_fn is not None else None
    dev = resolve_device(device)
    model_label, data_label = _label(model_factory), _label(data_factory)
    probe = call_factory(make_model, "--model", model_label)
    if not isinstance(probe, nn.Module):
        raise UserError(f"--model: factory {model_label} returned a "
                        f"{type(probe).__name__}, expected a torch.nn.Module")
    del probe
    data = to_smoke_data(call_factory(make_data, "--data", data_label))
    resolved = _task(task, data.targets)
    return SmokeContext(model_factory=make_model, data=data, task=resolved, device=dev,
                        loss_fn=loss, settings=settings or SmokeSettings())


def available_checks() -> list[SmokeCheck]:
    """Registered checks (through ``wandbkit_register_smoke_checks``) plus the built-in ones."""
    try:
        from wandbkit.smoke import collect_smoke_checks

        found = list(collect_smoke_checks())
    except ImportError:  # a core without the plugin registry: built-in checks only
        found = []
    names = {c.name for c in found}
    # The built-ins are always there for the Python API, even where this package's entry
    # point is not installed or was narrowed away with WANDBKIT_PLUGINS.
    found += [c for c in BUILTIN_CHECKS if c.name not in names]
    return sorted(found, key=lambda c: (c.order, c.name))


def select_checks(checks: Sequence[CheckRef] | None) -> list[SmokeCheck]:
    """Resolve check names to :class:`SmokeCheck` objects; unknown names are a UserError."""
    registered = available_checks()
    if checks is None:
        return registered
    by_name = {c.name: c for c in [*registered, QUICK_TRAIN_CHECK]}
    out = []
    for ref in checks:
        if isinstance(ref, SmokeCheck):
            out.append(ref)
        elif ref in by_name:
            out.append(by_name[ref])
        else:
            raise UserError(f"--check {ref!r}: unknown check; available: "
                            f"{', '.join(by_name)}")
    return out


def run_checks(ctx: SmokeContext, checks: Iterable[SmokeCheck], progress: Any = None
               ) -> SmokeReport:
    """Run each check; one that crashes becomes a ``fail`` verdict and the rest still run."""
    checks = list(checks)
    started = time.perf_counter()
    verdicts = []
    with _Progress(progress, len(checks)) as bar:
        for check in checks:
            bar.start(check.name)
            verdicts.append(run_one(check, ctx))
            bar.advance()
    return SmokeReport(verdicts=verdicts, task=ctx.task, device=str(ctx.device),
                       seconds=time.perf_counter() - started, out_dir=str(ctx.out_dir),
                       run_id=getattr(ctx.run, "id", None))


def run_one(check: SmokeCheck, ctx: SmokeContext) -> Verdict:
    """Run a single check, turning exceptions and bad return values into ``fail`` verdicts."""
    t0 = time.perf_counter()
    try:
        # Grad mode is global: a check (or model) that switched it off must not hit the next.
        with torch.enable_grad():
            verdict = check.fn(ctx)
        if not isinstance(verdict, Verdict):
            verdict = Verdict(check.name, "fail", f"check returned a {type(verdict).__name__}, "
                              f"not a wandbkit.smoke.Verdict")
    except Exception as exc:  # a broken check must not stop the others
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
        from wandbkit.formatting import first_line

        verdict = Verdict(check.name, "fail", f"check crashed: {type(exc).__name__}: {first_line(exc)}",
                          {"error": f"{type(exc).__name__}: {exc}", "where": where})
    verdict.name = check.name
    verdict.seconds = time.perf_counter() - t0
    return verdict


def _callable(ref: Any, option: str) -> Callable[..., Any]:
    if isinstance(ref, str):
        return resolve_callable(ref, option)
    if not callable(ref):
        raise UserError(f"{option}: expected a callable or 'MODULE:NAME', got "
                        f"{type(ref).__name__}")
    return ref


def _label(ref: Any) -> str:
    """How the user named a factory: their own ``MODULE:NAME`` string, else module:qualname."""
    return ref if isinstance(ref, str) else describe(ref)


def _task(task: str | None, targets: torch.Tensor) -> str:
    if task is None or task == "auto":
        return infer_task(targets)
    if task not in TASKS:
        raise UserError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    if task in ("classification", "lm") and targets.is_floating_point():
        raise UserError(f"--task {task}: needs integer class/token targets, the data factory "
                        f"gave {str(targets.dtype).replace('torch.', '')}")
    if task == "lm" and targets.dim() < 2:
        raise UserError(f"--task lm: targets must be (batch, seq), got {list(targets.shape)}")
    return task


class _Progress:
    """A rich progress bar on the given console, or nothing when ``console`` is None."""

    def __init__(self, console: Any, total: int) -> None:
        self._bar = None
        if console is not None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("smoke: {task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=console, transient=True)
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, name: str) -> None:
        if self._bar is not None:
            from rich.markup import escape

            self._bar.update(self._task, description=escape(name))

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)
