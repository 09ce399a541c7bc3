"""The local store: one SQLite database (WAL mode) plus media files under one folder.

It holds runs, config, the full metric history, summaries, media, alerts, and whatever tables
plugins add through :meth:`Store.ensure_schema` (checkpoint versions, sweep trials). Several
processes may write at once (sweep workers, DDP ranks): each opens its own connection, WAL lets
readers run beside the writer, and a generous busy timeout serialises writers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandbkit.errors import UserError

DB_NAME = "wandbkit.db"
DEFAULT_DIRNAME = "wandbkit-runs"
BUSY_TIMEOUT_S = 60.0

# The core schema, one entry per version. Never edit a shipped entry: append a new one.
# History keeps one row per logged row, its scalars as a JSON object (NaN and Infinity written
# as JSON5-style literals that Python's json reads back). One insert per row instead of one per
# value is 5-15x faster to write (measured: 56k vs 11k rows/s of 10 scalars); readers pick
# keys in Python, and run_keys lists a run's keys without parsing its history.
CORE_MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        name TEXT,
        group_name TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        exit_code INTEGER,
        config TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}',
        host TEXT,
        pid INTEGER,
        wandb_mode TEXT,
        wandb_id TEXT,
        wandb_path TEXT,
        wandb_url TEXT,
        wandb_dir TEXT
    );
    CREATE INDEX runs_project ON runs(project, started_at);
    CREATE TABLE history (
        run_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        time REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX history_run_step ON history(run_id, step);
    CREATE TABLE run_keys (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE media (
        run_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        time REAL NOT NULL
    );
    CREATE INDEX media_run ON media(run_id, key, step);
    CREATE TABLE alerts (
        run_id TEXT NOT NULL,
        step INTEGER,
        level TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX alerts_run ON alerts(run_id, time);
    """,
    # v2: remember which offline runs were uploaded by `wandbkit sync`.
    "ALTER TABLE runs ADD COLUMN synced_at REAL",
]


def default_root() -> Path:
    """``$WANDBKIT_DIR`` or ``./wandbkit-runs`` (a name Python never mistakes for a package)."""
    env = os.environ.get("WANDBKIT_DIR")
    return Path(env).expanduser() if env else Path.cwd() / DEFAULT_DIRNAME


