"""The run API: ``wandbkit.init`` returns a :class:`Run` whose ``log`` only enqueues."""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
import secrets
import string
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wandbkit import lifecycle, preempt
from wandbkit.config_values import config_values
from wandbkit.console import warn, warn_once
from wandbkit.convert import prepare
from wandbkit.errors import UserError
from wandbkit.flusher import (
    ALERT,
    ARTIFACT,
    CONFIG,
    METRIC,
    PREEMPTING,
    ROW,
    RUN_INFO,
    SAVE,
    SUMMARY,
    Flusher,
    alert_record,
)
from wandbkit.plugins import call_each, collect
from wandbkit.report import RunReport
from wandbkit.resume import forget_run_id_file
from wandbkit.resume import plan as plan_resume
from wandbkit.resume import release as release_claim
from wandbkit.settings import RunSettings, check_mode, resolve_wandb_mode
from wandbkit.sinks.base import ArtifactRecord, MetricDefinition, Sink
from wandbkit.store import default_root

_ID_ALPHABET = string.ascii_lowercase + string.digits
_RUNNING, _FINISHED, _FORKED = "running", "finished", "forked"


def as_step(step: Any) -> int:
    """``log(step=...)`` as an int: ints, numpy integers, integer 0-d tensors and whole floats.

    :raises UserError: for a fractional or non-numeric step (``wandb.log`` raises TypeError).
    """
    try:
        return operator.index(step)
    except TypeError:
        pass
    if isinstance(step, float) and step.is_integer():
        return int(step)
    item = getattr(step, "item", None)  # a 0-d float tensor or numpy float
    if callable(item) and getattr(step, "ndim", 1) == 0:
        return as_step(item())
    raise UserError(f"log(step={step!r}): a step must be a whole number (W&B's steps are "
                    f"integers; wandb.log refuses it)")


def new_run_id() -> str:
    """An 8-character id in W&B's alphabet, so the same id names the run in both places."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class _SyncedDict(dict):  # type: ignore[type-arg]
    """A dict whose writes are forwarded, in order with the rows, to every sink."""

    # Keys a sweep agent chose: the script's own writes to them are ignored, as wandb does.
    _locked: frozenset[str] = frozenset()

    def __init__(self, run: Run, kind: str, initial: dict[str, Any]) -> None:
        self._run = run
        self._kind = kind
        super().__init__(self._values(initial))

    def _values(self, changes: dict[str, Any]) -> dict[str, Any]:
        # Config values are kept as wandb keeps them (numbers, lists, dicts, text), so the
        # store, W&B's config record and ``run.config`` read back the same thing.
        return config_values(changes) if self._kind == CONFIG else changes

    def _unlocked(self, changes: dict[str, Any]) -> dict[str, Any]:
        for key in self._locked.intersection(changes):
            warn_once(f"locked:{self._run.id}:{key}",
                      f"config item {key!r} was set by the sweep (ignored update)")
        return {k: v for k, v in changes.items() if k not in self._locked}

    def __setitem__(self, key: str, value: Any) -> None:
        if self._locked and not self._unlocked({key: value}):
            return
        value = self._values({key: value})[key]
        super().__setitem__(key, value)
        self._run._enqueue((self._kind, {key: value}))

    def update(self, other: Any = (), /, allow_val_change: bool | None = None,  # type: ignore[override]
               **kwargs: Any) -> None:
        """Update and forward the changed keys. ``other`` may also be an argparse namespace or a
        dataclass; ``allow_val_change`` is accepted for wandb's sake (changes are always allowed)."""
        if isinstance(other, (dict, list, tuple)):
            changes = dict(other, **kwargs)
        else:  # a namespace or dataclass
            changes = {**_config_dict(other), **kwargs}
        if self._locked:
            changes = self._unlocked(changes)
        changes = self._values(changes)
        super().update(changes)
        self._run._enqueue((self._kind, changes))

    def setdefaults(self, defaults: dict[str, Any]) -> None:
        """Set the keys of ``defaults`` that are not set yet (wandb's ``config.setdefaults``)."""
        missing = {k: v for k, v in dict(defaults).items() if k not in self}
        if missing:
            self.update(missing)

    def as_dict(self) -> dict[str, Any]:
        """A plain dict copy."""
        return dict(self)

    def __missing__(self, key: str) -> Any:
        """``summary[key]`` for a key only logged: as wandb's summary, the last logged value
        (or the ``define_metric`` aggregates), read from the local store after a flush."""
        if self._kind != SUMMARY or "store" not in [s.name for s in self._run._sinks()]:
            raise KeyError(key)
        from wandbkit.store import Store

        self._run.flush()
        try:
            stored = Store.open(self._run.store_dir, readonly=True).get_run(self._run.id).summary
        except UserError:
            raise KeyError(key) from None
        if key not in stored:
            raise KeyError(key)
        return stored[key]

    # Attribute access, as wandb's config and summary allow (``config.lr``).
    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{self._kind} has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self[key] = value


