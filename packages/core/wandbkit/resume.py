"""Resuming a run by id, with W&B's ``resume=`` meanings, and finding the id of a requeued job.

``resume`` values (as in ``wandb.init``):

- ``None`` (default) — a new run. A given ``id`` that the store already holds is an error.
- ``"never"`` — the same, said explicitly.
- ``"must"`` — continue the run ``id``; an error when the local store does not hold it.
- ``"allow"`` — continue the run ``id`` when the store holds it, else start it with that id.
- ``"auto"`` (or ``True``, or ``$WANDBKIT_RESUME=auto``) — like ``allow``, with the id taken
  from the environment when none is given: ``$WANDBKIT_RUN_ID``, then Slurm's job id
  (``$SLURM_ARRAY_JOB_ID_$SLURM_ARRAY_TASK_ID`` for an array task, else ``$SLURM_JOB_ID``; both
  survive ``scontrol requeue``), then the run-id file (``.wandbkit-run-id`` in the working
  folder, or ``$WANDBKIT_RUN_ID_FILE``), which a new run writes and a run that finishes
  cleanly removes. A requeued job therefore finds its run without code changes.

A resumed run keeps its id, appends to its history, continues its steps after the last one
stored, merges its config (new values win) and is ``running`` again. A step at or below the
last stored step is kept in the local store but W&B ignores it (W&B's rule: a run's steps only
increase); the run warns once when that happens. Restart training from a checkpoint of the
last stored step (the ``preempt`` checkpoint is one) to avoid it.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.errors import UserError

if TYPE_CHECKING:
    from wandbkit.store import Claim

RESUME_MODES = ("allow", "must", "never", "auto")
RUN_ID_FILE = ".wandbkit-run-id"
_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass
class ResumeInfo:
    """What the store knows about a run being resumed."""

    run_id: str
    state: str
    last_step: int
    fragments: int
    config: dict[str, Any] = field(default_factory=dict)
    host: str | None = None
    pid: int | None = None


def check_resume(resume: Any) -> str | None:
    """Normalise ``resume`` (``True`` is ``"auto"``, ``False`` is ``None``); default from
    ``$WANDBKIT_RESUME``.

    :raises UserError: for any other value.
    """
    if resume is None:  # wandb's own variable too, so a job script written for wandb works
        where = "WANDBKIT_RESUME" if os.environ.get("WANDBKIT_RESUME") else "WANDB_RESUME"
        resume = os.environ.get(where) or None
    else:
        where = "resume"
    if resume is True:
        return "auto"
    if resume is False or resume is None:
        return None
    if isinstance(resume, str) and resume.strip().lower() in RESUME_MODES:
        return resume.strip().lower()
    raise UserError(f"{where}={resume!r} is not one of {', '.join(RESUME_MODES)} (or None)")


def check_run_id(run_id: str, where: str = "id") -> str:
    """A run id both wandbkit and W&B accept: 1-64 letters, digits, ``_``, ``.`` or ``-``.

    :raises UserError: naming the bad id and where it came from.
    """
    if not isinstance(run_id, str) or not _ID_RE.fullmatch(run_id):
        raise UserError(f"{where}={run_id!r} is not a usable run id: use 1-64 letters, digits, "
                        "'_', '.' or '-'")
    return run_id


def slurm_run_id(env: dict[str, str] | None = None) -> str | None:
    """Slurm's id for this job (array tasks: ``<array job>_<task>``), or None outside Slurm."""
    env = os.environ if env is None else env
    array_job, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return env.get("SLURM_JOB_ID") or None


def run_id_file() -> Path:
    """Where ``resume="auto"`` keeps the id when the environment gives none."""
    return Path(os.environ.get("WANDBKIT_RUN_ID_FILE") or Path.cwd() / RUN_ID_FILE)


ENV_ID_VARIABLES = ("WANDBKIT_RUN_ID", "WANDB_RUN_ID")


def id_from_environment() -> tuple[str | None, str]:
    """``(id, source)`` from ``$WANDBKIT_RUN_ID``, ``$WANDB_RUN_ID``, Slurm, or the run-id file;
    ``(None, "file")`` when none is there (the new run's id then goes to the file)."""
    for variable in ENV_ID_VARIABLES:
        explicit = os.environ.get(variable, "").strip()
        if explicit:
            return check_run_id(explicit, variable), variable
    slurm = slurm_run_id()
    if slurm:
        return check_run_id(slurm, "Slurm job id"), "slurm"
    path = run_id_file()
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None, "file"
    except OSError as exc:
        raise UserError(f"cannot read the run-id file {path}: {exc}") from exc
    return (check_run_id(text, str(path)) if text else None), "file"


