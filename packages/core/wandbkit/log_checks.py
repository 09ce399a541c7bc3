"""What ``run.log`` refuses in a row, and how a refused or dropped value is reported.

The rules follow ``wandb.log`` (wandb 0.31 refuses a key that is not a string) plus what would
make the two sinks disagree: an empty key, ``_step`` (W&B drops it: the step is ``log``'s
``step=``), a key that names no text SQLite or W&B can store (a lone surrogate), and one key
given twice in a row once nested dicts are flattened (``{"a/b": 1, "a": {"b": 2}}``). Long
keys, unicode, ``/`` and ``..`` are accepted, as wandb accepts them; files made from them are
named safely by the sinks.

A refused key is dropped with one warning line naming it and the rule; the rest of the row is
kept. Each (key, rule) is reported once per run.
"""

from __future__ import annotations

from typing import Any

from wandbkit.console import warn_once
from wandbkit.formatting import first_line

RESERVED_KEYS = frozenset({"_step"})

NOT_A_STRING = "keys must be strings (as wandb.log requires)"
EMPTY = "keys must not be empty"
RESERVED = "'_step' is reserved: pass the step as log(..., step=N)"
NOT_TEXT = "keys must be valid unicode text (this one holds a lone surrogate)"
TWICE = "the key is given twice in one row once nested dicts are flattened; the first value is kept"


def key_problem(key: object) -> str | None:
    """The rule ``key`` (one level of a logged dict) breaks, or None when it is fine."""
    if not isinstance(key, str):
        return NOT_A_STRING
    if not key:
        return EMPTY
    if key in RESERVED_KEYS:
        return RESERVED
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return NOT_TEXT
    return None


def needs_checking(values: dict[Any, Any]) -> bool:
    """Cheap test for the hot path: False only when every key is certainly fine."""
    if "" in values or "_step" in values:
        return True
    for key in values:
        if key.__class__ is not str or not key.isascii():
            return True
    return False


def report_rejected(run_id: str | None, key: object, rule: str) -> None:
    """One warning line, once per run, for a key ``log`` dropped."""
    warn_once(f"log-key:{rule}:{key!r}", f"log(): key {_short(key)} dropped: {rule}", scope=run_id)


def report_dropped(key: str, step: int | None, where: str, exc: BaseException,
                   scope: str | None = None) -> None:
    """One warning line, once per run and key, for a value that failed in ``where`` (the
    converter or a sink); the rest of its row and batch went on."""
    warn_once(f"dropped:{where}:{key!r}",
              f"{where}: value {_short(key)}{'' if step is None else f' at step {step}'} dropped "
              f"({type(exc).__name__}: {first_line(exc)}); the rest of the row is kept "
              "(reported once per key)", scope=scope)


def _short(key: object) -> str:
    """The key as Python writes it (quotes, escapes), long ones cut."""
    text = repr(key)
    if len(text) <= 80:
        return text
    length = len(key) if isinstance(key, str) else len(text)
    return f"{text[:60]}…' ({length} characters)"
