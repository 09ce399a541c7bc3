"""The JSON-lines sink: one line per logged row (and per summary/config update or alert)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from wandbkit.sinks.base import AlertRecord, Sink
from wandbkit_jsonl.records import jsonable, jsonl_path

if TYPE_CHECKING:
    from wandbkit.rows import Row
    from wandbkit.run import Run


class JsonlSink(Sink):
    """Appends a run's rows to ``<store root>/jsonl/<run id>.jsonl``.

    Every line is an object with a ``type``: ``row`` (``step``, ``time``, ``values``),
    ``summary``, ``config`` or ``alert``. The file is flushed after each batch, so
    ``wandbkit jsonl-tail`` sees a run while it trains.
    """

    name = "jsonl"

    def __init__(self, store_root: Path) -> None:
        self.store_root = Path(store_root)
        self.path: Path | None = None
        self.file: IO[str] | None = None
        self.rows = 0

    def start(self, run: Run) -> None:
        """Open the run's file (runs on the flusher thread, not the training thread)."""
        self.path = jsonl_path(self.store_root, run.id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("a", encoding="utf-8")
        self._write({"type": "config", "values": dict(run.config)})

    def _write(self, record: dict[str, Any]) -> None:
        assert self.file is not None, "JsonlSink.start was not called"
        self.file.write(json.dumps(jsonable(record)) + "\n")

    def write(self, rows: list[Row]) -> None:
        """One line per row, then a flush so readers see the whole batch."""
        for row in rows:
            self._write({"type": "row", "step": row.step, "time": row.time, "values": row.values})
        assert self.file is not None
        self.file.flush()
        self.rows += len(rows)

    def update_summary(self, summary: dict[str, Any]) -> None:
        """Explicit summary values (``run.summary[k] = v``)."""
        self._write({"type": "summary", "values": summary})

    def update_config(self, config: dict[str, Any]) -> None:
        """Config updates (``run.config.update(...)``)."""
        self._write({"type": "config", "values": config})

    def alert(self, alert: AlertRecord) -> None:
        """Alerts raised with ``run.alert``."""
        self._write({"type": "alert", **asdict(alert)})

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Close the file; the report shows where it is."""
        if self.file is not None:
            self._write({"type": "finish", "exit_code": exit_code, "rows": self.rows})
            self.file.close()
            self.file = None
        return {"where": str(self.path)}
