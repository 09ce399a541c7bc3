"""The local store sink: rows, summary, config, media and alerts into SQLite + files."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.history_columns import pack_batch
from wandbkit.history_tables import row_total
from wandbkit.log_checks import report_dropped
from wandbkit.media import MEDIA_TYPES, Audio, CustomChart, Histogram, Html, Image, Plotly, Video
from wandbkit.metric_summary import SCHEMA, SCHEMA_COMPONENT, MetricSummaries, save_definition
from wandbkit.paths import safe_filename
from wandbkit.sinks.base import AlertRecord, MetricDefinition, Sink
from wandbkit.store import Store, dumps, now

if TYPE_CHECKING:
    from wandbkit.saved_files import SavedFiles

# Notes are kept beside the runs table (a component of their own, so the core schema stays as is).
NOTES_COMPONENT = "run_notes"
NOTES_SCHEMA = ["CREATE TABLE run_notes (run_id TEXT PRIMARY KEY, notes TEXT)"]

if TYPE_CHECKING:
    import sqlite3

    from wandbkit.rows import Row
    from wandbkit.run import Run


class LocalStoreSink(Sink):
    """Writes a run into the local store; one transaction per batch."""

    name = "store"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run_id = ""
        self.conn: sqlite3.Connection | None = None
        self.summary: dict[str, Any] = {}
        self.explicit_summary: dict[str, Any] = {}
        self.metrics = MetricSummaries()  # define_metric's aggregates
        self._first_step_kept = False
        self.media_dir = root / "media"
        self.run: Run | None = None
        self.saved_later: list[SavedFiles] = []  # policy live/end: copied again at the end
        self.next_seq = 0  # the run-wide number of the next history row

    def start(self, run: Run) -> None:
        """Create the run's record (state ``running``)."""
        store = Store.open(self.root)
        self.conn = store.connect()
        self.run_id = run.id
        self.media_dir = self.root / "media" / run.id
        s = run.settings
        self.run = run
        if s.fragment:
            self._resume(run)
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO runs (id, project, name, group_name, tags, state,"
                " started_at, config, summary, host, pid, wandb_mode, heartbeat_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.id, s.project, s.name, s.group, json.dumps(list(s.tags)), "running",
                 run.started_at, dumps(dict(run.config)), "{}", socket.gethostname(),
                 os.getpid(), s.wandb_mode, now()))
        notes = (getattr(s, "wandb_init", None) or {}).get("notes")
        if notes:
            self._set_notes(notes)
        self.next_seq = row_total(self.conn, run.id, legacy=False)  # a resumed run's rows go on
        self.conn.execute(
            "INSERT OR REPLACE INTO run_fragments (run_id, fragment, started_at, state, host, pid,"
            " start_step, wandb_mode, first_row) VALUES (?,?,?,?,?,?,?,?,?)",
            (run.id, s.fragment, run.started_at, "running", socket.gethostname(), os.getpid(),
             s.start_step, s.wandb_mode, self.next_seq))

    def _resume(self, run: Run) -> None:
        """Continue the stored run: running again here, config merged, summary kept."""
        assert self.conn is not None
        s = run.settings
        row = self.conn.execute("SELECT config, summary, tags FROM runs WHERE id=?",
                                (run.id,)).fetchone()
        config = {**json.loads(row[0]), **dict(run.config)} if row else dict(run.config)
        self.summary = json.loads(row[1]) if row else {}
        tags = list(dict.fromkeys([*(json.loads(row[2]) if row else []), *s.tags]))
        self.conn.execute(
            "UPDATE runs SET state='running', finished_at=NULL, exit_code=NULL, config=?, tags=?,"
            " host=?, pid=?, wandb_mode=?, heartbeat_at=?, resumed=?,"
            " name=COALESCE(?, name), group_name=COALESCE(?, group_name) WHERE id=?",
            (dumps(config), json.dumps(tags), socket.gethostname(), os.getpid(), s.wandb_mode,
             now(), s.fragment, s.name, s.group, run.id))

    def _keep_first_step(self, step: int) -> None:
        """The process's first logged step, as its fragment's ``start_step``: a job restarted
        from an earlier checkpoint logs from there, not from after the last stored step."""
        assert self.conn is not None and self.run is not None
        self.conn.execute("UPDATE run_fragments SET start_step=? WHERE run_id=? AND fragment=?",
                          (step, self.run_id, self.run.settings.fragment))
        self._first_step_kept = True

    def heartbeat(self) -> None:
        """Say the run's process is alive (how a run on another host is told from a crashed one)."""
        if self.conn is not None:
            self.conn.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (now(), self.run_id))

    def write(self, rows: list[Row]) -> None:
        """One batch in one transaction: its numbers as packed columns, its other values as
        residue rows, media as files + index rows (see :mod:`wandbkit.history_columns`)."""
        assert self.conn is not None
        if not self._first_step_kept and rows:
            self._keep_first_step(rows[0].step)
        packed = pack_batch(self.run_id, self.next_seq, rows, MEDIA_TYPES)
        media = self._media_rows(rows, packed.media)
        new_keys = [(self.run_id, key) for key in packed.keys if key not in self.summary]
        for values in packed.last_values:  # each key's last value, as the rows came
            self.summary.update(values)
        if self.metrics.definitions:
            for row in rows:
                for key, value in row.values.items():
                    if not isinstance(value, MEDIA_TYPES):
                        self.metrics.observe(key, value)
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany("INSERT INTO history_columns (run_id, key, n, steps, times,"
                                  " vals, seq, kind, rows, step_max) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                  packed.chunks)
            if packed.residues:
                self.conn.executemany("INSERT INTO history (run_id, step, time, data, seq)"
                                      " VALUES (?,?,?,?,?)", packed.residues)
            if new_keys:
                self.conn.executemany("INSERT OR IGNORE INTO run_keys VALUES (?,?)", new_keys)
            if media:
                self.conn.executemany("INSERT INTO media VALUES (?,?,?,?,?,?,?)", media)
            self.conn.execute("UPDATE runs SET summary=?, heartbeat_at=? WHERE id=?",
                              (dumps(self._summary()), now(), self.run_id))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.next_seq += packed.rows

    def _media_rows(self, rows: list[Row], found: list[tuple[int, str, Any]]) -> list[tuple[Any, ...]]:
        """The media index rows of a batch, ``found`` as ``(index in rows, key, value)``; each
        value's file is written here."""
        out = []
        for i, key, value in found:
            try:
                out.append(self._media_row(rows[i], key, value))
            except Exception as exc:  # this value alone: the row and batch go on
                report_dropped(key, rows[i].step, "sink store", exc)
        return out

    def _media_row(self, row: Row, key: str, value: Any) -> tuple[Any, ...]:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = None
        if isinstance(value, _FILE_MEDIA):
            path = self._media_path(key, row.step, _extension(value))
            _write_file(value, path)
        if isinstance(value, Image):
            meta: dict[str, Any] = {"caption": value.caption, "shape": list(value.pixels.shape)}
            kind = "image"
        elif isinstance(value, Histogram):
            meta = value.to_dict()
            kind = "histogram"
        elif isinstance(value, (Audio, Video)):
            kind = "audio" if isinstance(value, Audio) else "video"
            meta = {"caption": value.caption, "format": value.format, "bytes": len(value.encoded)}
            meta.update({"sample_rate": value.sample_rate} if isinstance(value, Audio)
                        else {"fps": value.fps})
        elif isinstance(value, Plotly):
            kind, meta = "plotly", {"traces": len(value.spec.get("data") or [])}
        elif isinstance(value, Html):
            kind, meta = "html", {"bytes": len(value.html.encode("utf-8"))}
        elif isinstance(value, CustomChart):
            path = self._media_path(key, row.step, ".chart.json")
            table = value.table
            path.write_text(dumps({
                "spec_name": value.spec_name, "fields": value.fields,
                "string_fields": value.string_fields, "split_table": value.split_table,
                "columns": table.columns, "data": self._cells(table, path.name[:-len(".chart.json")])}))
            kind = "chart"
            meta = {"spec_name": value.spec_name, "columns": table.columns, "rows": len(table.data)}
        else:
            path = self._media_path(key, row.step, ".table.json")
            path.write_text(dumps({"columns": value.columns,
                                   "data": self._cells(value, path.name[:-len(".table.json")])}))
            meta = {"columns": value.columns, "rows": len(value.data)}
            kind = "table"
        rel = str(path.relative_to(self.root)) if path else None
        return (self.run_id, row.step, key, kind, rel, dumps(meta), row.time)

    def _cells(self, table: Any, stem: str) -> list[list[Any]]:
        """A table's rows with each media cell written to its own file beside the table and
        described as ``{"_type": "image-file", "path": ...}`` (path relative to the store)."""
        out = []
        for i, row in enumerate(table.data):
            cells = []
            for j, cell in enumerate(row):
                if isinstance(cell, _FILE_MEDIA):
                    cells.append(self._cell_file(cell, f"{stem}_r{i}c{j}"))
                else:
                    cells.append(cell)
            out.append(cells)
        return out

    def _cell_file(self, cell: Any, stem: str) -> dict[str, Any]:
        path = self.media_dir / f"{stem}{_extension(cell)}"
        _write_file(cell, path)
        described: dict[str, Any] = {"_type": _CELL_TYPES[type(cell)]}
        if isinstance(cell, (Image, Audio, Video)):
            described["caption"] = cell.caption
        described["path"] = str(path.relative_to(self.root))
        return described
    def _media_path(self, key: str, step: int, ext: str) -> Path:
        """``media/<run>/<key>_<step><ext>`` with the key as one reversible file name (``a/b``
        and ``a__b`` differ), and ``-1``, ``-2``… when the key was logged twice at a step."""
        stem = f"{safe_filename(key)}_{step}"
        path = self.media_dir / f"{stem}{ext}"
        n = 0
        while path.exists():
            n += 1
            path = self.media_dir / f"{stem}-{n}{ext}"
        return path

    def update_summary(self, summary: dict[str, Any]) -> None:
        """Explicit summary values override the last-logged ones."""
        assert self.conn is not None
        self.explicit_summary.update(summary)
        self.conn.execute("UPDATE runs SET summary=? WHERE id=?",
                          (dumps(self._summary()), self.run_id))

    def update_config(self, config: dict[str, Any]) -> None:
        """Merge into the stored config."""
        assert self.conn is not None
        row = self.conn.execute("SELECT config FROM runs WHERE id=?", (self.run_id,)).fetchone()
        merged = {**json.loads(row[0]), **config} if row else dict(config)
        self.conn.execute("UPDATE runs SET config=? WHERE id=?", (dumps(merged), self.run_id))

    def alert(self, alert: AlertRecord) -> None:
        """Keep the alert in the ``alerts`` table."""
        assert self.conn is not None
        self.conn.execute("INSERT INTO alerts VALUES (?,?,?,?,?,?)",
                          (self.run_id, alert.step, alert.level, alert.title, alert.text,
                           alert.time or now()))

    def _summary(self) -> dict[str, Any]:
        return {**self.metrics.apply(self.summary), **self.explicit_summary}

    def define_metric(self, definition: MetricDefinition) -> None:
        """Keep the definition and aggregate the values of the keys it covers from now on."""
        assert self.conn is not None
        if not self.metrics.definitions:
            Store(self.root).ensure_schema(SCHEMA_COMPONENT, SCHEMA)
        self.metrics.define(definition)
        save_definition(self.conn, self.run_id, definition)
        if self.run is not None and self.run.settings.fragment:
            self._continue_aggregates()

    def _continue_aggregates(self) -> None:
        """A resumed run: the aggregates go on from the values earlier processes logged."""
        assert self.run is not None
        self.metrics.continue_from(Store(self.root), self.run_id, self.run.started_at)

    def on_link(self, source: str, info: dict[str, Any]) -> None:
        """Record where W&B keeps this run, once the W&B sink knows."""
        if self.conn is None or source != "wandb":
            return
        self.conn.execute(
            "UPDATE runs SET wandb_mode=?, wandb_id=?, wandb_path=?, wandb_url=?, wandb_dir=?"
            " WHERE id=?",
            (info.get("mode"), info.get("id"), info.get("path"), info.get("url"),
             info.get("dir"), self.run_id))
        self.conn.execute("UPDATE run_fragments SET wandb_mode=?, wandb_dir=? WHERE run_id=?"
                          " AND fragment=?", (info.get("mode"), info.get("dir"), self.run_id,
                                              self.run.settings.fragment))

    def update_run(self, info: dict[str, Any]) -> None:
        """Keep a name, tags or notes set after ``init``."""
        assert self.conn is not None
        if "name" in info:
            self.conn.execute("UPDATE runs SET name=? WHERE id=?", (info["name"], self.run_id))
        if "tags" in info:
            self.conn.execute("UPDATE runs SET tags=? WHERE id=?",
                              (json.dumps(list(info["tags"])), self.run_id))
        if "notes" in info:
            self._set_notes(info["notes"])

    def _set_notes(self, notes: str | None) -> None:
        assert self.conn is not None
        Store(self.root).ensure_schema(NOTES_COMPONENT, NOTES_SCHEMA)
        self.conn.execute("INSERT OR REPLACE INTO run_notes VALUES (?,?)", (self.run_id, notes))

    def save_files(self, saved: SavedFiles) -> None:
        """Copy saved files to ``<store>/files/<run id>/`` and list them as the run's ``file``
        media (policy ``end`` copies only at the end, ``live`` now and again at the end)."""
        if saved.policy != "now":
            self.saved_later.append(saved)
        if saved.policy != "end":
            self._copy_saved(saved)

    def _copy_saved(self, saved: SavedFiles) -> None:
        from wandbkit.saved_files import copy_saved

        assert self.conn is not None
        step = self.run.step if self.run is not None else 0
        for (_, name), path in zip(saved.files, copy_saved(saved, self.root / "files" / self.run_id),
                                   strict=True):
            rel = str(path.relative_to(self.root))
            self.conn.execute("DELETE FROM media WHERE run_id=? AND kind='file' AND key=?",
                              (self.run_id, name))
            self.conn.execute("INSERT INTO media VALUES (?,?,?,?,?,?,?)",
                              (self.run_id, max(step, 0), name, "file", rel,
                               dumps({"policy": saved.policy, "bytes": path.stat().st_size}), now()))

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Mark the run finished, failed or preempted (``run.final_state``) and close."""
        assert self.conn is not None
        for saved in self.saved_later:
            try:
                self._copy_saved(saved)
            except OSError as exc:  # a file removed since save(): the earlier copy stays
                from wandbkit.console import warn

                warn(f"save: could not copy {saved.files[0][0]} at the end of the run: {exc}")
        state = getattr(self.run, "final_state", None) or ("finished" if exit_code == 0 else "failed")
        when = now()
        self.conn.execute("UPDATE runs SET state=?, finished_at=?, exit_code=?, heartbeat_at=?"
                          " WHERE id=?", (state, when, exit_code, when, self.run_id))
        self.conn.execute("UPDATE run_fragments SET state=?, finished_at=?, exit_code=?"
                          " WHERE run_id=? AND fragment=?",
                          (state, when, exit_code, self.run_id, self.run.settings.fragment))
        self.conn.close()
        self.conn = None
        return {"where": str(self.root)}


# Media that are one file each, in the store as in a table cell.
_FILE_MEDIA = (Image, Audio, Video, Plotly, Html)
_CELL_TYPES = {Image: "image-file", Audio: "audio-file", Video: "video-file", Html: "html-file",
               Plotly: "plotly-file"}


def _extension(value: Any) -> str:
    """The file extension of a one-file media value."""
    if isinstance(value, Image):
        return ".png"
    if isinstance(value, (Audio, Video)):
        return f".{value.format}"
    return ".plotly.json" if isinstance(value, Plotly) else ".html"


def _write_file(value: Any, path: Path) -> None:
    """Write a one-file media value: an image as PNG, audio/video as encoded, a plotly chart as
    its JSON, an HTML page as given (W&B's copy gets wandb's head)."""
    if isinstance(value, Image):
        value.to_pil().save(path)
    elif isinstance(value, (Audio, Video)):
        path.write_bytes(value.encoded)
    elif isinstance(value, Plotly):
        path.write_text(dumps(value.spec))
    else:
        path.write_text(value.html, encoding="utf-8")