def _config_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if hasattr(config, "__dict__"):  # argparse.Namespace and similar
        return dict(vars(config))
    raise UserError(f"config must be a dict, dataclass or namespace, got {type(config).__name__}")


class Run:
    """One tracked run. Create it with :func:`wandbkit.init`."""

    def __init__(self, settings: RunSettings, config: dict[str, Any], run_id: str) -> None:
        self.id = run_id
        self.settings = settings
        self.started_at = time.time()
        self.config = _SyncedDict(self, CONFIG, config)
        self.summary = _SyncedDict(self, SUMMARY, {})
        self.wandb: dict[str, Any] = {}  # W&B's mode, id, path, url and dir once known
        self.report: RunReport | None = None
        self._state = _RUNNING
        self._counter = itertools.count()
        self._last_step = -1
        self._rows = 0
        self._pending_error: BaseException | None = None
        self._flusher: Flusher | None = None
        self._queue: Any = None
        self._finish_lock = threading.RLock()
        self._finishing = False
        self._step_lock = threading.Lock()
        # commit=False accumulation (W&B's partial rows): see _log_accumulating.
        self.metric_definitions: dict[str, MetricDefinition] = {}
        self._pending: dict[str, Any] | None = None
        self._pending_step = 0
        self._pending_lock = threading.RLock()
        # How the run ended (finished, failed, preempted): set by finish() before the sinks close.
        self.final_state: str | None = None
        # Why a plugin failed the run at finish (wandbkit.errors.RunFailure), if one did.
        self.failure_reason: str | None = None
        # A resumed run continues after the steps already stored (see wandbkit.resume).
        self._floor = settings.start_step - 1
        if settings.fragment:
            self._counter = itertools.count(settings.start_step)
            self._last_step = self._floor

    # --- identity ------------------------------------------------------------------------

    @property
    def project(self) -> str:
        """The project the run belongs to."""
        return self.settings.project

    @property
    def name(self) -> str | None:
        """The run's display name."""
        return self.settings.name

    @name.setter
    def name(self, value: str | None) -> None:
        self.settings.name = None if value is None else str(value)
        self._run_info_changed({"name": self.settings.name})

    @property
    def store_dir(self) -> Path:
        """The local store root that holds this run."""
        return self.settings.store_dir

    @property
    def step(self) -> int:
        """The last step logged (-1 before the first ``log``)."""
        return self._last_step

    def __repr__(self) -> str:
        return f"<wandbkit.Run {self.id} project={self.project!r} {self._state}>"

    # --- what wandb's Run also has (for scripts written against wandb) --------------------

    @property
    def dir(self) -> str:
        """A folder for the run's files: W&B's run ``files/`` folder once the W&B sink has
        made it, else ``<store>/files/<id>`` (created)."""
        wandb_dir = self.wandb.get("dir")
        path = Path(wandb_dir) / "files" if wandb_dir else self.store_dir / "files" / self.id
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    @property
    def url(self) -> str | None:
        """The W&B run page (online runs, once known), else None."""
        return self.wandb.get("url")

    @property
    def path(self) -> str:
        """W&B's ``entity/project/id`` (``project/id`` until W&B names the entity)."""
        return self.wandb.get("path") or f"{self.project}/{self.id}"

    @property
    def entity(self) -> str | None:
        """The W&B entity passed to ``init``, if any."""
        return self.settings.wandb_init.get("entity")

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags."""
        return self.settings.tags

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str):
            raise UserError(f"run.tags takes a list or tuple of strings, got the string {value!r}")
        self.settings.tags = tuple(str(t) for t in (value or ()))
        self._run_info_changed({"tags": list(self.settings.tags)})

    def _run_info_changed(self, info: dict[str, Any]) -> None:
        """Send a name/tags/notes change to the sinks, in order with the rows (W&B's run page
        and the store show the new value, as ``wandb`` does for ``run.name = ...``)."""
        if self._queue is not None and self._state is _RUNNING:
            self._enqueue((RUN_INFO, info))

    @property
    def group(self) -> str | None:
        """The run's group."""
        return self.settings.group

    @property
    def notes(self) -> str | None:
        """The run's notes (from ``init``, or set since)."""
        return self.settings.wandb_init.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self.settings.wandb_init["notes"] = None if value is None else str(value)
        self._run_info_changed({"notes": self.settings.wandb_init["notes"]})

    def save(self, glob_str: Any, base_path: Any = None, policy: str = "live",
             glob: bool = True) -> list[str]:
        """``wandb.save``: keep files with the run, in the store (``<store>/files/<run id>/``)
        and in W&B's run ``files/`` (uploaded by ``wandbkit sync``), folders kept by wandb's
        rules (see :mod:`wandbkit.saved_files`). Returns the files' paths in the run folder.

        :raises UserError: for an unknown policy or a glob outside ``base_path``.
        """
        from wandbkit.saved_files import resolve_save

        saved = resolve_save(glob_str, base_path, policy, glob)
        if not saved.files:
            warn(f"save({os.fspath(glob_str)!r}): no file matches; nothing saved")
            return []
        self._enqueue((SAVE, saved))
        return [str(Path(self.dir) / name) for _, name in saved.files]

    @property
    def job_type(self) -> str | None:
        """The job type passed to ``init``, if any."""
        return self.settings.wandb_init.get("job_type")

    @property
    def offline(self) -> bool:
        """True when W&B gets this run offline (synced later)."""
        return self.settings.wandb_mode == "offline"

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, **kwargs: Any) -> Any:
        """wandb's ``run.use_artifact``: see :func:`wandbkit.use_artifact`."""
        from wandbkit.dropin_artifacts import use_artifact

        return use_artifact(artifact_or_name, type=type, **kwargs)

    def watch(self, models: Any, *args: Any, **kwargs: Any) -> None:
        """wandb's ``run.watch``: see :func:`wandbkit.watch`."""
        from wandbkit.dropin import watch

        watch(models, *args, **kwargs)

    def unwatch(self, models: Any = None) -> None:
        """wandb's ``run.unwatch``: see :func:`wandbkit.unwatch`."""
        from wandbkit.dropin import unwatch

        unwatch(models)

    def __getattr__(self, name: str) -> Any:
        from wandbkit.dropin import RUN_UNSUPPORTED, Unsupported

        if name in RUN_UNSUPPORTED:
            return Unsupported(f"run.{name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- hot path ----------------------------------------------------------------------------

    def log(self, metrics: dict[str, Any] | None = None, step: int | None = None,
            commit: bool | None = None) -> None:
        """Record ``metrics`` at ``step`` (default: the next step) and return at once.

        Values: numbers, numpy scalars/arrays, torch tensors on any device (read later by the
        background flusher, one device copy per batch: do not modify them in place afterwards),
        nested dicts (flattened to ``a/b``), :class:`wandbkit.Image`, ``Histogram``, ``Table``,
        ``Audio``, ``Video``. Blocks only when the bounded queue is full, so nothing is ever dropped.

        ``commit=False`` accumulates the values into the current step until a committing call
        (``commit=True``, a call without ``commit``, or a later ``step``), as ``wandb.log`` does;
        ``log()`` with no values is such a committing call.
        """
        if metrics is None:
            metrics = {}
        if commit is not None or self._pending is not None:
            self._log_accumulating(metrics, step, commit)
            return
        if self._state is not _RUNNING:
            self._log_after_end()
            return
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            raise error
        values = prepare(metrics, self.id)
        queue = self._queue
        with self._step_lock:  # threads logging at once: steps reach the queue in order
            if step is None:
                step = next(self._counter)
            else:
                step = as_step(step)
                self._counter = itertools.count(step + 1)
                if step <= self._floor or step < self._last_step:
                    self._warn_step_back(step)
            self._last_step = step
            self._rows += 1
            queue.append((ROW, step, time.time(), values))
        if len(queue) >= self._high_water:
            self._flusher.wake.set()  # type: ignore[union-attr]
            if len(queue) >= self._queue_size:
                self._flusher.wait_for_room()  # type: ignore[union-attr]
        if preempt.pending:  # a preemption signal arrived: this is a safe point
            preempt.at_log_point()

    def interrupt(self, error: BaseException) -> None:
        """Make the next ``log`` call raise ``error`` on the thread that logs; callable from any
        thread (a ``wandbkit_rows_logged`` hook on the flusher, say). Sweeps use it to stop a
        trial that hyperband pruned inside the user's own loop."""
        self._pending_error = error

    def _warn_step_back(self, step: int) -> None:
        # What happens is what the store sink and the W&B sinks do: the store keeps every row,
        # W&B drops a row below its last step (wandb 0.31: "Tried to log to step 3 that is less
        # than the current step 5 ... this data will be ignored") and the report counts it.
        if self.resumed and step <= self._floor:
            message = (f"run {self.id} was resumed after step {self._floor}, but step {step} was "
                       "logged: W&B's steps only increase, so W&B ignores them (rows at or below "
                       f"step {self._floor}); the local store keeps them and the run's report "
                       f"counts them. Restart training from a checkpoint of step {self._floor} "
                       "(e.g. the 'preempt' one) to continue the curves without a gap or overlap.")
        else:
            below = "negative" if step < 0 else f"below step {self._last_step}, the last one logged"
            message = (f"log(step={step}): the step is {below}; W&B's steps start at 0 and only "
                       "increase, so W&B ignores this row (and any later one below its last "
                       "step), the local store keeps them and the run's report counts them")
        warn_once(f"step-back:{self.id}", message)

    # --- resuming and preemption ---------------------------------------------------------------

    @property
    def resumed(self) -> bool:
        """True when this process continues a run that an earlier process started."""
        return self.settings.fragment > 0

    def preempt_point(self) -> bool:
        """A safe point for preemption (see :func:`wandbkit.check_preempt`)."""
        return preempt.check_preempt()

    def _mark_preempting(self) -> None:
        """Tell the sinks, in order with the rows, that the run is being preempted."""
        self._enqueue((PREEMPTING, None))

    def _log_accumulating(self, metrics: dict[str, Any], step: int | None,
                          commit: bool | None, wandb_rules: bool = False) -> None:
        """W&B's partial-history rules: values gather in one pending row at the current step.

        A different ``step`` commits the pending row first. ``commit`` defaults to True. With
        ``wandb_rules`` (the module-level ``wandbkit.log``, as ``wandb.log``), ``commit``
        defaults to False when ``step`` is given, and an earlier step is ignored with a notice.
        """
        if self._state is not _RUNNING:
            self._log_after_end()
            return
        values = prepare(metrics, self.id)
        step = None if step is None else as_step(step)
        with self._pending_lock:
            current = self._pending_step if self._pending is not None else self._last_step + 1
            if step is not None and step != current:
                if step < current and wandb_rules:
                    warn_once(f"step-back:{self.id}", f"log(step={step}) is before the current "
                              f"step {current}: ignored, as wandb does (further ones silently)")
                    return
                self._commit_pending()
                current = step
            if self._pending is None:
                self._pending, self._pending_step = {}, current
            self._pending.update(values)
            if commit is None:
                commit = step is None or not wandb_rules
            if commit:
                self._commit_pending()

    def _commit_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, None
            if pending:
                self.log(pending, step=self._pending_step)
            elif pending is not None:
                self._last_step = max(self._last_step, self._pending_step)

    def define_metric(self, name: str, step_metric: str | None = None,
                      summary: str | None = None, goal: str | None = None,
                      hidden: bool | None = None, step_sync: bool | None = None) -> MetricDefinition:
        """Say how a metric (or a ``prefix/*`` glob) is summarised and plotted, as W&B's
        ``define_metric``: ``summary`` is ``min``, ``max``, ``mean``, ``last``, ``first``, ``none``
        or a comma-separated list of them; ``step_metric`` names its x-axis key.

        The local store keeps each aggregate in the run's summary (``{"min": v}``, W&B's
        shape), ``wandbkit show`` lists the definitions, and the W&B sink calls
        ``wandb.define_metric`` with the same arguments.

        :raises UserError: for an unknown summary or goal.
        """
        definition = MetricDefinition.build(name, step_metric=step_metric, summary=summary,
                                            goal=goal, hidden=hidden, step_sync=step_sync)
        self.metric_definitions[definition.name] = definition
        self._enqueue((METRIC, definition))
        return definition

    def _log_after_end(self) -> None:
        if self._state == _FORKED:
            warn_once(f"forked:{self.id}", f"run {self.id} belongs to process {self._owner_pid}; "
                      "logging from a forked child is ignored (call wandbkit.init() there)")
        else:
            warn_once(f"finished:{self.id}", f"run {self.id} is finished; log() is ignored")

    # --- other data ----------------------------------------------------------------------------

    def alert(self, title: str, text: str, level: str = "warn", wait_duration: Any = None) -> None:
        """Raise an alert: printed now, kept in the store, sent as ``wandb.alert`` online.

        ``level``: info, warn or error (any case; ``wandb.AlertLevel`` members too).
        """
        level = str(getattr(level, "value", level)).lower()
        if level not in ("info", "warn", "error"):
            raise UserError(f"alert level must be info, warn or error, got {level!r}")
        warn(f"[{level}] {title}: {text}")
        self._enqueue((ALERT, alert_record(title, text, level, self._last_step)))

    def log_artifact(self, path: Any, name: str | None = None, type: str = "model",
                     aliases: Iterable[str] | None = (), metadata: dict[str, Any] | None = None,
                     tags: Iterable[str] | None = None) -> Any:
        """Keep a file or folder as a versioned artifact (a W&B Artifact in the W&B sink).

        Queued in order with rows. Files must not change afterwards: W&B reads them in place.
        ``name`` defaults to the file or folder name. A :class:`wandbkit.Artifact` (wandb's
        ``run.log_artifact(artifact)``) goes to :func:`wandbkit.log_artifact` instead.
        """
        from wandbkit.dropin_artifacts import Artifact, log_artifact

        if isinstance(path, Artifact):
            return log_artifact(path, aliases=aliases, tags=tags)
        path = Path(path)
        name = name or path.name
        if not path.exists():
            raise UserError(f"log_artifact: {path} does not exist")
        self._enqueue((ARTIFACT, ArtifactRecord(str(path.resolve()), name, type, list(aliases or ()),
                                                dict(metadata or {}), self._last_step)))

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        if self._state is not _RUNNING:
            self._log_after_end()
            return
        self._queue.append(item)

    def _link(self, source: str, info: dict[str, Any]) -> None:
        """Called by a sink (from any thread) that learned where it keeps the run."""
        if source == "wandb":
            self.wandb = dict(info)
        if self._flusher is not None:
            self._flusher.links.append((source, info))
            self._flusher.wake.set()

    # --- lifecycle -----------------------------------------------------------------------------

    def _start(self, sinks: list[Sink]) -> None:
        self._owner_pid = os.getpid()
        flusher = Flusher(self, sinks, self.settings.queue_size, self.settings.flush_interval)
        self._flusher = flusher
        self._queue = flusher.queue
        self._queue_size = flusher.queue_size
        self._high_water = flusher.high_water
        flusher.start()

    def _sinks(self) -> list[Sink]:
        return list(self._flusher.sinks) if self._flusher is not None else []

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far has been handed to the sinks."""
        flusher = self._flusher
        if flusher is None or self._state is not _RUNNING:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        flusher.wake.set()
        while flusher.rows_processed < self._rows or flusher.queue:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not flusher.is_alive():
                return False
            time.sleep(0.005)
            flusher.wake.set()
        return True

    def finish(self, exit_code: int = 0, quiet: bool = False, *,
               state: str | None = None) -> RunReport:
        """Deliver every row to every sink, close them and report what each received.

        ``state`` overrides how the run is recorded (default: ``finished`` for exit code 0,
        else ``failed``); wandbkit's preemption handling passes ``preempted``.
        """
        with self._finish_lock:
            if self.report is not None:
                return self.report
            if self._state == _FORKED:
                raise UserError(f"run {self.id} belongs to process {self._owner_pid}")
            if not self._finishing:
                self._finishing = True  # a plugin may log here; it must not finish twice
                call_each("wandbkit_run_finishing", run=self)
                if self.failure_reason is not None and exit_code == 0 and state is None:
                    exit_code = 1  # e.g. the last checkpoint never reached the disk
            if self._pending is not None and self._state is _RUNNING:
                self._commit_pending()  # a last commit=False row, as wandb.finish commits it
            started = time.monotonic()
            self.final_state = state or ("finished" if exit_code == 0 else "failed")
            self._state = _FINISHED
            flusher = self._flusher
            assert flusher is not None
            flusher.stop(exit_code)
            flusher.join()
            self.report = RunReport(
                run_id=self.id, rows_logged=self._rows,
                nonfinite_values=flusher.converter.nonfinite,
                sinks=[flusher.reports[s.name] for s in flusher.sinks], exit_code=exit_code,
                seconds=time.monotonic() - started)
        lifecycle.forget(self)
        if self.final_state == "finished" and self.settings.id_source == "file":
            forget_run_id_file(self.id)  # a clean end: the next start is a new run
        if not quiet and os.environ.get("WANDBKIT_QUIET", "") in ("", "0"):
            for line in self.report.lines():
                warn(line)
            if self.wandb.get("mode") == "offline":
                warn(f"W&B run saved offline; upload it with `wandbkit sync {self.id}`")
        call_each("wandbkit_run_finished", run=self, report=self.report)
        return self.report

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


def init(project: str | None = None, name: str | None = None, config: Any = None,
         tags: Iterable[str] | None = None, group: str | None = None, mode: str = "auto",
         dir: str | os.PathLike[str] | None = None, sinks: Iterable[str] | None = None,
         queue_size: int = 100_000, flush_interval: float = 0.1, id: str | None = None,
         resume: str | bool | None = None, wandb_init: dict[str, Any] | None = None) -> Run:
    """Start a run and return it at once; sinks start on a background thread.

    :func:`wandbkit.init` (:mod:`wandbkit.dropin`) also takes every argument of
    ``wandb.init`` and calls this.

    :param project: project name (default ``$WANDBKIT_PROJECT``, else ``"wandbkit"``).
    :param name: display name.
    :param config: hyperparameters (dict, dataclass or argparse namespace).
    :param tags: labels for filtering.
    :param group: groups runs (e.g. the ranks or folds of one experiment); default
        ``$WANDBKIT_RUN_GROUP`` (sweep agents set it for the programs they start).
    :param mode: ``auto`` (online when logged in to W&B, else offline), ``online``,
        ``offline``, or ``disabled`` (no W&B; the local store still records the run).
    :param dir: local store root (default ``$WANDBKIT_DIR`` or ``./wandbkit-runs``).
    :param sinks: keep only the sinks with these names (e.g. ``["store"]``).
    :param queue_size: rows held in memory before ``log`` blocks.
    :param flush_interval: seconds between deliveries to the sinks.
    :param id: the run's id (default: a new 8-character id, or the environment's with
        ``resume="auto"``); 1-64 letters, digits, ``_``, ``.``, ``-``.
    :param resume: W&B's meanings: ``None``/``"never"`` (a new run), ``"allow"`` (continue
        ``id`` if stored), ``"must"`` (continue it, or fail), ``"auto"``/``True`` (``allow``
        with the id from ``$WANDBKIT_RUN_ID``, Slurm's job id or ``.wandbkit-run-id``);
        default ``$WANDBKIT_RESUME``. See :mod:`wandbkit.resume` for the step rule.
    :param wandb_init: further ``wandb.init`` arguments for the W&B sink (entity, notes,
        job_type, save_code).
    """
    check_mode(mode)
    for what, value in (("project", project), ("name", name), ("group", group)):
        if value is not None and not isinstance(value, str):
            raise UserError(f"init({what}=...) must be a string, got {type(value).__name__} "
                            f"{value!r}")
    if queue_size < 2:
        raise UserError(f"queue_size must be at least 2, got {queue_size}")
    previous = lifecycle.current()
    if previous is not None:
        warn(f"finishing run {previous.id} before starting a new one")
        previous.finish()
    store_dir = Path(dir).expanduser().resolve() if dir else default_root().resolve()
    project = project or os.environ.get("WANDBKIT_PROJECT") or "wandbkit"
    writes_store = sinks is None or "store" in sinks
    chosen_id = plan_resume(id, resume, store_dir, new_run_id,
                            project=project if writes_store else None)
    try:
        settings = RunSettings(
            project=project,
            name=name, group=group or os.environ.get("WANDBKIT_RUN_GROUP") or None,
            tags=tuple(tags or ()), mode=mode, wandb_mode=resolve_wandb_mode(mode),
            store_dir=store_dir,
            sinks=tuple(sinks) if sinks is not None else None,
            queue_size=queue_size, flush_interval=flush_interval, resume=chosen_id.resume,
            id_source=chosen_id.id_source, fragment=chosen_id.fragment,
            start_step=chosen_id.start_step, wandb_init=dict(wandb_init or {}))
        run = Run(settings, {**chosen_id.stored_config, **_config_dict(config)}, chosen_id.run_id)
        chosen = _choose_sinks(collect("wandbkit_register_sinks", run=run), settings.sinks)
    except BaseException:
        release_claim(chosen_id, store_dir)  # e.g. an unknown sink name: the id is free again
        raise
    run._start(chosen)
    lifecycle.remember(run)
    call_each("wandbkit_run_started", run=run)
    return run


def _choose_sinks(available: list[Sink], wanted: tuple[str, ...] | None) -> list[Sink]:
    names = [s.name for s in available]
    if len(set(names)) != len(names):
        raise UserError(f"two sinks share a name: {sorted(names)}")
    if wanted is None:
        return available
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise UserError(f"unknown sink(s) {unknown}; available: {sorted(names)}")
    return [s for s in available if s.name in wanted]


def finish(exit_code: int = 0) -> RunReport | None:
    """Finish the active run, if any."""
    run = lifecycle.current()
    return run.finish(exit_code) if run is not None else None


def get_run() -> Run | None:
    """The active run of this process, or None."""
    return lifecycle.current()
