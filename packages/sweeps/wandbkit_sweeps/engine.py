"""The local engine's state: one Optuna study per sweep, in SQLite or PostgreSQL.

A sweep is a study named by its 8-character id; the sweep file travels with it (study user
attributes), so an agent anywhere needs only the id and the storage URL. Trials are claimed
atomically (a queued grid point moves WAITING -> RUNNING once, whoever asks), each running
trial sends a heartbeat, and an agent that dies leaves a trial that the next agent (or
``sweep show``) marks failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import string
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from wandbkit.console import warn
from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.store import default_root, process_gone
from wandbkit_sweeps.config import RUNNABLE_METHODS, SweepSpec, check
from wandbkit_sweeps.samplers import make_pruner, make_sampler
from wandbkit_sweeps.space import grid_points

SWEEPS_DB = "sweeps.db"
_ALPHABET = string.ascii_lowercase + string.digits
SKIPPED = "skipped"  # user attr of a trial created past run_cap/count and never run
HEARTBEAT_AT = "heartbeat_at"  # user attrs: the last beat (unix time), the agent's interval
HEARTBEAT_S = "heartbeat_s"

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Optuna's notes about its experimental features are not for the user (QueuedGridSampler and
# the samplers' options use some).
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
logging.getLogger("optuna").setLevel(logging.WARNING)


def heartbeat_seconds() -> int:
    """Seconds between a running trial's heartbeats (``WANDBKIT_SWEEP_HEARTBEAT``, default 10);
    a trial silent for three of them belongs to a dead agent and is marked failed."""
    try:
        return max(1, int(os.environ.get("WANDBKIT_SWEEP_HEARTBEAT", "10")))
    except ValueError:
        return 10


def storage_url(url: str | None = None, store_dir: str | Path | None = None, *,
                read_only: bool = False) -> str:
    """The storage URL: the one given (``postgresql://`` goes through psycopg 3), else SQLite
    in the wandbkit store (``sweeps.db`` beside ``wandbkit.db``; ``read_only``: opened with
    SQLite's ``mode=ro``, and no folder is created)."""
    if url:
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    root = Path(store_dir).expanduser() if store_dir else default_root()
    if read_only:
        return f"sqlite:///file:{root.resolve() / SWEEPS_DB}?mode=ro&uri=true"
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root.resolve() / SWEEPS_DB}"


def open_storage(url: str | None = None, store_dir: str | Path | None = None, *,
                 read_only: bool = False) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage. :class:`UserError` when it cannot be reached.

    Heartbeats are this engine's own (:class:`Heartbeat`), not Optuna's: Optuna judges a
    trial stale by the interval of whoever looks, where each trial here records its agent's.
    """
    full = storage_url(url, store_dir, read_only=read_only)
    kwargs: dict[str, Any] = {}
    if full.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    else:
        kwargs = {"pool_pre_ping": True}
    try:
        storage = optuna.storages.RDBStorage(full, engine_kwargs=kwargs)
    except Exception as exc:  # SQLAlchemy/driver errors: unreachable server, bad URL, bad file
        first = first_line(exc)
        if "No module named" in first and "psycopg" in first:
            first += " (install it with: pip install 'wandbkit-sweeps[postgres]')"
        raise UserError(f"cannot open sweep storage {_redact(full)}: {first}") from exc
    if full.startswith("sqlite") and not read_only:
        _tune_sqlite(storage)
    return storage


def _tune_sqlite(storage: optuna.storages.RDBStorage) -> None:
    """WAL (agents read while one writes) and synchronous=NORMAL (no fsync per commit; durable
    across process crashes in WAL mode, only an OS crash can lose the last commits): a trial
    makes a dozen small commits, and with the default journal each one waits for the disk."""
    from sqlalchemy import event

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception:  # another process is switching it at this moment: it will be WAL
            pass
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # connections made before the listener get the pragmas too


def _redact(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def new_sweep_id() -> str:
    """An 8-character id in W&B's alphabet."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def config_hash(raw: dict[str, Any]) -> str:
    """A stable digest of the sweep file's content (to find a sweep to resume)."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=repr).encode()).hexdigest()[:16]


class Sweep:
    """An open sweep: its spec, study and storage."""

    def __init__(self, sweep_id: str, spec: SweepSpec, study: optuna.Study,
                 storage: optuna.storages.RDBStorage) -> None:
        self.id = sweep_id
        self.spec = spec
        self.study = study
        self.storage = storage

    @property
    def backend(self) -> Any:
        """The study's own storage object. Optuna wraps the RDB storage in a cache per study;
        trial state changes must go through that wrapper or the study loses track of them."""
        return self.study._storage

    @property
    def attrs(self) -> dict[str, Any]:
        """The study's user attributes (sweep file, project, state)."""
        return self.study.user_attrs

    @property
    def project(self) -> str:
        """The wandbkit project trials log to."""
        return self.attrs.get("project") or "wandbkit-sweeps"

    def finished_reason(self) -> str | None:
        """Why the sweep ended (target reached, grid done), or None while it runs."""
        return self.study.user_attrs.get("finished_reason")

    def finish(self, reason: str) -> None:
        """Mark the sweep finished: every agent stops before its next trial."""
        if self.finished_reason() is None:
            self.study.set_user_attr("finished_reason", reason)

    def trials(self, states: tuple[TrialState, ...] | None = None) -> list[optuna.trial.FrozenTrial]:
        """The sweep's real trials (never the ones skipped past a cap)."""
        return [t for t in self.study.get_trials(deepcopy=False, states=states)
                if not t.user_attrs.get(SKIPPED)]

    def fail_stale(self) -> list[int]:
        """Mark trials of dead agents failed (see :func:`is_stale`); their numbers."""
        failed = []
        for t in self.trials(states=(TrialState.RUNNING,)):
            if not is_stale(t):
                continue
            try:
                if self.backend.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    failed.append(t.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # it finished meanwhile: not stale after all
        return failed


def is_stale(trial: optuna.trial.FrozenTrial, now: float | None = None) -> bool:
    """Whether a running trial's agent is gone: its process no longer exists (same host), or
    it missed three heartbeats at the interval that agent itself recorded (any host)."""
    if trial.state != TrialState.RUNNING:
        return False
    attrs = trial.user_attrs
    beat = attrs.get(HEARTBEAT_AT)
    if not isinstance(beat, (int, float)):
        started = trial.datetime_start
        beat = started.timestamp() if started is not None else None
    interval = attrs.get(HEARTBEAT_S)
    if not isinstance(interval, (int, float)) or interval <= 0:
        interval = heartbeat_seconds()
    if beat is not None and (now or time.time()) - beat > 3 * interval:
        return True
    host, _, pid = str(attrs.get("worker") or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return process_gone(host, int(pid), beat)
    return False


def create_sweep(spec: SweepSpec, *, storage: str | None = None, store_dir: str | Path | None = None,
                 project: str | None = None, source: str | None = None, seed: int | None = None,
                 sweep_id: str | None = None) -> Sweep:
    """Create a sweep (an Optuna study) from a validated spec; grid points are queued now."""
    if spec.method not in RUNNABLE_METHODS:
        raise UserError(f"method: {spec.method} needs a W&B Launch scheduler; the local engine "
                        f"runs {', '.join(RUNNABLE_METHODS)}")
    rdb = open_storage(storage, store_dir)
    sweep_id = sweep_id or new_sweep_id()
    direction = "maximize" if spec.goal == "maximize" else "minimize"
    study = optuna.create_study(study_name=sweep_id, storage=rdb, direction=direction,
                                sampler=make_sampler(spec, seed), pruner=make_pruner(spec))
    study.set_user_attr("sweep", spec.raw)
    study.set_user_attr("project", project or spec.project or "wandbkit-sweeps")
    study.set_user_attr("source", source)
    study.set_user_attr("config_hash", config_hash(spec.raw))
    study.set_user_attr("created_at", time.time())
    if spec.method == "grid":
        points = grid_points(spec)
        if spec.run_cap:
            points = points[:spec.run_cap]
        for point in points:
            study.enqueue_trial(point, skip_if_exists=False)
    return Sweep(sweep_id, spec, study, rdb)


def open_sweep(sweep_id: str, *, storage: str | None = None, store_dir: str | Path | None = None,
               seed: int | None = None, read_only: bool = False) -> Sweep:
    """Open an existing sweep by id. :class:`UserError` naming the known sweeps if absent.

    ``read_only``: for commands that only read (the store's SQLite file is opened read-only).
    """
    if not storage:
        path = (Path(store_dir).expanduser() if store_dir else default_root()) / SWEEPS_DB
        if not path.exists():
            raise UserError(f"no sweep {sweep_id!r}: there are no sweeps in {path.parent} "
                            "(set WANDBKIT_DIR or --dir, or give --storage)")
    rdb = open_storage(storage, store_dir, read_only=read_only)
    names = optuna.get_all_study_names(storage=rdb)
    if sweep_id not in names:
        matches = [n for n in names if n.startswith(sweep_id)] if sweep_id else []
        if len(matches) != 1:
            known = ", ".join(names[-5:]) or "none"
            raise UserError(f"no sweep {sweep_id!r} in {_redact(storage_url(storage, store_dir))} "
                            f"(sweeps there: {known})")
        sweep_id = matches[0]
    probe = optuna.load_study(study_name=sweep_id, storage=rdb)
    raw = probe.user_attrs.get("sweep")
    if not isinstance(raw, dict):
        raise UserError(f"study {sweep_id!r} was not created by wandbkit sweeps (no sweep file)")
    spec = check(raw, f"sweep {sweep_id}")
    study = optuna.load_study(study_name=sweep_id, storage=rdb, sampler=make_sampler(spec, seed),
                              pruner=make_pruner(spec))
    return Sweep(sweep_id, spec, study, rdb)


def find_resumable(spec: SweepSpec, *, storage: str | None = None,
                   store_dir: str | Path | None = None) -> str | None:
    """The newest unfinished sweep of the same file in this storage, if any."""
    rdb = open_storage(storage, store_dir)
    wanted = config_hash(spec.raw)
    best: tuple[float, str] | None = None
    for summary in optuna.get_all_study_summaries(storage=rdb, include_best_trial=False):
        attrs = summary.user_attrs
        if attrs.get("config_hash") == wanted and not attrs.get("finished_reason"):
            created = float(attrs.get("created_at") or 0)
            if best is None or created > best[0]:
                best = (created, summary.study_name)
    return best[1] if best else None


def requeue_interrupted(sweep: Sweep) -> int:
    """Queue again the grid points whose trials were interrupted (Ctrl-C, a killed agent), so
    a resumed grid sweep still covers every point once. Returns how many."""
    if sweep.spec.method != "grid":
        return 0
    trials = sweep.trials()
    retried = {t.user_attrs.get("retry_of") for t in trials}
    done = {json.dumps(t.params or t.system_attrs.get("fixed_params"), sort_keys=True, default=repr)
            for t in trials if t.state != TrialState.FAIL}
    count = 0
    for t in trials:
        # a trial killed between its claim and its first suggestion has only the queued point
        point = t.params or t.system_attrs.get("fixed_params") or {}
        key = json.dumps(point, sort_keys=True, default=repr)
        if t.state == TrialState.FAIL and t.number not in retried and key not in done and point and (
                t.user_attrs.get("interrupted") or "error" not in t.user_attrs):
            # interrupted by Ctrl-C, or failed by a dead agent's missing heartbeat
            sweep.study.enqueue_trial(point, user_attrs={"retry_of": t.number},
                                      skip_if_exists=False)
            done.add(key)
            count += 1
    return count


def claim_trial(sweep: Sweep, limit: int | None = None) -> optuna.Trial | None:
    """The next trial for this agent, or None when the sweep is done.

    Grid: a queued point, taken atomically. Random/bayes: a new trial, unless ``run_cap`` (or
    the caller's ``limit`` on trial numbers) is reached.
    """
    sweep.fail_stale()
    if sweep.finished_reason():
        return None
    if sweep.spec.method != "grid":
        return _ask_new(sweep, limit)  # Study.ask pops a queued trial itself, atomically
    for frozen in sweep.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            # WAITING -> RUNNING succeeds for exactly one agent (a conditional UPDATE)
            if sweep.backend.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(sweep.study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    if not sweep.trials(states=(TrialState.RUNNING,)):
        sweep.finish("grid complete")
    return None


def _ask_new(sweep: Sweep, limit: int | None) -> optuna.Trial | None:
    cap = _cap(sweep.spec.run_cap, limit)
    if cap is not None and len(sweep.trials()) >= cap:
        return None
    trial = sweep.study.ask()
    if cap is not None and trial.number >= cap:  # another agent took the last place meanwhile
        trial.set_user_attr(SKIPPED, True)
        sweep.study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def _cap(run_cap: int | None, limit: int | None) -> int | None:
    caps = [c for c in (run_cap, limit) if c is not None]
    return min(caps) if caps else None


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost cause (Optuna wraps driver errors in a generic one)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return first_line(exc)


class Heartbeat:
    """Records a running trial's heartbeat (``heartbeat_at``, and its interval ``heartbeat_s``
    once, in the trial's user attributes) every interval on a daemon thread. A beat that
    fails is reported (once per run of failures) and retried at the next interval."""

    def __init__(self, sweep: Sweep, trial: optuna.Trial) -> None:
        self._storage = sweep.storage
        self._label = f"sweep {sweep.id}: trial {trial.number}"
        # Optuna has no public accessor for the storage id of a live trial; its own heartbeat
        # helper reads the same attribute.
        self._trial_id = trial._trial_id
        self.interval = heartbeat_seconds()
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wandbkit-sweep-heartbeat",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._storage.set_trial_user_attr(self._trial_id, HEARTBEAT_S, self.interval)
        self._storage.set_trial_user_attr(self._trial_id, HEARTBEAT_AT, time.time())
        self._thread.start()
        return self

    def beat(self) -> bool:
        """Record one heartbeat now; False (and a warning, the first time in a row) when the
        storage refused it."""
        try:
            self._storage.set_trial_user_attr(self._trial_id, HEARTBEAT_AT, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            self._stop.set()  # the trial ended (or another agent judged it gone): nothing to keep
            return False
        except Exception as exc:  # a storage hiccup: the next beat retries
            self.failures += 1
            if self.failures == 1:
                warn(f"{self._label}: cannot record its heartbeat ({_root_cause(exc)}); retrying "
                     f"every {self.interval}s. After {3 * self.interval}s without one, other "
                     "agents take the trial for a dead agent's and mark it failed")
            return False
        if self.failures:
            warn(f"{self._label}: heartbeat recorded again after {self.failures} failure(s)")
        self.failures = 0
        return True

    def _loop(self) -> None:
        from wandbkit.lifecycle import block_signals_in_this_thread

        block_signals_in_this_thread()
        while not self._stop.wait(self.interval):
            self.beat()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
