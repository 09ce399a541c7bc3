"""``wandbkit export``: a run's history as CSV, one row per step, as W&B keeps it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandbkit.csvio import write_csv
from wandbkit.errors import UserError
from wandbkit.store import Store


def merged_steps(store: Store, run_id: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """One row per step, by W&B's rule for a run's history: rows logged at the same step one
    after another are merged (later values win); a row whose step is below the step before it
    is left out; and a resumed process continues after the last step stored before it
    started, so the steps it logs again are left out too. W&B ignores those rows ("Tried to
    log to step N that is less than the current step"), so the export shows what the run's
    W&B history shows: after a kill -9 and resume, the first process's rows of the
    overlapping steps.
    """
    starts = sorted(f["first_row"] for f in store.fragments(run_id)
                    if f["fragment"] > 0 and f.get("first_row") is not None)
    current: int | None = None  # W&B's current step: a row below it is left out
    highest: int | None = None  # the largest step so far
    pending: tuple[int, dict[str, Any]] | None = None  # the row being merged
    for number, (step, values) in enumerate(store.rows(run_id)):
        while starts and number >= starts[0]:  # a resumed process begins here
            starts.pop(0)
            if pending is not None:
                yield pending
                pending = None
            if highest is not None:
                current = highest + 1
        if current is not None and step < current:
            continue
        if pending is not None and step == pending[0]:
            pending[1].update(values)
            continue
        if pending is not None:
            yield pending
        pending, current = (step, dict(values)), step
        highest = step if highest is None else max(highest, step)
    if pending is not None:
        yield pending


def export_csv(store: Store, run_id: str, output: Path | None) -> int:
    """Write one row per step (columns: step, then every key, sorted; see
    :func:`merged_steps`); returns rows written.

    Through :func:`wandbkit.csvio.write_csv`, so a text cell a spreadsheet would run as a
    formula is quoted. NaN and Inf are written as ``nan``/``inf``, which spreadsheet tools and
    pandas read back."""
    keys = store.keys(run_id)
    table = ([step, *(values.get(k, "") for k in keys)] for step, values in merged_steps(store, run_id))
    if output is None:
        return write_csv(sys.stdout, ["step", *keys], table)
    try:
        return write_csv(Path(output), ["step", *keys], table)
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc}") from exc
