"""The local store: one SQLite database (WAL mode) plus media files under one folder.

It holds runs, config, the full metric history, summaries, media, alerts, and whatever tables
plugins add through :meth:`Store.ensure_schema` (checkpoint versions, sweep trials). Several
processes may write at once (sweep workers, DDP ranks): each opens its own connection, WAL lets
readers run beside the writer, and a generous busy timeout serialises writers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.errors import UserError
from wandbkit.settings import env_seconds

if TYPE_CHECKING:
    import numpy as np

    from wandbkit.resume import ResumeInfo

__all__ = ["DB_NAME", "HEARTBEAT_S", "Connection", "Row", "RunRecord", "Series", "Store", "default_root",
           "dumps", "now", "process_gone"]

# What Store.connect() returns and what its rows are, for plugins that keep their own tables
# (Store.ensure_schema) and type their code: they need not import sqlite3.
Connection = sqlite3.Connection
Row = sqlite3.Row

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
    # v3: numeric history per key as packed arrays, one row per key per written batch, beside
    # the JSON rows (which stay the full record). Reading 1M steps x 3 keys out of the JSON rows
    # took 2.7-4.7 s (json_extract / json.loads); from these chunks it takes well under 0.2 s.
    # Rows with key '' carry only steps and times: their total counts the covered history rows.
    """
    CREATE TABLE history_columns (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        n INTEGER NOT NULL,
        steps BLOB NOT NULL,
        times BLOB NOT NULL,
        vals BLOB NOT NULL
    );
    CREATE INDEX history_columns_run_key ON history_columns(run_id, key)
    """,
    # v4: resumed runs. Each process that runs a run is one fragment (its own W&B offline
    # folder, uploaded in order by `wandbkit sync`); heartbeat_at, refreshed by the writing
    # process, tells a crashed run on another host from a live one.
    """
    ALTER TABLE runs ADD COLUMN heartbeat_at REAL;
    ALTER TABLE runs ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE run_fragments (
        run_id TEXT NOT NULL,
        fragment INTEGER NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        state TEXT NOT NULL,
        exit_code INTEGER,
        host TEXT,
        pid INTEGER,
        start_step INTEGER NOT NULL DEFAULT 0,
        wandb_mode TEXT,
        wandb_dir TEXT,
        PRIMARY KEY (run_id, fragment)
    )
    """,
    # v5: numeric history as columns only (writing 100 scalars a row cost 164 us of JSON and
    # per-value Python; packed by numpy it costs a tenth). Each written batch adds one
    # row-count chunk to history_columns (key '', seq = the run-wide number of the batch's
    # first row, step_max, vals = the batch's keys in order as JSON) and one chunk per key and
    # value type (kind 'f' float64, 'i' int64, 'b' bool as uint8, so values read back as the
    # type logged; rows = uint32 indices into the batch, NULL when every row; steps and times
    # empty: the batch's). history keeps, per row holding values that are not numbers
    # (strings, ints beyond 64 bits), those values only, with the row's seq (see
    # wandbkit.history_columns). Rows and chunks written before v5 have seq NULL and are read
    # as written (wandbkit.history_tables): nothing is rewritten, and a store still at v4
    # (opened read-only, unmigrated) reads the same. run_fragments.first_row: the number of
    # the fragment's first history row (where `wandbkit export` applies W&B's step rule anew),
    # for fragments written before v5 the rows logged before the fragment started.
    """
    ALTER TABLE history ADD COLUMN seq INTEGER;
    ALTER TABLE history_columns ADD COLUMN seq INTEGER;
    ALTER TABLE history_columns ADD COLUMN kind TEXT;
    ALTER TABLE history_columns ADD COLUMN rows BLOB;
    ALTER TABLE history_columns ADD COLUMN step_max INTEGER;
    CREATE INDEX history_run_seq ON history(run_id, seq) WHERE seq IS NOT NULL;
    CREATE INDEX history_columns_run_seq ON history_columns(run_id, seq) WHERE seq IS NOT NULL;
    ALTER TABLE run_fragments ADD COLUMN first_row INTEGER;
    UPDATE run_fragments SET first_row = (SELECT COUNT(*) FROM history
        WHERE history.run_id = run_fragments.run_id AND history.time < run_fragments.started_at)
        WHERE fragment > 0
    """,
]


@dataclass(frozen=True)
class Series:
    """One key's numeric history (NaN and ±inf kept)."""

    steps: np.ndarray  # int64: each point's step (downsampled: the bucket's last step)
    times: np.ndarray  # float64: wall time, unix seconds (downsampled: the bucket's last time)
    # float64: the value (downsampled: the mean of the bucket's finite values, NaN if none)
    values: np.ndarray
    lo: np.ndarray  # float64: bucket minimum of finite values (== values when not downsampled)
    hi: np.ndarray  # float64: bucket maximum of finite values (== values when not downsampled)


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
    heartbeat_at: float | None = None
    resumed: int = 0  # how many times the run was resumed (fragments - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the shape ``wandbkit runs --json`` prints)."""
        return dict(self.__dict__)


