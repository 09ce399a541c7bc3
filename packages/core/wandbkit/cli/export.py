"""``wandbkit export``: a run's history as CSV."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandbkit.errors import UserError
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

    NaN and Inf are written as ``nan``/``inf``, which spreadsheet tools and pandas read back."""
    keys = store.keys(run_id)
    try:
        handle = open(output, "w", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc}") from exc
    try:
        writer = csv.writer(handle)
        writer.writerow(["step", *keys])
        count = 0
        for step, values in merged_steps(store, run_id):
            writer.writerow([step, *(values.get(k, "") for k in keys)])
            count += 1
    finally:
        if output:
            handle.close()
    return count