def write_run_id_file(run_id: str) -> None:
    """Remember ``run_id`` for a restart (written atomically)."""
    path = run_id_file()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(run_id + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write the run-id file {path}: {exc}") from exc


def forget_run_id_file(run_id: str) -> None:
    """Remove the run-id file if it still names ``run_id`` (the run finished cleanly)."""
    path = run_id_file()
    try:
        if path.read_text().strip() == run_id:
            path.unlink()
    except OSError:
        pass


def decide(resume: str | None, run_id: str, found: ResumeInfo | None) -> bool:
    """Whether ``run_id`` is resumed (True) or started new (False), per ``resume``.

    :raises UserError: ``never``/``None`` with an id the store holds; ``must`` with one it does
        not; resuming a run whose process is still alive.
    """
    if found is None:
        if resume == "must":
            raise UserError(f"resume='must' but the local store has no run {run_id!r}; "
                            "use resume='allow' to start it when it does not exist")
        return False
    if resume in (None, "never"):
        raise UserError(f"run {run_id!r} already exists in the local store (state "
                        f"{found.state}); pass resume='allow' (or 'must') to continue it, or "
                        "another id")
    if found.state == "running":
        where = f"process {found.pid} on {found.host}"
        if found.host == socket.gethostname() and found.pid == os.getpid():
            where = "this process"
        raise UserError(f"run {run_id!r} is still running ({where}); finish it before resuming")
    return True


@dataclass
class ResumePlan:
    """What ``wandbkit.init`` starts: a new run, or which fragment of a stored one."""

    run_id: str
    resume: str | None
    id_source: str  # new, argument, WANDBKIT_RUN_ID, slurm, file
    fragment: int = 0
    start_step: int = 0
    stored_config: dict[str, Any] = field(default_factory=dict)
    claim: Claim | None = None  # the store's claim on the id (see Store.claim_run)


def plan(run_id: str | None, resume: Any, store_dir: Path, new_id: Callable[[], str],
         project: str | None = None) -> ResumePlan:
    """Decide the run's id and whether it resumes one in the store at ``store_dir``.

    With a ``project`` (the store sink will write the run), a given id is claimed in the store
    atomically with the check (:meth:`wandbkit.store.Store.claim_run`): of two processes that
    start one id at the same moment, the second is refused while the first runs.

    :raises UserError: for a bad ``resume`` value or id, or a resume the mode forbids.
    """
    from wandbkit.store import DB_NAME, Store

    mode = check_resume(resume)
    source = "argument"
    if run_id is None and mode == "auto":
        run_id, source = id_from_environment()
    elif run_id is None:  # as wandb: $WANDB_RUN_ID names the run whatever the resume mode
        for variable in ENV_ID_VARIABLES:
            if os.environ.get(variable, "").strip():
                run_id, source = check_run_id(os.environ[variable].strip(), variable), variable
                break
    if run_id is None and mode == "must":
        raise UserError("resume='must' needs the id of the run to continue: pass id=...")
    if run_id is None:
        fresh = new_id()
        if mode == "auto":
            write_run_id_file(fresh)  # a restart of this job in this folder finds it
            return ResumePlan(fresh, mode, "file")
        return ResumePlan(fresh, mode, "new")
    check_run_id(run_id)
    resumed: list[bool] = []

    def rule(found: ResumeInfo | None) -> bool:
        resumed.append(decide(mode, run_id, found))
        return resumed[-1]

    claim = None
    if project is not None:
        found, claim = Store.open(store_dir).claim_run(run_id, project, rule)
    else:
        found = Store.open(store_dir, readonly=True).resume_info(run_id) \
            if (store_dir / DB_NAME).exists() else None
        rule(found)
    if not resumed[-1]:
        return ResumePlan(run_id, mode, source, claim=claim)
    assert found is not None
    return ResumePlan(run_id, mode, source, fragment=found.fragments,
                      start_step=found.last_step + 1, stored_config=found.config, claim=claim)


def release(plan: ResumePlan, store_dir: Path) -> None:
    """Give back the store's claim on a planned run that then failed to start."""
    from wandbkit.store import Store

    if plan.claim is not None:
        Store.open(store_dir).release_claim(plan.claim)