def _decode_run(row: sqlite3.Row) -> RunRecord:
    heartbeat = row["heartbeat_at"] if "heartbeat_at" in row.keys() else None
    state = row["state"]
    if state == "running" and process_gone(row["host"], row["pid"], heartbeat):
        state = "crashed"  # decided when read: the process ended without finishing the run
    return RunRecord(
        id=row["id"], project=row["project"], name=row["name"], group=row["group_name"],
        tags=json.loads(row["tags"]), state=state, started_at=row["started_at"],
        finished_at=row["finished_at"], exit_code=row["exit_code"],
        config=json.loads(row["config"]), summary=json.loads(row["summary"]),
        host=row["host"], pid=row["pid"], wandb_mode=row["wandb_mode"],
        wandb_id=row["wandb_id"], wandb_path=row["wandb_path"], wandb_url=row["wandb_url"],
        wandb_dir=row["wandb_dir"], heartbeat_at=heartbeat,
        resumed=row["resumed"] if "resumed" in row.keys() else 0,
    )


# A run's writer refreshes runs.heartbeat_at at least this often; a run on another host whose
# heartbeat is older than HEARTBEAT_STALE_S is shown as crashed.
HEARTBEAT_S = env_seconds("WANDBKIT_HEARTBEAT_S", 30.0)
HEARTBEAT_STALE_S = env_seconds("WANDBKIT_HEARTBEAT_STALE_S", 10 * HEARTBEAT_S)


def process_gone(host: str | None, pid: int | None, heartbeat: float | None) -> bool:
    """True when the process that was writing a run no longer exists.

    On this host: the pid is gone (or is a zombie, or is a newer process that reused the pid:
    it started after the run's last heartbeat). On another host: the heartbeat is stale.
    Unknown (no pid, no heartbeat): False.
    """
    if host is None or pid is None:
        return False
    if host != socket.gethostname():
        return heartbeat is not None and time.time() - heartbeat > HEARTBEAT_STALE_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return _zombie_or_reused(pid, heartbeat)


