"""Preemption: when Slurm (or a spot-instance notice) signals, save at a safe point, end the run
as ``preempted`` and exit so the job can be requeued.

    wandbkit.on_preempt(lambda run: {"model": model, "optimizer": opt})

The signal handler only sets a flag. The work runs later, on the main thread, at the first
*safe point*, a moment where the training state is whole:

- ``wandbkit.check_preempt()`` (also ``run.preempt_point()``), wherever the loop calls it;
- ``CheckpointManager.save()`` of a manager made with ``preempt=True`` (wandbkit-artifacts): the
  step it is given is, by its contract, a complete state;
- ``run.log()`` on the main thread, unless such a manager is open (then the log call would come
  before the manager's save of the same step, with a half-finished step in memory).

There each callback runs: one that returns a dict of checkpoint fields (``model``,
``optimizer``, ``scheduler``, ``scaler``, ``extra``, ``name``, ``step``) has it saved through
the checkpoint hook with the alias ``preempt`` and waited for. Then W&B is told
(``mark_preempting``; offline it is a record in the run's file, uploaded by ``wandbkit sync``),
the run finishes in the state ``preempted`` (which waits for in-flight async saves), Slurm is
asked to requeue the job (SIGUSR1 under Slurm, with ``scontrol`` on the PATH), and the process
exits with ``128 + signal`` (138 for SIGUSR1, 143 for SIGTERM) or the code chosen.

A second signal before a safe point is reached ends the run at once (``preempted``, no
checkpoint) and then does what the signal did before.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from wandbkit.console import warn
from wandbkit.errors import UserError

if TYPE_CHECKING:
    from wandbkit.run import Run

DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1")
PREEMPT_ALIAS = "preempt"

# Read on the hot path (run.log): the signal number waiting for a safe point, 0 when none.
pending = 0
_callbacks: list[Callable[[Any], Any]] = []
_previous: dict[int, Any] = {}
_owners: dict[int, Any] = {}  # id -> object whose own call is the safe point (preempt managers)
_options: dict[str, Any] = {"exit": True, "exit_code": None, "requeue": "auto"}
_acting = threading.Lock()


def on_preempt(callback: Callable[[Any], Any] | None = None, *,
               signals: Iterable[str | int] = DEFAULT_SIGNALS, exit: bool = True,
               exit_code: int | None = None, requeue: bool | str = "auto") -> None:
    """Handle preemption signals: run ``callback(run)`` at the next safe point, then end the run
    as ``preempted`` and exit.

    :param callback: called with the active run (or None); may return a dict of checkpoint
        fields to save through the checkpoint hook with the alias ``preempt``. None only
        installs the handling (e.g. for a ``CheckpointManager(preempt=True)``).
    :param signals: signal names or numbers to treat as a preemption notice.
    :param exit: raise ``SystemExit`` after finishing the run (False: return from the safe
        point, and ``wandbkit.preempted()`` tells the loop to stop).
    :param exit_code: the exit status (default ``128 + signal``, as if the signal had killed it).
    :param requeue: ``"auto"``: run ``scontrol requeue`` for SIGUSR1 under Slurm; True: for any
        preemption signal under Slurm; False: never.
    :raises UserError: when called off the main thread or with an unknown signal.
    """
    if threading.current_thread() is not threading.main_thread():
        raise UserError("wandbkit.on_preempt must be called on the main thread (Python runs "
                        "signal handlers only there)")
    if requeue not in ("auto", True, False):
        raise UserError(f"requeue={requeue!r}: use 'auto', True or False")
    numbers = [_signal_number(s) for s in signals]
    if callback is not None and callback not in _callbacks:
        _callbacks.append(callback)
    _options.update(exit=exit, exit_code=exit_code, requeue=requeue)
    _options.pop("done", None)  # a new registration (a new run): signals count again
    install(numbers)


def install(signals: Iterable[str | int] = DEFAULT_SIGNALS) -> None:
    """Catch ``signals`` as preemption notices, keeping the options already set (what a
    ``CheckpointManager(preempt=True)`` calls).

    :raises UserError: off the main thread, or for an unknown signal.
    """
    if threading.current_thread() is not threading.main_thread():
        raise UserError("preemption handling must be set up on the main thread (Python runs "
                        "signal handlers only there)")
    for signum in [_signal_number(s) for s in signals]:
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        try:
            signal.signal(signum, _on_signal)
        except (OSError, ValueError) as exc:  # SIGKILL and SIGSTOP cannot be caught
            raise UserError(f"signal {signal.Signals(signum).name} cannot be handled: {exc}") from None
        _previous[signum] = current


def _signal_number(sig: str | int) -> int:
    try:
        if isinstance(sig, int):
            return int(signal.Signals(sig))
        name = sig.upper() if sig.upper().startswith("SIG") else "SIG" + sig.upper()
        return int(signal.Signals[name])
    except (KeyError, ValueError, AttributeError):
        raise UserError(f"unknown signal {sig!r} (e.g. SIGTERM, SIGUSR1, SIGUSR2)") from None


def claim_safe_point(owner: Any) -> None:
    """Make ``owner``'s own call the safe point (``run.log`` then no longer acts)."""
    _owners[id(owner)] = owner


