"""Agents: claim a trial, run it as a wandbkit run, report what the run logged, repeat.

Two entry styles, as in W&B:

- a Python function, called in this process with the trial's config (and the run, if it
  takes a second argument). It logs with ``run.log`` as usual; the ``wandbkit_rows_logged``
  hook hands every value of the sweep's metric to the trial (intermediate values for
  hyperband), and a pruned trial's next ``run.log`` raises :class:`TrialPruned`.
- ``program``/``command``: a subprocess with W&B's macros expanded. The program reports
  through its own wandbkit run (the sweeps plugin links that run to the trial and gives it
  the trial's config and group); the agent reads the run's history from the store. A pruned
  program gets SIGTERM.

A trial that raises or exits non-zero is marked failed and the agent goes on; Ctrl-C marks
the running trial failed (``interrupted``) so ``sweep run --resume`` can run it again.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from wandbkit.console import warn
from wandbkit.errors import UserError
from wandbkit.settings import check_mode
from wandbkit.store import Store, default_root
from wandbkit_sweeps.engine import Heartbeat, Sweep, claim_trial
from wandbkit_sweeps.hyperband import Hyperband, decide, is_valid_value, read_hyperband
from wandbkit_sweeps.macros import check_command, expand
from wandbkit_sweeps.space import suggest

TrainFn = Callable[..., Any]
POLL_S = 0.2
LINK_MIGRATIONS = ["""
    CREATE TABLE sweeps_trial_runs (
        sweep_id TEXT NOT NULL,
        trial INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        time REAL NOT NULL,
        PRIMARY KEY (sweep_id, trial, run_id)
    ) WITHOUT ROWID
"""]


class TrialPruned(optuna.TrialPruned):
    """Raised by ``run.log`` inside a trial that hyperband stopped."""


# How a trial's Optuna state reads as a W&B run state (only ``running`` runs are ever stopped).
_RUN_STATES = {TrialState.RUNNING: "running", TrialState.COMPLETE: "finished",
               TrialState.PRUNED: "killed", TrialState.FAIL: "failed", TrialState.WAITING: "pending"}


def sweep_runs(sweep: Sweep, metric: str) -> list[dict[str, Any]]:
    """Every trial of the sweep as :func:`wandbkit_sweeps.runs_to_stop` takes runs: name (the
    trial number), state, and the metric's valid values, which every agent records in the
    shared study as the trial's intermediate values (index = iteration)."""
    return [{"name": str(t.number), "state": _RUN_STATES.get(t.state, t.state.name.lower()),
             "history": [{metric: v} for _, v in sorted(t.intermediate_values.items())]}
            for t in sweep.trials()]


@dataclass
class Monitor:
    """What one trial's run has logged of the sweep's metric, and W&B's hyperband on it."""

    trial: optuna.Trial
    metric: str | None
    sweep: Sweep | None = None
    values: list[float] = field(default_factory=list)
    pruned: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        spec = self.sweep.spec if self.sweep is not None else None
        self.hyperband: Hyperband | None = (read_hyperband(spec.raw)
                                            if spec is not None and spec.hyperband else None)

    def observe(self, value: Any) -> bool:
        """Record one value; True when W&B's hyperband stops the trial now.

        W&B's iteration is the position of the value among the metric's valid values, so
        that is the step each value is stored at. Every agent records its trial's values in
        the shared study and judges its own trial on every value, from every trial's values
        as they stand: the decision :func:`wandbkit_sweeps.runs_to_stop` gives.
        """
        if not is_valid_value(value):
            return False
        with self.lock:
            if self.pruned:  # values logged after the stop took effect are not the trial's
                return False
            self.values.append(float(value))
            if self.hyperband is None or self.sweep is None:
                return False
            self.trial.report(float(value), step=len(self.values) - 1)
            if len(self.values) < self.hyperband.bands[0]:
                return False  # before the first band no decision can stop it
            runs = sweep_runs(self.sweep, self.hyperband.metric)
            me = str(self.trial.number)
            for run in runs:
                if run["name"] == me:  # this agent's own view is the freshest
                    run["state"] = "running"
                    run["history"] = [{self.hyperband.metric: v} for v in self.values]
            if me in decide(self.hyperband, runs):
                self.pruned = True
                return True
        return False