def _zombie_or_reused(pid: int, heartbeat: float | None) -> bool:
    """Linux: ``/proc/PID/stat`` says zombie, or the process started after ``heartbeat``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":
        return True
    if heartbeat is None or len(fields) < 20:
        return False
    try:
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return False
    return started > heartbeat + 2.0  # btime has a one-second resolution


def dumps(obj: Any) -> str:
    """JSON that keeps NaN/Inf (as ``NaN``/``Infinity`` literals) and odd types (as repr)."""
    return json.dumps(obj, allow_nan=True, default=repr)


HISTORY_ROWS_KEY = ""  # the history_columns key whose chunks count the rows they cover


class Store:
    """A local store rooted at one folder. Cheap to create; opens connections on demand."""

    def __init__(self, root: Path, *, readonly: bool = False) -> None:
        self.root = root
        self.db_path = root / DB_NAME
        self.readonly = readonly

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True,
             readonly: bool = False) -> Store:
        """Open (and by default create) the store at ``path`` or :func:`default_root`.

        ``readonly=True`` is for commands that only read (``wandbkit runs``, ``show``,
        ``export``, the dashboard, ``ckpt ls``): it never creates a folder or a database, never
        writes a schema or migrates one, and works on a folder mounted read-only. Its
        connections are SQLite ``mode=ro`` connections: a write through them fails.

        :raises UserError: when the folder cannot be created or the database cannot be read;
            read-only, also when there is no store, the file is empty (not a store), or its
            schema is newer than this wandbkit knows.
        """
        root = Path(path).expanduser() if path else default_root()
        if readonly:
            return cls._open_readonly(root)
        if not create and not (root / DB_NAME).exists():
            raise UserError(f"no wandbkit store at {root} (set WANDBKIT_DIR or pass --dir)")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the store folder {root}: {exc}") from exc
        store = cls(root)
        store.ensure_schema("core", CORE_MIGRATIONS)
        return store

    @classmethod
    def _open_readonly(cls, root: Path) -> Store:
        db = root / DB_NAME
        if not db.is_file():
            raise UserError(f"no wandbkit store at {root} (set WANDBKIT_DIR or pass --dir)")
        if db.stat().st_size == 0:
            raise UserError(f"{db} is empty: not a wandbkit store (nothing was ever written to it)")
        store = cls(root, readonly=True)
        with store._reader() as conn:
            known = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND"
                                 " name='schema_versions'").fetchone()
            if not known:
                raise UserError(f"{db} is not a wandbkit store (no schema_versions table)")
            version = cls._version(conn, "core")
        _check_not_newer(db, "core", version, len(CORE_MIGRATIONS))
        return store

    def connect(self) -> sqlite3.Connection:
        """A new connection with a busy timeout; one per thread. Writable stores use WAL mode,
        or a rollback journal on a network filesystem (see :func:`network_filesystem`);
        read-only stores get a ``mode=ro`` connection.

        :raises UserError: when the file is not a readable SQLite database.
        """
        if self.readonly:
            return self._connect_readonly()
        try:
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            fs = store_filesystem(self.root)
            if fs is None:
                _enable_wal(conn)
            else:
                _use_rollback_journal(conn, self.root, fs)
            # NORMAL is durable across process crashes in WAL mode (only an OS crash can lose
            # the last transactions) and avoids an fsync per batch.
            conn.execute("PRAGMA synchronous=NORMAL" if fs is None else "PRAGMA synchronous=FULL")
            return conn
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot read the wandbkit store {self.db_path}: {exc}") from exc

    def _connect_readonly(self) -> sqlite3.Connection:
        base = f"file:{urllib.parse.quote(str(self.db_path.resolve()))}?mode=ro"
        try:
            try:
                conn = sqlite3.connect(base, uri=True, timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # A WAL database in a folder we cannot write (a read-only mount) cannot get
                # its -shm file: read it as an immutable file, which nobody here can change.
                conn = sqlite3.connect(base + "&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            conn.row_factory = sqlite3.Row
            return conn
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot read the wandbkit store {self.db_path}: {exc}") from exc

    def ensure_schema(self, component: str, migrations: list[str]) -> int:
        """Apply ``migrations[v:]`` for ``component`` where ``v`` is its recorded version.

        Plugins call this with their own list (tables prefixed with the component name); each
        migration runs in one transaction with its version bump, so concurrent processes apply
        it exactly once. Returns the component's schema version.

        A read-only store never migrates: it returns the recorded version.

        :raises UserError: when the database was written by a newer wandbkit.
        """
        conn = self.connect()
        if self.readonly:
            try:
                exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND"
                                      " name='schema_versions'").fetchone()
                version = self._version(conn, component) if exists else 0
            except sqlite3.DatabaseError as exc:
                raise UserError(f"cannot read the wandbkit store {self.db_path}: {exc}") from exc
            finally:
                conn.close()
            _check_not_newer(self.db_path, component, version, len(migrations))
            return version
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_versions"
                         " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            version = self._version(conn, component)
            _check_not_newer(self.db_path, component, version, len(migrations))
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
                # The prefix compared literally: LIKE would read "_" and "%" in it as wildcards.
                rows = conn.execute("SELECT * FROM runs WHERE substr(id, 1, ?)=? OR name=?",
                                    (len(run_id), run_id, run_id)).fetchall()
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
        """Every logged row as ``(step, {key: value})``, in logging order, each value of the
        type it was logged with (NaN and ±inf kept)."""
        from wandbkit import history_tables as tables

        with self._reader() as conn:
            yield from tables.iter_rows(conn, run_id, tables.is_legacy(conn))

    def history(self, run_id: str, keys: Iterable[str] | None = None) -> dict[str, list[tuple[int, Any]]]:
        """``{key: [(step, value), ...]}`` in logging order (NaN and Inf restored)."""
        wanted = set(keys) if keys is not None else None
        out: dict[str, list[tuple[int, Any]]] = {}
        for step, values in self.rows(run_id):
            for key, value in values.items():
                if wanted is None or key in wanted:
                    out.setdefault(key, []).append((step, value))
        return out

    def series(self, run_id: str,
               keys: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{key: (steps, times, values)}`` as ``int64``/``float64``/``float64`` arrays in
        logging order: numeric values only (bools as 0/1, NaN and Inf kept); keys the run never
        logged as numbers are left out. (:meth:`columns` adds step ranges, downsampling and
        cursors.)"""
        return self._numeric_since(run_id, [k for k in dict.fromkeys(keys)], 0)[0]

    def rows_since(self, run_id: str, cursor: int = 0, *, limit: int | None = None
                   ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """Rows logged after ``cursor`` as ``(step, {key: value})`` in logging order, every key as
        logged (numbers and non-numbers together), and the cursor to pass next time.
        ``cursor=0`` starts at the beginning; cursors are opaque ints.

        (A cursor counts the run's rows read so far; at most ``limit`` rows are returned.)

        :raises UserError: for a negative cursor or limit.
        """
        from wandbkit import history_tables as tables

        cursor = _check_count(cursor, "cursor")
        if limit is not None:
            limit = _check_count(limit, "limit")
        with self._reader() as conn:
            conn.execute("BEGIN")  # one snapshot: both layouts, every batch whole
            try:
                rows = list(tables.iter_rows(conn, run_id, tables.is_legacy(conn), cursor, limit))
            finally:
                conn.execute("COMMIT")
        return rows, cursor + len(rows)

    def columns(self, run_id: str, keys: Iterable[str], *, step_min: int | None = None,
                step_max: int | None = None, max_points: int | None = None, since: int = 0
                ) -> tuple[dict[str, Series], int]:
        """Numeric columns of ``keys`` (keys never logged as numbers are absent), optionally in a
        step range and downsampled to at most ``max_points`` buckets by step, each bucket keeping
        its min and max; only points written after the ``since`` cursor; plus the cursor for the
        next call (for live views: pass it back to get only new points).

        Bools read as 0/1. Without ``max_points`` (or with no more points than it) every point
        comes in logging order; downsampled, buckets come in step order (see
        :func:`wandbkit.history_columns.bucket_by_step`). ``since`` takes the cursors of this
        method and of :meth:`rows_since` alike.

        :raises UserError: for a negative cursor or a ``max_points`` below 1.
        """
        from wandbkit.history_columns import shape_series

        since = _check_count(since, "since")
        if max_points is not None and (isinstance(max_points, bool) or not isinstance(max_points, int)
                                       or max_points < 1):
            raise UserError(f"max_points={max_points!r}: give a whole number of points, 1 or more")
        raw, cursor = self._numeric_since(run_id, list(dict.fromkeys(keys)), since)
        return {key: shape_series(*arrays, step_min=step_min, step_max=step_max,
                                  max_points=max_points) for key, arrays in raw.items()}, cursor

    def _numeric_since(self, run_id: str, wanted: list[str], since: int
                       ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
        """``{key: (steps, times, values)}`` of the rows from number ``since`` on, and the
        run's row count, from one snapshot."""
        from wandbkit import history_tables as tables

        wanted = [k for k in wanted if k != HISTORY_ROWS_KEY]
        with self._reader() as conn:
            conn.execute("BEGIN")
            try:
                return tables.numeric_since(conn, run_id, wanted, since, tables.is_legacy(conn))
            finally:
                conn.execute("COMMIT")

    def row_count(self, run_id: str) -> int:
        """Number of rows logged (one per ``run.log`` call that carried scalars)."""
        from wandbkit import history_tables as tables

        with self._reader() as conn:
            return tables.row_total(conn, run_id, tables.is_legacy(conn))

    def step_count(self, run_id: str) -> int:
        """Number of distinct steps with logged scalars."""
        from wandbkit import history_tables as tables

        with self._reader() as conn:
            return tables.distinct_steps(conn, run_id, tables.is_legacy(conn))

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

    # --- resumed runs -------------------------------------------------------------------

    def resume_info(self, run_id: str) -> ResumeInfo | None:
        """What a resume of ``run_id`` continues from (exact id), or None when it is unknown."""
        with self._reader() as conn:
            return _resume_info(conn, run_id)

    def claim_run(self, run_id: str, project: str,
                  decide: Callable[[ResumeInfo | None], bool]) -> tuple[ResumeInfo | None, Claim]:
        """Make this process the one writing ``run_id``, atomically with the check.

        In one SQLite write transaction (``BEGIN IMMEDIATE``: a second process waits for the
        first to commit): read what the store holds of the run, let ``decide`` rule on it
        (it raises to refuse, e.g. while the run's process is alive), then mark the run
        ``running`` with this host and pid, creating its record when it is new. So two
        processes that start one id at the same moment never both write it: the second sees
        the first's claim.

        :returns: what the store held before the claim (None for a new run), and the
            :class:`Claim` that :meth:`release_claim` undoes if the run then fails to start.
        :raises UserError: whatever ``decide`` raises, or when the store cannot be written.
        """
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = _resume_info(conn, run_id)
                decide(found)
                host, pid, when = socket.gethostname(), os.getpid(), now()
                before = conn.execute("SELECT state, host, pid, heartbeat_at FROM runs WHERE"
                                      " id=?", (run_id,)).fetchone()
                claim = Claim(run_id, host, pid, None if before is None else tuple(before))
                if found is None:
                    conn.execute("INSERT INTO runs (id, project, state, started_at, host, pid,"
                                 " heartbeat_at) VALUES (?,?,?,?,?,?,?)",
                                 (run_id, project, "running", when, host, pid, when))
                else:
                    conn.execute("UPDATE runs SET state='running', host=?, pid=?, heartbeat_at=?"
                                 " WHERE id=?", (host, pid, when, run_id))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return found, claim
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot write the wandbkit store {self.db_path}: {exc}") from exc
        finally:
            conn.close()

    def release_claim(self, claim: Claim) -> None:
        """Undo :meth:`claim_run` for a run that failed to start (a bad argument after the
        claim): a new run's record goes, a stored run gets its earlier state back. Only while
        the claim is still this process's and nothing was written under it."""
        conn = self.connect()
        try:
            mine = "id=? AND host=? AND pid=? AND state='running'"
            args = (claim.run_id, claim.host, claim.pid)
            if claim.before is None:
                conn.execute(f"DELETE FROM runs WHERE {mine} AND NOT EXISTS (SELECT 1 FROM"
                             " run_fragments WHERE run_id=?)", (*args, claim.run_id))
            else:
                conn.execute(f"UPDATE runs SET state=?, host=?, pid=?, heartbeat_at=? WHERE {mine}",
                             (*claim.before, *args))
        finally:
            conn.close()

    def fragments(self, run_id: str) -> list[dict[str, Any]]:
        """The processes that ran a run, first to last: fragment, started_at, finished_at, state
        (``crashed`` when its process is gone without finishing), exit_code, host, pid,
        start_step, wandb_mode, wandb_dir, first_row (the number of its first history row; None
        when written before v5). Runs written before fragments were kept have none."""
        with self._reader() as conn:
            rows = [dict(r) for r in conn.execute(
                "SELECT * FROM run_fragments WHERE run_id=? ORDER BY fragment", (run_id,))]
            for frag in rows:
                if "first_row" not in frag:  # a v4 store read unmigrated: as v5's migration counts
                    frag["first_row"] = None if frag["fragment"] == 0 else conn.execute(
                        "SELECT COUNT(*) FROM history WHERE run_id=? AND time < ?",
                        (run_id, frag["started_at"])).fetchone()[0]
            heartbeat = conn.execute("SELECT heartbeat_at FROM runs WHERE id=?",
                                     (run_id,)).fetchone()
        for i, frag in enumerate(rows):
            if frag["state"] != "running":
                continue
            # an earlier fragment still 'running' was superseded: its process died unfinished
            last = i == len(rows) - 1
            if not last or process_gone(frag["host"], frag["pid"], heartbeat[0] if heartbeat else None):
                frag["state"] = "crashed"
        return rows

    def offline_dirs(self, run_id: str) -> list[str]:
        """The W&B offline folders of a run, in the order its fragments ran (one for a run that
        was never resumed)."""
        dirs = [f["wandb_dir"] for f in self.fragments(run_id)
                if f["wandb_mode"] == "offline" and f["wandb_dir"]]
        if not dirs:
            record = self.get_run(run_id)
            if record.wandb_dir:
                dirs = [record.wandb_dir]
        return list(dict.fromkeys(dirs))

    def alerts(self, run_id: str) -> list[dict[str, Any]]:
        """Alerts a run raised, oldest first."""
        with self._reader() as conn:
            return [dict(r) for r in conn.execute(
                "SELECT step, level, title, text, time FROM alerts WHERE run_id=? ORDER BY time",
                (run_id,))]

    def notes(self, run_id: str) -> str | None:
        """The run's notes (``init(notes=)`` or ``run.notes = ...``), if any."""
        with self._reader() as conn:
            try:
                row = conn.execute("SELECT notes FROM run_notes WHERE run_id=?", (run_id,)).fetchone()
            except sqlite3.OperationalError:  # a store no run with notes has written to
                return None
        return row[0] if row else None

    def _reader(self) -> _Closing:
        return _Closing(self.connect(), self.db_path)


@dataclass(frozen=True)
class Claim:
    """A run claimed by :meth:`Store.claim_run`: who holds it, and the record's earlier
    ``(state, host, pid, heartbeat_at)`` (None when the claim created it)."""

    run_id: str
    host: str
    pid: int
    before: tuple[Any, ...] | None


def _resume_info(conn: sqlite3.Connection, run_id: str) -> ResumeInfo | None:
    from wandbkit.resume import ResumeInfo

    row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None:
        return None
    from wandbkit import history_tables as tables

    last = tables.last_step(conn, run_id, tables.is_legacy(conn))
    fragments = conn.execute("SELECT COUNT(*) FROM run_fragments WHERE run_id=?",
                             (run_id,)).fetchone()[0]
    record = _decode_run(row)
    return ResumeInfo(run_id=run_id, state=record.state,
                      last_step=-1 if last is None else int(last),
                      fragments=max(fragments, 1), config=record.config, host=record.host,
                      pid=record.pid)


def _check_not_newer(db: Path, component: str, version: int, known: int) -> None:
    if version > known:
        raise UserError(f"{db} has {component} schema v{version}, newer than this wandbkit "
                        f"knows (v{known}): upgrade wandbkit")


# Filesystems whose locks or shared memory do not reach across hosts the way SQLite's WAL
# needs (its -shm index is memory-mapped: each host would see its own).
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "beegfs",
    "afs", "panfs", "wekafs", "9p", "ocfs2", "gfs2", "fuse.sshfs", "fuse.glusterfs",
    "fuse.ceph", "fuse.cephfs", "fuse.juicefs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone",
    "fuse.lustre", "fuse.beegfs"})


