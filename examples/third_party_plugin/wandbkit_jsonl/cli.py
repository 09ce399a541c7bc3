"""``wandbkit jsonl-tail RUN``: the last rows of a run's JSON-lines file."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import typer

from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_jsonl.records import jsonl_path


def read_rows(path: Path, last: int) -> list[dict[str, Any]]:
    """The last ``last`` row records of a JSON-lines file.

    :raises UserError: when a line is not JSON (the file is not one this plugin wrote).
    """
    rows: deque[dict[str, Any]] = deque(maxlen=last)
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number} is not a JSON line: {exc}") from exc
            if record.get("type") == "row":
                rows.append(record)
    return list(rows)


def format_row(record: dict[str, Any]) -> str:
    """``step 3  a=1  b/c=0.5``."""
    values = "  ".join(f"{k}={v}" for k, v in record.get("values", {}).items())
    return f"step {record.get('step')}  {values}".rstrip()


def jsonl_tail(run: str = typer.Argument(..., help="Run id, id prefix or name."),
               lines: int = typer.Option(10, "--lines", "-n", min=1, help="Rows to show."),
               as_json: bool = typer.Option(False, "--json", help="Print the raw JSON lines."),
               dir: Path | None = typer.Option(None, "--dir", envvar="WANDBKIT_DIR",
                                               help="Local store root.")) -> None:
    """Print the last rows a run wrote to its JSON-lines file."""
    store = Store.open(dir, create=False)
    record = store.get_run(run)
    path = jsonl_path(store.root, record.id)
    if not path.exists():
        raise UserError(f"run {record.id} has no JSON-lines file at {path} "
                        "(was wandbkit-jsonl installed when it ran?)")
    for row in read_rows(path, lines):
        typer.echo(json.dumps(row) if as_json else format_row(row))