@dataclass
class RunRecord:
    """One row of the ``runs`` table, decoded."""

    id: str
    project: str
    name: str | None
    group: str | None
    tags: list[str]
    state: str
    started_at: float
    finished_at: float | None
    exit_code: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    host: str | None
    pid: int | None
    wandb_mode: str | None
    wandb_id: str | None
    wandb_path: str | None
    wandb_url: str | None
    wandb_dir: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the shape ``wandbkit runs --json`` prints)."""
        return dict(self.__dict__)


def _decode_run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"], project=row["project"], name=row["name"], group=row["group_name"],
        tags=json.loads(row["tags"]), state=row["state"], started_at=row["started_at"],
        finished_at=row["finished_at"], exit_code=row["exit_code"],
        config=json.loads(row["config"]), summary=json.loads(row["summary"]),
        host=row["host"], pid=row["pid"], wandb_mode=row["wandb_mode"],
        wandb_id=row["wandb_id"], wandb_path=row["wandb_path"], wandb_url=row["wandb_url"],
        wandb_dir=row["wandb_dir"],
    )


def dumps(obj: Any) -> str:
    """JSON that keeps NaN/Inf (as ``NaN``/``Infinity`` literals) and odd types (as repr)."""
    return json.dumps(obj, allow_nan=True, default=repr)


class Store:
    """A local store rooted at one folder. Cheap to create; opens connections on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / DB_NAME

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Store:
        """Open (and by default create) the store at ``path`` or :func:`default_root`.

        :raises UserError: when the folder cannot be created or the database cannot be read.
        """
        root = Path(path).expanduser() if path else default_root()
        if not create and not (root / DB_NAME).exists():
            raise UserError(f"no wandbkit store at {root} (set WANDBKIT_DIR or pass --dir)")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the store folder {root}: {exc}") from exc
        store = cls(root)
        store.ensure_schema("core", CORE_MIGRATIONS)
        return store

    def connect(self) -> sqlite3.Connection:
        """A new connection in WAL mode with a busy timeout; one per thread.

        :raises UserError: when the file is not a readable SQLite database.
        """
        try:
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            _enable_wal(conn)
            # NORMAL is durable across process crashes in WAL mode (only an OS crash can lose
            # the last transactions) and avoids an fsync per batch.
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot read the wandbkit store {self.db_path}: {exc}") from exc

    def ensure_schema(self, component: str, migrations: list[str]) -> int:
        """Apply ``migrations[v:]`` for ``component`` where ``v`` is its recorded version.

        Plugins call this with their own list (tables prefixed with the component name); each
        migration runs in one transaction with its version bump, so concurrent processes apply
        it exactly once. Returns the component's schema version.

        :raises UserError: when the database was written by a newer wandbkit.
        """
        conn = self.connect()
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_versions"
                         " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            version = self._version(conn, component)
            if version > len(migrations):
                raise UserError(
                    f"{self.db_path} has {component} schema v{version}, newer than this "
                    f"wandbkit knows (v{len(migrations)}): upgrade wandbkit")
            while version < len(migrations):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    version = self._version(conn, component)  # another process may have won
                    if version < len(migrations):
                        for statement in migrations[version].split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        version += 1
                        conn.execute("INSERT OR REPLACE INTO schema_versions VALUES (?, ?)",
                                     (component, version))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            return version
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot read the wandbkit store {self.db_path}: {exc}") from exc
        finally:
            conn.close()

    @staticmethod
    def _version(conn: sqlite3.Connection, component: str) -> int:
        row = conn.execute("SELECT version FROM schema_versions WHERE component=?",
                           (component,)).fetchone()
        return int(row[0]) if row else 0

    # --- reading (CLI, dashboard, sweeps) ------------------------------------------------

    def runs(self, project: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally of one project."""
        sql = "SELECT * FROM runs"
        args: list[Any] = []
        if project:
            sql += " WHERE project=?"
            args.append(project)
        sql += " ORDER BY started_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._reader() as conn:
            return [_decode_run(r) for r in conn.execute(sql, args)]

    def get_run(self, run_id: str) -> RunRecord:
        """One run by id, or by a unique prefix of its id, or by its unique name.

        :raises UserError: when nothing (or more than one run) matches.
        """
        with self._reader() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchall()
            if not rows:
                rows = conn.execute("SELECT * FROM runs WHERE id LIKE ? OR name=?",
                                    (run_id + "%", run_id)).fetchall()
        if len(rows) == 1:
            return _decode_run(rows[0])
        if not rows:
            recent = ", ".join(r.id for r in self.runs(limit=5)) or "none"
            raise UserError(f"no run {run_id!r} in {self.root} (recent runs: {recent})")
        raise UserError(f"{run_id!r} matches {len(rows)} runs: "
                        + ", ".join(r["id"] for r in rows[:10]))

    def keys(self, run_id: str) -> list[str]:
        """The metric keys a run logged, sorted."""
        with self._reader() as conn:
            return [r[0] for r in conn.execute(
                "SELECT key FROM run_keys WHERE run_id=? ORDER BY key", (run_id,))]

    def rows(self, run_id: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every logged row as ``(step, {key: value})``, in logging order."""
        with self._reader() as conn:
            for step, data in conn.execute(
                    "SELECT step, data FROM history WHERE run_id=? ORDER BY rowid", (run_id,)):
                yield step, json.loads(data)

    def history(self, run_id: str, keys: Iterable[str] | None = None) -> dict[str, list[tuple[int, Any]]]:
        """``{key: [(step, value), ...]}`` in logging order (NaN and Inf restored)."""
        wanted = set(keys) if keys is not None else None
        out: dict[str, list[tuple[int, Any]]] = {}
        for step, values in self.rows(run_id):
            for key, value in values.items():
                if wanted is None or key in wanted:
                    out.setdefault(key, []).append((step, value))
        return out

    def row_count(self, run_id: str) -> int:
        """Number of rows logged (one per ``run.log`` call that carried scalars)."""
        with self._reader() as conn:
            return conn.execute("SELECT COUNT(*) FROM history WHERE run_id=?",
                                (run_id,)).fetchone()[0]

    def step_count(self, run_id: str) -> int:
        """Number of distinct steps with logged scalars."""
        with self._reader() as conn:
            return conn.execute("SELECT COUNT(DISTINCT step) FROM history WHERE run_id=?",
                                (run_id,)).fetchone()[0]

    def media(self, run_id: str) -> list[dict[str, Any]]:
        """Media entries of a run: step, key, kind, absolute path, meta."""
        with self._reader() as conn:
            return [{"step": r["step"], "key": r["key"], "kind": r["kind"],
                     "path": str(self.root / r["path"]) if r["path"] else None,
                     "meta": json.loads(r["meta"])}
                    for r in conn.execute("SELECT * FROM media WHERE run_id=? ORDER BY step, rowid",
                                          (run_id,))]

    def synced_at(self, run_id: str) -> float | None:
        """When ``wandbkit sync`` uploaded the run, or None."""
        with self._reader() as conn:
            row = conn.execute("SELECT synced_at FROM runs WHERE id=?", (run_id,)).fetchone()
        return row[0] if row else None

    def mark_synced(self, run_id: str, when: float) -> None:
        """Record a successful upload."""
        with self._reader() as conn:
            conn.execute("UPDATE runs SET synced_at=? WHERE id=?", (when, run_id))

    def alerts(self, run_id: str) -> list[dict[str, Any]]:
        """Alerts a run raised, oldest first."""
        with self._reader() as conn:
            return [dict(r) for r in conn.execute(
                "SELECT step, level, title, text, time FROM alerts WHERE run_id=? ORDER BY time",
                (run_id,))]

    def _reader(self) -> _Closing:
        return _Closing(self.connect(), self.db_path)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL mode (a persistent setting of the file), once.

    Changing the journal mode needs an exclusive lock and SQLite may answer SQLITE_BUSY
    without waiting on the busy timeout, as when several processes open a new store at the
    same moment (DDP ranks, sweep workers): so retry, up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class _Closing:
    """``with store._reader() as conn``: closes the connection, and turns SQLite errors
    (a damaged file, a table missing) into a :class:`UserError` naming the file."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.conn.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise UserError(f"cannot read the wandbkit store {self.path}: {exc}") from exc


def now() -> float:
    """Wall-clock time as stored (seconds since the epoch)."""
    return time.time()
