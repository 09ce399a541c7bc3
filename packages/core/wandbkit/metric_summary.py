"""``define_metric`` in the local store: summary aggregates per key, and the definitions kept.

A run's summary holds each key's last value by default. A definition with ``summary="min"``
(or ``max``, ``mean``, ``first``, ``last``, or a list) replaces that value with
``{"min": v, ...}``, the shape W&B's summary has; ``summary="none"`` leaves the key out.
Definitions are kept in a table of their own (``metric_definitions``) so ``wandbkit show``
and the dashboard can list them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from wandbkit.sinks.base import MetricDefinition

if TYPE_CHECKING:
    import sqlite3

    from wandbkit.store import Store

SCHEMA_COMPONENT = "metric_definitions"
SCHEMA: list[str] = [
    """
    CREATE TABLE metric_definitions (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        step_metric TEXT,
        summary TEXT NOT NULL DEFAULT '[]',
        goal TEXT,
        hidden INTEGER,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID
    """,
]


class _Aggregate:
    __slots__ = ("count", "first", "last", "max", "min", "total")

    def __init__(self, value: float) -> None:
        self.first = self.last = self.min = self.max = value
        self.total = value
        self.count = 1

    def add(self, value: float) -> None:
        self.last = value
        if value < self.min or math.isnan(self.min):
            self.min = value
        if value > self.max or math.isnan(self.max):
            self.max = value
        self.total += value
        self.count += 1

    def get(self, kind: str) -> float:
        return self.total / self.count if kind == "mean" else getattr(self, kind)


class MetricSummaries:
    """Aggregates per key for the keys that a definition with a summary covers."""

    def __init__(self) -> None:
        self.definitions: list[MetricDefinition] = []
        self._for_key: dict[str, MetricDefinition | None] = {}
        self._aggregates: dict[str, _Aggregate] = {}
        self._continued: set[str] = set()  # keys whose aggregates already took earlier values

    def continue_from(self, store: Store, run_id: str, before: float) -> None:
        """A resumed run: the aggregates of the keys a definition covers go on from the numbers
        earlier processes of ``run_id`` logged in ``store`` before ``before`` (this process's
        start); each key once, however many definitions arrive."""
        keys = [k for k in store.keys(run_id) if k not in self._continued
                and self.definition(k) is not None]
        for key, (_steps, times, values) in store.series(run_id, keys).items():
            self.seed(key, values[times < before].tolist())
        self._continued.update(keys)

    def define(self, definition: MetricDefinition) -> None:
        """Add (or replace, by name) a definition; it applies to values observed from now on."""
        self.definitions = [d for d in self.definitions if d.name != definition.name]
        self.definitions.append(definition)
        self._for_key.clear()

    def definition(self, key: str) -> MetricDefinition | None:
        """The definition covering ``key`` (an exact name wins over a glob), or None."""
        if key not in self._for_key:
            exact = [d for d in self.definitions if d.name == key]
            globs = [d for d in self.definitions if d.name.endswith("*") and d.matches(key)]
            found = (exact or sorted(globs, key=lambda d: -len(d.name)) or [None])[0]
            self._for_key[key] = found if found is not None and found.summary else None
        return self._for_key[key]

    def observe(self, key: str, value: Any) -> None:
        """Take one logged value of ``key`` into its aggregates (numbers only)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if self.definition(key) is None:
            return
        aggregate = self._aggregates.get(key)
        if aggregate is None:
            self._aggregates[key] = _Aggregate(float(value))
        else:
            aggregate.add(float(value))

    def seed(self, key: str, values: Iterable[float]) -> None:
        """Continue ``key``'s aggregates from values an earlier process of the run logged
        (a resumed run), in the order they were logged, before the values observed here."""
        if self.definition(key) is None:
            return
        earlier: _Aggregate | None = None
        for value in values:
            if earlier is None:
                earlier = _Aggregate(float(value))
            else:
                earlier.add(float(value))
        if earlier is None:
            return
        later = self._aggregates.get(key)
        if later is not None:  # values of this process came first: append them
            earlier.last = later.last
            earlier.min = min(earlier.min, later.min)
            earlier.max = max(earlier.max, later.max)
            earlier.total += later.total
            earlier.count += later.count
        self._aggregates[key] = earlier

    def apply(self, summary: dict[str, Any]) -> dict[str, Any]:
        """``summary`` (key -> last value) with defined keys replaced by their aggregates."""
        if not self.definitions:
            return summary
        out = dict(summary)
        for key in summary:
            definition = self.definition(key)
            if definition is None:
                continue
            if "none" in definition.summary:
                del out[key]
                continue
            aggregate = self._aggregates.get(key)
            if aggregate is not None:
                out[key] = {kind: aggregate.get(kind) for kind in definition.summary}
        return out


def save_definition(conn: sqlite3.Connection, run_id: str, definition: MetricDefinition) -> None:
    """Keep ``definition`` for ``run_id`` (replacing one of the same name)."""
    conn.execute("INSERT OR REPLACE INTO metric_definitions VALUES (?,?,?,?,?,?)",
                 (run_id, definition.name, definition.step_metric, json.dumps(definition.summary),
                  definition.goal, None if definition.hidden is None else int(definition.hidden)))


def load_definitions(store: Store, run_id: str) -> list[MetricDefinition]:
    """The metric definitions a run made, in name order (none for stores without the table)."""
    conn = store.connect()
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                              "name='metric_definitions'").fetchone()
        if not exists:
            return []
        rows = conn.execute("SELECT name, step_metric, summary, goal, hidden FROM "
                            "metric_definitions WHERE run_id=? ORDER BY name", (run_id,)).fetchall()
    finally:
        conn.close()
    return [MetricDefinition(name, step_metric, json.loads(summary), goal,
                             None if hidden is None else bool(hidden))
            for name, step_metric, summary, goal, hidden in rows]


REC_METRIC = 12  # the ``metric`` field of W&B's transaction-log Record


def metric_record_body(definition: MetricDefinition) -> bytes:
    """The ``MetricRecord`` W&B writes for ``define_metric`` (for writers of W&B's log)."""
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.MetricRecord(step_metric=definition.step_metric or "")
    if definition.name.endswith("*"):
        record.glob_name = definition.name
    else:
        record.name = definition.name
    record.options.defined = True
    if definition.step_sync or (definition.step_metric and definition.step_sync is None):
        record.options.step_sync = True
    if definition.hidden:
        record.options.hidden = True
    for kind in definition.summary:
        setattr(record.summary, kind, True)
    if definition.goal:
        record.goal = {"minimize": 1, "maximize": 2}[definition.goal]
    return record.SerializeToString()
