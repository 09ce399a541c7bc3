"""One place for wandbkit's messages to the person at the terminal (stderr, prefixed)."""

from __future__ import annotations

import sys
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def warn(message: str) -> None:
    """Print ``wandbkit: message`` to stderr."""
    print(f"wandbkit: {message}", file=sys.stderr, flush=True)


def warn_once(key: str, message: str) -> bool:
    """Print ``message`` the first time ``key`` is seen in this process; True if printed."""
    with _lock:
        if key in _seen:
            return False
        _seen.add(key)
    warn(message)
    return True