def network_filesystem(path: str | Path, mounts: str) -> str | None:
    """The type of the network filesystem holding ``path``, or None for a local one.

    ``mounts`` is the text of ``/proc/mounts`` (``device mountpoint type options 0 0``, with
    spaces in paths written ``\\040``); the longest mount point containing ``path`` decides.
    """
    target = os.path.abspath(path)
    best, best_type = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape_mount(fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    if best_type in NETWORK_FILESYSTEMS or best_type.startswith("nfs"):
        return best_type
    return None


def _unescape_mount(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


_filesystems: dict[str, str | None] = {}


def store_filesystem(root: Path) -> str | None:
    """:func:`network_filesystem` for a store folder on this machine (``/proc/mounts``;
    None where there is none), remembered per folder. ``WANDBKIT_NETWORK_FS=1`` forces the
    network-filesystem behaviour, ``0`` the local one."""
    forced = os.environ.get("WANDBKIT_NETWORK_FS", "").strip()
    if forced:
        return "forced" if forced not in ("0", "false", "no") else None
    key = os.path.realpath(root)
    if key not in _filesystems:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            mounts = ""
        _filesystems[key] = network_filesystem(key, mounts)
    return _filesystems[key]


def _use_rollback_journal(conn: sqlite3.Connection, root: Path, fs: str) -> None:
    """On a network filesystem: SQLite's rollback journal (its locks are the filesystem's,
    with no shared memory), said once per store."""
    from wandbkit.console import warn_once

    mode = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
    if mode == "wal":
        conn.execute("PRAGMA journal_mode=DELETE")
    warn_once(f"network-fs:{root}", f"the store {root} is on a network filesystem ({fs}): "
              "using SQLite's rollback journal instead of WAL; write to it from one host at a "
              "time", scope="process")


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{what}={value!r}: give a whole number, 0 or more")
    return value


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
