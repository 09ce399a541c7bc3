"""One CSV writer for every export (``wandbkit export``, ``sweep show --csv``, the dashboard).

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (CSV injection). Such text cells get a leading ``'``; numbers, including
negative ones, are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` made safe to open in a spreadsheet: formula-like text is quoted with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def write_csv(out: Path | IO[str], header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``header`` and ``rows`` as CSV to a path or an open text file; returns the row
    count. Every cell goes through :func:`csv_cell`."""
    if isinstance(out, Path):
        with out.open("w", newline="", encoding="utf-8") as f:
            return write_csv(f, header, rows)
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        n += 1
    return n
