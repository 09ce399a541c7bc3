"""One place for wandbkit's messages to the person at the terminal (stderr, prefixed).

``warn_once`` remembers what it printed per *scope*: a run's id, so a second run in the same
process (a notebook, a sweep worker) reports its own NaN, dropped value or failing sink again.
The scope is passed explicitly, or set for a whole thread with :func:`set_thread_scope` (a run's
flusher thread sets its run's id); without either, the key is remembered for the process.
"""

from __future__ import annotations

import sys
import threading

_seen: set[tuple[str | None, str]] = set()
_lock = threading.Lock()
_local = threading.local()


def warn(message: str) -> None:
    """Print ``wandbkit: message`` to stderr."""
    print(f"wandbkit: {message}", file=sys.stderr, flush=True)


def set_thread_scope(scope: str | None) -> None:
    """Key this thread's ``warn_once`` calls by ``scope`` (a run id) unless they pass one."""
    _local.scope = scope


def warn_once(key: str, message: str, scope: str | None = None) -> bool:
    """Print ``message`` the first time ``key`` is seen in ``scope`` (default: the thread's
    scope, else the whole process); True if printed."""
    if scope is None:
        scope = getattr(_local, "scope", None)
    with _lock:
        if (scope, key) in _seen:
            return False
        _seen.add((scope, key))
    warn(message)
    return True
