"""Process-level care for runs: the active run, interpreter exit, SIGTERM and fork.

- At interpreter exit the active run is finished with the exit code wandb 0.31 records for the
  same script: ``sys.exit(n)``'s ``n``, 1 for ``sys.exit("message")`` or an uncaught exception,
  255 for Ctrl-C, else 0. Like wandb, ``sys.exit`` is wrapped to learn its code: a
  ``SystemExit`` raised without it (``raise SystemExit(3)``, the ``exit()`` builtin) never
  reaches any hook and records 0. Inside ``with wandbkit.init(...)`` the ``with`` block ends the
  run first, with wandb's rule there: 1 for any exception, ``SystemExit`` included.
- On SIGTERM (what torchrun, Slurm and Kubernetes send) the run is finished with code 143 and
  the previous handler then runs, so the process still ends as it would have. With
  ``wandbkit.on_preempt`` (:mod:`wandbkit.preempt`), SIGTERM is a preemption notice instead:
  the run is saved and ends as ``preempted`` at the next safe point.
- In a forked child (DataLoader workers) the parent's run is detached: logging there is
  ignored with one warning, and the child's exit never finishes the parent's run.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wandbkit.run import Run

_lock = threading.Lock()
_current: Run | None = None
_installed = False
_previous_sigterm: Any = None
# The run that was active when an exception went uncaught (sys.excepthook): a script ends
# there, so that run finishes as failed at exit. In a REPL the session goes on; a run started
# afterwards did not fail because of it.
_uncaught: Run | None = None
_uncaught_code = 1
# The code the main thread passed to sys.exit while that run was active (wandb's exit hook).
_exit_call: tuple[Run, int] | None = None
CTRL_C_EXIT_CODE = 255  # what wandb records for a KeyboardInterrupt that ends the script


def exit_code_of(code: object) -> int:
    """The exit code wandb records for ``sys.exit(code)``: None is 0, an int is itself, any
    other object (a message) is 1 — also the process's own exit status."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def current() -> Run | None:
    """The active run of this process."""
    return _current


def remember(run: Run) -> None:
    """Make ``run`` the active run and install the exit handlers (once)."""
    global _current, _uncaught, _exit_call
    with _lock:
        _current = run
        _uncaught = None  # an earlier exception (REPL) is not this run's failure
        _exit_call = None
        _install()


def forget(run: Run) -> None:
    """Drop ``run`` if it is the active one."""
    global _current
    with _lock:
        if _current is run:
            _current = None


def _install() -> None:
    global _installed, _previous_sigterm
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(exc_type: type[BaseException], *args: Any) -> None:
        global _uncaught, _uncaught_code
        _uncaught = _current
        _uncaught_code = CTRL_C_EXIT_CODE if issubclass(exc_type, KeyboardInterrupt) else 1
        previous_hook(exc_type, *args)

    sys.excepthook = excepthook
    previous_exit = sys.exit

    def exit(code: object = None) -> Any:
        global _exit_call
        run = _current
        if run is not None and threading.current_thread() is threading.main_thread():
            _exit_call = (run, exit_code_of(code))
        return previous_exit(code)

    exit.__doc__ = previous_exit.__doc__
    sys.exit = exit
    os.register_at_fork(after_in_child=_after_fork_in_child)
    if threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(signal.SIGTERM)
        # wandbkit.on_preempt's handler stays: it defers to this one on a second signal
        preempt_handler = getattr(sys.modules.get("wandbkit.preempt"), "_on_signal", None)
        if handler is not signal.SIG_IGN and handler is not preempt_handler:
            _previous_sigterm = handler
            signal.signal(signal.SIGTERM, _on_sigterm)


def block_signals_in_this_thread() -> None:
    """Leave SIGTERM/SIGINT to the main thread.

    The kernel may deliver a process-wide signal to any thread that does not block it; if one
    of ours takes it, Python's handler waits until the main thread next runs bytecode, which can
    be the end of a long ``time.sleep`` or C call. Our background threads block both.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def _at_exit() -> None:
    run = _current
    if run is not None and run._owner_pid == os.getpid():
        ctrl_c = _uncaught is run and _uncaught_code == CTRL_C_EXIT_CODE  # not sys.exit(255)
        try:
            run.finish(exit_code=exit_code_at_exit(run))
        finally:
            if ctrl_c:
                _keep_ctrl_c_exit_status()


def _keep_ctrl_c_exit_status() -> None:
    # CPython ends a script that Ctrl-C stopped by SIGINT (status 130 in a shell) only while its
    # "unhandled KeyboardInterrupt" flag is set, and any code run from a string at exit (a
    # namedtuple built by a late import, in finish) clears it: the process would exit 1. A
    # KeyboardInterrupt leaving code run from a string sets it again.
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        pass


def exit_code_at_exit(run: Run) -> int:
    """The exit code to record for ``run`` when the interpreter exits with it still active."""
    if _uncaught is run:
        return _uncaught_code
    if _exit_call is not None and _exit_call[0] is run:
        return _exit_call[1]
    return 0


def _on_sigterm(signum: int, frame: Any) -> None:
    run = _current
    if run is not None and run._owner_pid == os.getpid() and run.report is None:
        run.finish(exit_code=128 + signum)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    global _current
    run = _current
    if run is not None:
        run._state = "forked"
    _current = None
