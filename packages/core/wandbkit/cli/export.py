"""``wandbkit export``: a run's history as CSV."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from wandbkit.errors import UserError
from wandbkit.store import Store


def export_csv(store: Store, run_id: str, output: Path | None) -> int:
    """Write one row per step (columns: step, then every key, sorted); returns rows written."""
    keys = store.keys(run_id)
    try:
        handle = open(output, "w", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc}") from exc
    try:
        writer = csv.writer(handle)
        writer.writerow(["step", *keys])
        count = 0
        for step, values in store.rows(run_id):
            writer.writerow([step, *(values.get(k, "") for k in keys)])
            count += 1
    finally:
        if output:
            handle.close()
    return count
