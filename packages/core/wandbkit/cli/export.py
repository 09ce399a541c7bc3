"""``wandbkit export``: a run's history as CSV."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandbkit.csvio import write_csv
from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.store import Store


def merged_steps(store: Store, run_id: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows logged at the same step one after another, merged (as W&B shows them)."""
    step: int | None = None
    merged: dict[str, Any] = {}
    for row_step, values in store.rows(run_id):
        if row_step != step and step is not None:
            yield step, merged
            merged = {}
        step = row_step
        merged.update(values)
    if step is not None:
        yield step, merged


def export_csv(store: Store, run_id: str, output: Path | None) -> int:
    """Write one row per step (columns: step, then every key, sorted); returns rows written.

    Through :func:`wandbkit.csvio.write_csv`, so a text cell a spreadsheet would run as a
    formula is quoted. NaN and Inf are written as ``nan``/``inf``, which spreadsheet tools and
    pandas read back."""
    keys = store.keys(run_id)
    rows = ([step, *(values.get(k, "") for k in keys)] for step, values in merged_steps(store, run_id))
    if output is None:
        return write_csv(sys.stdout, ["step", *keys], rows)
    try:
        return write_csv(output, ["step", *keys], rows)
    except OSError as exc:
        raise UserError(f"cannot write {output}: {first_line(exc)}") from exc
