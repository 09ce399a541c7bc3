"""Small formatters every package shows the user the same way."""

from __future__ import annotations


def human_size(n: float) -> str:
    """Bytes as W&B shows them: decimal units (``1.5 kB`` is 1,500 bytes)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def first_line(exc: BaseException) -> str:
    """An exception's first non-empty line, or its type's name when it has no message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