def release_safe_point(owner: Any) -> None:
    """Undo :func:`claim_safe_point` (the manager finished)."""
    _owners.pop(id(owner), None)


def requested() -> bool:
    """True once a preemption signal has arrived (and until the process handles it)."""
    return pending != 0


def preempted() -> bool:
    """True after the run was ended as preempted in this process (for ``exit=False`` loops)."""
    return _options.get("done", False)


def _on_signal(signum: int, frame: Any) -> None:
    global pending
    if pending == 0 and not _options.get("done"):
        pending = signum
        try:
            warn(f"{signal.Signals(signum).name} received: saving and ending the run at the next "
                 "safe point (a second signal ends it at once)")
        except RuntimeError:  # the main thread was writing to stderr: a reentrant write
            pass
        return
    # A second signal: no safe point came in time. End the run now, then do what it did before.
    from wandbkit import lifecycle

    run = lifecycle.current()
    if run is not None and run._owner_pid == os.getpid() and run.report is None:
        run.finish(exit_code=128 + signum, state="preempted")
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def at_log_point() -> None:
    """``run.log``'s safe point: acts unless a manager owns the safe point or not on main."""
    if pending and not _owners and threading.current_thread() is threading.main_thread():
        act()


def check_preempt() -> bool:
    """A safe point: if a preemption signal arrived, save, end the run and exit (or return True
    when ``on_preempt(exit=False)``). Returns False when there is nothing to do."""
    if not pending or threading.current_thread() is not threading.main_thread():
        return False
    act()
    return True


def act(saved_by: Any = None) -> None:
    """Do the preemption now: callbacks (saves with alias ``preempt``), tell W&B, finish the run
    as ``preempted``, requeue, exit. ``saved_by``: the manager that just saved the preempt
    checkpoint itself."""
    global pending
    if not _acting.acquire(blocking=False):
        return  # a callback logged: we are already here
    try:
        signum = pending
        if not signum:
            return
        from wandbkit import lifecycle

        run = lifecycle.current()
        if run is not None and (run._owner_pid != os.getpid() or run.report is not None):
            run = None
        for callback in list(_callbacks):
            _run_callback(callback, run)
        code = _options["exit_code"]
        code = 128 + signum if code is None else int(code)
        if run is not None:
            run._mark_preempting()
            run.finish(exit_code=code, state="preempted")
        _options["done"] = True
        pending = 0
        _maybe_requeue(signum)
    finally:
        _acting.release()
    if _options["exit"]:
        raise SystemExit(code)


def _run_callback(callback: Callable[[Any], Any], run: Run | None) -> None:
    try:
        fields = callback(run)
        if fields is None:
            return
        if not isinstance(fields, dict):
            raise UserError(f"a preempt callback returned {type(fields).__name__}; return None "
                            "or a dict of checkpoint fields (model, optimizer, ...)")
        from wandbkit.checkpointing import save_checkpoint

        fields = dict(fields)
        step = fields.pop("step", run.step if run is not None else 0)
        aliases = [*fields.pop("aliases", []), PREEMPT_ALIAS]
        result = save_checkpoint(step, run=run, aliases=aliases, force=True, **fields)
        wait = getattr(result, "wait", None)
        if callable(wait):
            wait()  # the checkpoint is whole on disk before the run ends
    except SystemExit:
        raise
    except Exception as exc:
        warn(f"preempt callback {getattr(callback, '__name__', callback)!r} failed: "
             f"{type(exc).__name__}: {exc}; ending the run anyway")


def _maybe_requeue(signum: int) -> None:
    from wandbkit.resume import slurm_run_id

    mode = _options["requeue"]
    job = slurm_run_id()
    if not mode or job is None or (mode == "auto" and signum != signal.SIGUSR1):
        return
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        warn(f"not requeueing Slurm job {job}: scontrol is not on the PATH")
        return
    proc = subprocess.run([scontrol, "requeue", job], capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode:
        warn(f"scontrol requeue {job} failed ({proc.returncode}): "
             f"{(proc.stderr or proc.stdout).strip()[:300]}")
    else:
        warn(f"Slurm job {job} requeued")


def reset() -> None:
    """Forget callbacks and restore the previous handlers (tests, or a loop that is done)."""
    global pending
    for signum, previous in _previous.items():
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    _previous.clear()
    _callbacks.clear()
    _owners.clear()
    _options.clear()
    _options.update(exit=True, exit_code=None, requeue="auto")
    pending = 0
