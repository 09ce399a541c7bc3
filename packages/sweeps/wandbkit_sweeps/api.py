"""The Python API: start a sweep and its workers, or join one as an agent."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from wandbkit.console import warn
from wandbkit.errors import UserError
from wandbkit_sweeps.agent import Outcome, TrainFn, run_agent, worker_main
from wandbkit_sweeps.config import SweepSpec, load_sweep
from wandbkit_sweeps.engine import (
    Sweep,
    create_sweep,
    find_resumable,
    is_stale,
    open_sweep,
    requeue_interrupted,
)


@dataclass
class SweepResult:
    """What a finished :func:`run` reports."""

    sweep_id: str
    storage: str
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    finished_reason: str | None


def start(sweep: str | Path | dict[str, Any] | SweepSpec, *, storage: str | None = None,
          dir: str | Path | None = None, project: str | None = None, resume: bool = False,
          seed: int | None = None) -> Sweep:
    """Create the sweep (or, with ``resume``, reopen the newest unfinished one of the same file)."""
    spec = sweep if isinstance(sweep, SweepSpec) else load_sweep(sweep)
    for problem in spec.warnings:
        warn(f"sweep: {problem}")
    source = str(sweep) if isinstance(sweep, (str, Path)) else None
    if resume:
        found = find_resumable(spec, storage=storage, store_dir=dir)
        if found is not None:
            opened = open_sweep(found, storage=storage, store_dir=dir, seed=seed)
            opened.fail_stale()
            again = requeue_interrupted(opened)
            warn(f"resuming sweep {found}" + (f" ({again} interrupted grid points queued again)"
                                             if again else ""))
            return opened
        warn("no unfinished sweep of this file to resume: starting a new one")
    return create_sweep(spec, storage=storage, store_dir=dir, project=project, source=source,
                        seed=seed)


def run(sweep: str | Path | dict[str, Any], train_fn: TrainFn | None = None, *,
        count: int | None = None, workers: int = 1, storage: str | None = None,
        dir: str | Path | None = None, project: str | None = None, mode: str = "auto",
        resume: bool = False, seed: int | None = None) -> SweepResult:
    """Run a sweep locally on Optuna and return its result.

    :param sweep: a sweep file (YAML/JSON path) or the same content as a dict.
    :param train_fn: ``train_fn(config)`` or ``train_fn(config, run)``; it logs the sweep's
        metric with ``run.log`` (or ``wandbkit.get_run().log``). A ``train_fn()`` without
        arguments starts its own run with ``wandbkit.init()`` (W&B's idiom): that run is the
        trial's, with the sweep's values in its config. None runs the file's
        ``program``/``command`` instead. With ``workers > 1`` it must be importable (defined
        at module level), since workers are fresh processes.
    :param count: trials to run in all (default: until grid, ``run_cap`` or ``target`` ends it).
    :param workers: agent processes on this machine.
    :param storage: an Optuna storage URL (``postgresql://user@host/db`` lets agents on other
        machines join); default SQLite in the wandbkit store.
    :param dir: the wandbkit store (default ``$WANDBKIT_DIR`` or ``./wandbkit-runs``).
    :param project: the project trials log to (default the file's ``project``).
    :param mode: the trials' wandbkit mode (auto, online, offline, disabled).
    :param resume: continue the newest unfinished sweep of the same file.
    """
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    if count is not None and count < 1:
        raise UserError(f"count must be at least 1, got {count}")
    opened = start(sweep, storage=storage, dir=dir, project=project, resume=resume, seed=seed)
    launch(opened, train_fn, count=count, workers=workers, storage=storage, dir=dir, mode=mode)
    return result(opened)


def agent(sweep_id: str, train_fn: TrainFn | None = None, *, count: int | None = None,
          storage: str | None = None, dir: str | Path | None = None,
          mode: str = "auto") -> list[Outcome]:
    """Join an existing sweep from this process (another shell or machine)."""
    opened = open_sweep(sweep_id, storage=storage, store_dir=dir)
    return run_agent(opened, train_fn, count=count, mode=mode, store_dir=dir)


def launch(opened: Sweep, train_fn: TrainFn | None, *, count: int | None, workers: int,
           storage: str | None, dir: str | Path | None, mode: str) -> None:
    """Run ``workers`` agents on ``opened``: here for one, else in spawned processes."""
    if workers == 1:
        run_agent(opened, train_fn, count=count, mode=mode, store_dir=dir)
        return
    if train_fn is not None:
        try:
            pickle.dumps(train_fn)
        except Exception as exc:
            raise UserError(f"workers={workers} needs a train function defined at module level "
                            f"(workers are new processes): {exc}") from exc
    counts = [None] * workers if count is None else \
        [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    store = str(Path(dir).expanduser().resolve()) if dir else None
    procs = [ctx.Process(target=worker_main, name=f"sweep-{opened.id}-worker-{i}",
                         args=(opened.id, storage, store, train_fn, c, mode))
             for i, c in enumerate(counts) if c != 0]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:  # they got the same SIGINT: give them time to mark their trials
            p.join(timeout=30)
        raise
    bad = [p for p in procs if p.exitcode not in (0, 130)]
    if bad:
        warn(f"sweep {opened.id}: {len(bad)} worker(s) exited abnormally "
             f"({', '.join(str(p.exitcode) for p in bad)}); their trials are marked failed")


def trial_rows(opened: Sweep) -> list[dict[str, Any]]:
    """One dict per trial: number, state, value, config, run id, error, duration."""
    rows = []
    for t in opened.trials():
        if t.state == TrialState.WAITING:  # a queued grid point nobody ran (yet)
            continue
        duration = None
        if t.datetime_start and t.datetime_complete:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        value = t.value if t.state == TrialState.COMPLETE and not t.user_attrs.get("no_metric") \
            else None
        if t.state == TrialState.PRUNED:
            value = t.user_attrs.get("last_value")
        state = "failed" if t.state == TrialState.FAIL else t.state.name.lower()
        error = t.user_attrs.get("error")
        if is_stale(t):  # shown as the next agent will mark it; reading never writes
            state, error = "failed", "its agent is gone (no process, or no heartbeat for 3 intervals)"
        rows.append({"number": t.number, "state": state, "value": value,
                     "config": t.user_attrs.get("config", {}), "run_id": t.user_attrs.get("run_id"),
                     "steps": t.user_attrs.get("metric_values", 0), "error": error,
                     "interrupted": bool(t.user_attrs.get("interrupted")),
                     "seconds": duration})
    return rows


def best_trial(opened: Sweep) -> dict[str, Any] | None:
    """The best completed trial (by the metric's goal), or None."""
    if opened.spec.metric_name is None:
        return None
    done = [r for r in trial_rows(opened) if r["state"] == "complete" and r["value"] is not None]
    if not done:
        return None
    pick = max if opened.spec.goal == "maximize" else min
    return pick(done, key=lambda r: r["value"])


def result(opened: Sweep) -> SweepResult:
    """The sweep's trials and best trial as they stand."""
    from wandbkit_sweeps.engine import _redact

    return SweepResult(sweep_id=opened.id, storage=_redact(opened.storage.url),
                       trials=trial_rows(opened), best=best_trial(opened),
                       finished_reason=opened.finished_reason())


def expected_trials(opened: Sweep, count: int | None) -> int | None:
    """How many trials this launch will run, when that is known (count, grid, run_cap)."""
    known = [c for c in (count, opened.spec.run_cap) if c]
    if opened.spec.method == "grid":
        known.append(len(opened.trials(states=(TrialState.WAITING,))))
    return min(known) if known else None


@contextmanager
def follow(opened: Sweep, progress: Any, total: int | None, label: str | None = None) -> Iterator[None]:
    """Show finished trials on a rich progress bar while the block runs (any worker's)."""
    before = sum(1 for t in opened.trials() if t.state.is_finished())
    task = progress.add_task(label or f"sweep {opened.id}", total=total)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.5):
            try:
                done = sum(1 for t in opened.trials() if t.state.is_finished()) - before
            except Exception:  # a busy storage: the next poll retries
                continue
            progress.update(task, completed=done if total is None else min(done, total))

    thread = threading.Thread(target=poll, daemon=True, name=f"sweep-{opened.id}-progress")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
        done = sum(1 for t in opened.trials() if t.state.is_finished()) - before
        progress.update(task, completed=done if total is None else min(done, total))