_MONITORS: dict[str, Monitor] = {}


def observe_rows(run: Any, rows: list[Any]) -> None:
    """The ``wandbkit_rows_logged`` hook body: feed the metric to the run's trial, if any."""
    monitor = _MONITORS.get(run.id)
    if monitor is None or monitor.metric is None:
        return
    for row in rows:
        if monitor.metric in row.values and monitor.observe(row.values[monitor.metric]):
            run.interrupt(TrialPruned(f"hyperband stopped trial {monitor.trial.number} after "
                                      f"{len(monitor.values)} values of {monitor.metric!r}"))
            return


@dataclass
class Outcome:
    """How one trial ended."""

    number: int
    state: str
    value: float | None = None
    run_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# --- the loop ---------------------------------------------------------------------------------


def run_agent(sweep: Sweep, train_fn: TrainFn | None = None, *, count: int | None = None,
              mode: str = "auto", store_dir: str | Path | None = None,
              on_trial: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run trials of ``sweep`` until it is done or ``count`` trials ran here.

    :raises UserError: for a ``mode`` that is not auto, online, offline or disabled.
    """
    check_mode(mode)
    if train_fn is None and not (sweep.spec.program or sweep.spec.command):
        raise UserError(f"sweep {sweep.id} has neither `program` nor `command`: give a Python "
                        "train function (wandbkit_sweeps.run / agent) or add `program` to the file")
    if train_fn is None:  # a command that cannot be built fails here, before any trial
        check_command(sweep.spec.command, sweep.spec.program)
    outcomes: list[Outcome] = []
    while count is None or len(outcomes) < count:
        trial = claim_trial(sweep)
        if trial is None:
            break
        outcome = run_trial(sweep, trial, train_fn, mode=mode, store_dir=store_dir)
        outcomes.append(outcome)
        if on_trial is not None:
            on_trial(outcome)
    return outcomes


def run_trial(sweep: Sweep, trial: optuna.Trial, train_fn: TrainFn | None, *, mode: str = "auto",
              store_dir: str | Path | None = None) -> Outcome:
    """Run one claimed trial to its end and tell the study how it went."""
    spec = sweep.spec
    config = suggest(trial, spec)
    trial.set_user_attr("config", config)
    trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
    monitor = Monitor(trial, spec.metric_name, sweep)
    root = Path(store_dir).expanduser() if store_dir else default_root()
    with Heartbeat(sweep, trial):
        try:
            if train_fn is not None:
                outcome = _run_function(sweep, trial, config, train_fn, monitor, mode, root)
            else:
                outcome = _run_program(sweep, trial, config, monitor, mode, root)
        except KeyboardInterrupt:
            try:
                trial.set_user_attr("interrupted", True)
                sweep.study.tell(trial, state=TrialState.FAIL)
            except Exception:  # interrupted inside a storage call: the heartbeat check will
                pass           # mark the trial failed, and --resume queues it again
            raise
    return _tell(sweep, trial, outcome, monitor)


def _tell(sweep: Sweep, trial: optuna.Trial, outcome: Outcome, monitor: Monitor) -> Outcome:
    spec = sweep.spec
    if outcome.state == "complete":
        if spec.metric_name is None:
            trial.set_user_attr("no_metric", True)
            outcome.value = 0.0  # Optuna needs a value; `sweep show` ignores it
        elif outcome.value is None:
            outcome.state = "failed"
            outcome.error = (f"the run never logged {spec.metric_name!r} (a number): log it with "
                             "run.log, or fix metric.name")
    if outcome.run_id:
        trial.set_user_attr("run_id", outcome.run_id)
    if monitor.values:
        trial.set_user_attr("metric_values", len(monitor.values))
    if outcome.error:
        trial.set_user_attr("error", outcome.error[-2000:])
    if outcome.state == "complete":
        sweep.study.tell(trial, outcome.value)
        target = spec.target
        if target is not None and spec.metric_name and (
                outcome.value <= target if spec.goal == "minimize" else outcome.value >= target):
            sweep.finish(f"target {spec.metric_name}={target} reached by trial {trial.number}")
    elif outcome.state == "pruned":
        outcome.value = monitor.values[-1] if monitor.values else None
        trial.set_user_attr("last_value", outcome.value)
        sweep.study.tell(trial, state=TrialState.PRUNED)
    else:
        sweep.study.tell(trial, state=TrialState.FAIL)
        last = (outcome.error or "").strip().splitlines()[-1:] or ["unknown error"]
        warn(f"sweep {sweep.id}: trial {trial.number} failed: {last[0][:300]}")
    return outcome


def _final_value(summary: dict[str, Any], monitor: Monitor) -> float | None:
    explicit = summary.get(monitor.metric) if monitor.metric else None
    if isinstance(explicit, (int, float)) and not isinstance(explicit, bool) and math.isfinite(explicit):
        return float(explicit)
    return monitor.values[-1] if monitor.values else None


# --- a Python function ------------------------------------------------------------------------


def _positional(train_fn: TrainFn) -> int:
    try:
        return len([p for p in inspect.signature(train_fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)])
    except (TypeError, ValueError):
        return 1  # a builtin or C callable: give it the config only


@dataclass
class _Pending:
    """A trial waiting for the run a W&B-style train function starts itself."""

    trial: optuna.Trial
    monitor: Monitor
    config: dict[str, Any]
    run: Any = None


_PENDING: list[_Pending] = []


def attach_pending(run: Any) -> None:
    """``wandbkit_run_started`` in a process running a W&B-style train function: the first run
    it starts is the trial's; the sweep's parameters override the defaults it passed to
    ``init`` (as in a W&B sweep), and its metric values feed the trial."""
    if not _PENDING or _PENDING[0].run is not None:
        return
    pending = _PENDING[0]
    pending.run = run
    run.config.update(pending.config)
    pending.trial.set_user_attr("run_id", run.id)
    _MONITORS[run.id] = pending.monitor


def _run_wandb_style(sweep: Sweep, trial: optuna.Trial, config: dict[str, Any], train_fn: TrainFn,
                     monitor: Monitor, mode: str, root: Path) -> Outcome:
    """``def train(): run = wandbkit.init(); lr = run.config["lr"] ...``: W&B's agent idiom."""
    pending = _Pending(trial, monitor, config)
    _PENDING[:] = [pending]
    workdir = Path(tempfile.mkdtemp(prefix=f"wandbkit-sweep-{sweep.id}-{trial.number}-"))
    # the file W&B's agent writes for the function's wandb.init() (the drop-in reads it as
    # wandb does: the trial's values replace the defaults and stay locked)
    params = workdir / "sweep-params.json"
    params.write_text(json.dumps({k: {"value": v} for k, v in config.items()}, default=repr))
    names = ("WANDBKIT_RUN_GROUP", "WANDBKIT_PROJECT", "WANDBKIT_DIR", "WANDB_SWEEP_PARAM_PATH",
             "WANDB_MODE")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(WANDBKIT_RUN_GROUP=sweep.id, WANDBKIT_PROJECT=sweep.project,
                      WANDBKIT_DIR=str(root.resolve()), WANDB_SWEEP_PARAM_PATH=str(params))
    if mode != "auto":  # the trials' mode, as a program's trials get it
        os.environ["WANDB_MODE"] = mode
    outcome = Outcome(trial.number, "complete", config=config)
    exit_code = 0
    try:
        train_fn()
    except TrialPruned:
        outcome.state = "pruned"
    except KeyboardInterrupt:
        exit_code = 130
        raise
    except Exception:
        outcome.state, outcome.error = "failed", traceback.format_exc()
        exit_code = 1
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(workdir, ignore_errors=True)
        _PENDING.clear()
        run = pending.run
        if run is not None:
            if run.report is None:
                run.finish(exit_code=exit_code, quiet=True)
            _MONITORS.pop(run.id, None)
    if pending.run is None:
        if outcome.state == "complete":
            outcome.state = "failed"
            outcome.error = ("the train function takes no arguments but never called "
                             "wandbkit.init(): start a run in it, or take (config, run) arguments")
        return outcome
    outcome.run_id = pending.run.id
    if outcome.state == "complete" and monitor.pruned:
        outcome.state = "pruned"
    if outcome.state == "complete":
        outcome.value = _final_value(dict(pending.run.summary), monitor)
    return outcome


def _run_function(sweep: Sweep, trial: optuna.Trial, config: dict[str, Any], train_fn: TrainFn,
                  monitor: Monitor, mode: str, root: Path) -> Outcome:
    import wandbkit

    if _positional(train_fn) == 0:
        return _run_wandb_style(sweep, trial, config, train_fn, monitor, mode, root)
    run = wandbkit.init(project=sweep.project, name=f"{sweep.id}-{trial.number}", config=config,
                        group=sweep.id, tags=["sweep", sweep.spec.method], mode=mode, dir=root)
    trial.set_user_attr("run_id", run.id)
    _MONITORS[run.id] = monitor
    outcome = Outcome(trial.number, "complete", run_id=run.id, config=config)
    exit_code = 0
    try:
        result = _call(train_fn, dict(config), run)
        if isinstance(result, dict) and result:
            run.log(result)
        elif isinstance(result, (int, float)) and not isinstance(result, bool) and monitor.metric:
            run.log({monitor.metric: result})
    except TrialPruned:
        outcome.state = "pruned"
    except KeyboardInterrupt:
        run.finish(exit_code=130, quiet=True)
        raise
    except Exception:
        outcome.state, outcome.error = "failed", traceback.format_exc()
        exit_code = 1
    finally:
        if run.report is None:
            run.finish(exit_code=exit_code, quiet=True)
        _MONITORS.pop(run.id, None)
    if outcome.state == "complete" and monitor.pruned:
        outcome.state = "pruned"  # stopped on a value the function logged last, after its loop
    if outcome.state == "complete":
        outcome.value = _final_value(dict(run.summary), monitor)
    return outcome


def _call(train_fn: TrainFn, config: dict[str, Any], run: Any) -> Any:
    if _positional(train_fn) >= 2:
        return train_fn(config, run)
    return train_fn(config)


# --- a program or command -----------------------------------------------------------------------


def link_run(run: Any) -> None:
    """In a program an agent started: give its first run the trial's config and record which
    run it is (``wandbkit_run_started``)."""
    sweep_id = os.environ.get("WANDBKIT_SWEEP_ID")
    number = os.environ.get("WANDBKIT_SWEEP_TRIAL")
    if not sweep_id or number is None or os.environ.get("_WANDBKIT_SWEEP_LINKED") == "1":
        return
    os.environ["_WANDBKIT_SWEEP_LINKED"] = "1"  # one run per trial: later runs are the program's own
    try:
        params = json.loads(os.environ.get("WANDBKIT_SWEEP_PARAMS", "{}"))
    except ValueError:
        params = {}
    if params:
        run.config.update(params)  # as in a W&B sweep, the sweep's values win over defaults
    store = Store.open(run.store_dir)
    store.ensure_schema("sweeps", LINK_MIGRATIONS)
    conn = store.connect()
    try:
        conn.execute("INSERT OR IGNORE INTO sweeps_trial_runs VALUES (?,?,?,?)",
                     (sweep_id, int(number), run.id, time.time()))
    finally:
        conn.close()


class _StoreReader:
    """Reads the linked run's new rows from the store, incrementally (``Store.rows_since``);
    the link itself is this plugin's own table."""

    def __init__(self, root: Path, sweep_id: str, number: int) -> None:
        self.store = Store.open(root)
        self.store.ensure_schema("sweeps", LINK_MIGRATIONS)
        self.sweep_id, self.number = sweep_id, number
        self.run_id: str | None = None
        self.cursor = 0

    def _linked_run(self) -> str | None:
        conn = self.store.connect()
        try:
            row = conn.execute("SELECT run_id FROM sweeps_trial_runs WHERE sweep_id=? AND trial=?"
                               " ORDER BY time LIMIT 1", (self.sweep_id, self.number)).fetchone()
        finally:
            conn.close()
        return row[0] if row is not None else None

    def poll(self, monitor: Monitor) -> bool:
        """Feed new values to ``monitor``; True when the trial should stop now."""
        if self.run_id is None:
            self.run_id = self._linked_run()
            if self.run_id is None:
                return False
            monitor.trial.set_user_attr("run_id", self.run_id)
        rows, self.cursor = self.store.rows_since(self.run_id, self.cursor)
        stop = False
        for _step, values in rows:
            if monitor.metric in values and monitor.observe(values[monitor.metric]):
                stop = True
        return stop

    def summary(self) -> dict[str, Any]:
        """The run's explicit summary as stored (empty before it is linked)."""
        if self.run_id is None:
            return {}
        return self.store.get_run(self.run_id).summary


def _run_program(sweep: Sweep, trial: optuna.Trial, config: dict[str, Any], monitor: Monitor,
                 mode: str, root: Path) -> Outcome:
    workdir = Path(tempfile.mkdtemp(prefix=f"wandbkit-sweep-{sweep.id}-{trial.number}-"))
    try:
        return _run_program_in(sweep, trial, config, monitor, mode, root, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the ${args_json_file} file


def _run_program_in(sweep: Sweep, trial: optuna.Trial, config: dict[str, Any], monitor: Monitor,
                    mode: str, root: Path, workdir: Path) -> Outcome:
    spec = sweep.spec
    try:
        argv = expand(spec.command, spec.program, config, json_file=workdir / "params.json")
    except UserError as exc:
        return Outcome(trial.number, "failed", config=config, error=str(exc))
    env = dict(os.environ, WANDBKIT_SWEEP_ID=sweep.id, WANDBKIT_SWEEP_TRIAL=str(trial.number),
               WANDBKIT_SWEEP_PARAMS=json.dumps(config), WANDBKIT_RUN_GROUP=sweep.id,
               WANDBKIT_PROJECT=sweep.project, WANDBKIT_DIR=str(root.resolve()))
    env.pop("_WANDBKIT_SWEEP_LINKED", None)
    if mode != "auto":
        env["WANDB_MODE"] = {"disabled": "disabled", "offline": "offline"}.get(mode, mode)
    trial.set_user_attr("command", argv)
    reader = _StoreReader(root, sweep.id, trial.number)
    outcome = Outcome(trial.number, "complete", config=config)
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as exc:
        outcome.state, outcome.error = "failed", f"cannot start {argv[:3]}: {exc}"
        return outcome
    try:
        while proc.poll() is None:
            time.sleep(POLL_S)
            if monitor.metric and reader.poll(monitor):
                proc.send_signal(signal.SIGTERM)  # the program's run finishes with code 143
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        raise
    if monitor.metric:
        reader.poll(monitor)
    outcome.run_id = reader.run_id
    if monitor.pruned:
        outcome.state = "pruned"
    elif proc.returncode != 0:
        outcome.state, outcome.error = "failed", f"{' '.join(argv)} exited with code {proc.returncode}"
    elif monitor.metric and reader.run_id is None:
        outcome.state = "failed"
        outcome.error = (f"{' '.join(argv)} never started a wandbkit run, so {monitor.metric!r} is "
                         "unknown: call wandbkit.init() in the program")
    else:
        outcome.value = _final_value(reader.summary(), monitor)
    return outcome


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_main(sweep_id: str, storage: str | None, store_dir: str | None, train_fn: TrainFn | None,
                count: int | None, mode: str) -> None:
    """Entry point of a worker process (spawned by ``sweep run --workers K``)."""
    from wandbkit_sweeps.engine import open_sweep

    try:
        sweep = open_sweep(sweep_id, storage=storage, store_dir=store_dir)
        run_agent(sweep, train_fn, count=count, mode=mode, store_dir=store_dir)
    except KeyboardInterrupt:
        sys.exit(130)
