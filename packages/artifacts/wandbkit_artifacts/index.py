"""The version index: ``v0..vN`` per checkpoint name, aliases, pending W&B deletions.

Tables live in the shared wandbkit store (``Store.ensure_schema("artifacts", ...)``), so several
processes can save at once: the busy timeout serialises writers and every change is one SQLite
transaction. Committing a version renames its fsynced temporary folder into place *inside* the
transaction that lists it: a crash before COMMIT leaves an unlisted folder, never a listed
version with missing files. The index's transactions run with ``synchronous=FULL`` (the WAL is
fsynced at every COMMIT), so a committed version stays listed after a power loss too; a
complete version folder that still ends up unlisted (power lost between the rename and the
COMMIT reaching the disk) is listed again by ``gc`` (:meth:`Index.relist`), never deleted.
Moving an alias is one ``INSERT OR REPLACE``.

Version numbers (``NAME:vN``) are store-wide, as on W&B; aliases (``latest``, ``best``,
``step-N``, ``preempt``, user aliases) belong to the run that saved the version, so two runs
saving one name never move each other's aliases, and each run's retention and ``best`` see
only its own versions. A run scope is the run id, or ``""`` for versions saved without a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandbkit_artifacts.digest import fsync_path
from wandbkit_artifacts.errors import AmbiguousReference, CheckpointError

MIGRATIONS = [
    """
    CREATE TABLE artifacts_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        path TEXT NOT NULL,
        step INTEGER NOT NULL,
        metrics TEXT NOT NULL DEFAULT '{}',
        size INTEGER NOT NULL,
        created REAL NOT NULL,
        manifest_id TEXT NOT NULL,
        run_id TEXT,
        project TEXT,
        wandb_mode TEXT,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE artifacts_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    );
    CREATE TABLE artifacts_counters (
        name TEXT PRIMARY KEY,
        next_version INTEGER NOT NULL
    );
    CREATE TABLE artifacts_pending_deletions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        manifest_id TEXT NOT NULL,
        project TEXT,
        run_id TEXT,
        trash_path TEXT,
        created REAL NOT NULL
    )
    """,
    # aliases belong to the run that saved the version ('' for versions saved without a run)
    """
    CREATE TABLE artifacts_run_aliases (
        name TEXT NOT NULL,
        run TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, run, alias)
    );
    INSERT INTO artifacts_run_aliases
        SELECT a.name, COALESCE(v.run_id, ''), a.alias, a.version FROM artifacts_aliases a
        JOIN artifacts_versions v ON v.name = a.name AND v.version = a.version;
    DROP TABLE artifacts_aliases
    """,
]

STEP_ALIAS = re.compile(r"^step-\d+$")
PROTECTED = ("latest", "best")


@dataclass
class Version:
    """One listed checkpoint version."""

    name: str
    version: int
    path: Path
    step: int
    metrics: dict[str, Any]
    size: int
    created: float
    manifest_id: str
    run_id: str | None
    project: str | None
    wandb_mode: str | None
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``NAME:vN``."""
        return f"{self.name}:v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what ``wandbkit ckpt ls --json`` prints)."""
        d = dict(self.__dict__)
        d["path"] = str(self.path)
        return d


@dataclass
class PendingDeletion:
    """A W&B artifact version to delete once W&B is reachable."""

    id: int
    name: str
    version: int
    manifest_id: str
    project: str | None
    run_id: str | None
    trash_path: str | None


class Index:
    """The checkpoint index inside one wandbkit store.

    ``readonly=True`` (what reading commands use) never writes: no schema is created, and a
    store without checkpoint tables reads as holding no checkpoints.
    """

    def __init__(self, store: Any, readonly: bool = False) -> None:
        self.store = store
        self.root: Path = store.root
        self._conns: dict[tuple[int, int], Any] = {}
        self._readonly = readonly
        if not readonly:
            store.ensure_schema("artifacts", MIGRATIONS)

    @classmethod
    def open(cls, store_dir: str | Path | None = None, *, readonly: bool = False) -> Index:
        """The index of the store at ``store_dir``; by default the active run's store, else
        ``$WANDBKIT_DIR`` or ./wandbkit-runs. ``readonly``: never create or change anything
        (an error naming the folder when there is no store)."""
        from wandbkit.store import Store

        if store_dir is None:
            import wandbkit

            run = wandbkit.get_run()
            store_dir = getattr(run, "store_dir", None) if run is not None else None
        if readonly:
            return cls(Store.open(store_dir, readonly=True), readonly=True)
        return cls(Store.open(store_dir))

    def _missing(self) -> bool:
        """A read-only index of a store that has no checkpoint tables (yet: a long-lived reader,
        the dashboard, sees them once a save creates them)."""
        return self._readonly and self._schema_version() == 0

    @property
    def _aliases(self) -> str:
        """The alias table: a read-only index reads an older store's as it is (schema v1 kept
        aliases per name; each still points at one version, whose run says whose it is)."""
        if self._readonly and self._schema_version() == 1:
            return "artifacts_aliases"
        return "artifacts_run_aliases"

    def _schema_version(self) -> int:
        with self._conn() as c:
            if not c.execute("SELECT 1 FROM sqlite_master WHERE type='table'"
                             " AND name='schema_versions'").fetchone():
                return 0
            row = c.execute("SELECT version FROM schema_versions WHERE component='artifacts'"
                            ).fetchone()
        return int(row[0]) if row else 0

    def _conn(self) -> _Tx:
        # One connection per (process, thread), kept open: opening and closing one per query
        # cost ~15 ms a save (closing the last connection checkpoints the WAL with an fsync).
        key = (os.getpid(), threading.get_ident())
        conn = self._conns.get(key)
        if conn is None:
            conn = self._conns[key] = self.store.connect()
            # The store runs synchronous=NORMAL (a commit can be lost to a power cut, not to a
            # killed process). A listed checkpoint must survive both: fsync the WAL per COMMIT.
            conn.execute("PRAGMA synchronous=FULL")
        return _Tx(conn)

    # --- reading --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Checkpoint names that have at least one version, sorted."""
        if self._missing():
            return []
        with self._conn() as c:
            return [r[0] for r in c.execute(
                "SELECT DISTINCT name FROM artifacts_versions ORDER BY name")]

    def versions(self, name: str | None = None, run: str | None = None) -> list[Version]:
        """Listed versions (of one name, or all; of one run scope, or all), oldest first, with
        their aliases. ``run=""`` selects versions saved without a run."""
        if self._missing():
            return []
        with self._conn() as c:
            sql = "SELECT * FROM artifacts_versions WHERE 1=1"
            args: list[Any] = []
            if name is not None:
                sql += " AND name=?"
                args.append(name)
            if run is not None:
                sql += " AND COALESCE(run_id, '')=?"
                args.append(run)
            rows = c.execute(sql + " ORDER BY name, version", args).fetchall()
            aliases: dict[tuple[str, int], list[str]] = {}
            for r in c.execute(f"SELECT name, alias, version FROM {self._aliases}"
                               " ORDER BY alias"):
                aliases.setdefault((r[0], r[2]), []).append(r[1])
        return [_version(r, aliases.get((r["name"], r["version"]), [])) for r in rows]

    def runs_of(self, name: str) -> list[str]:
        """The run scopes that saved versions of ``name`` (``""``: saved without a run), by
        their first version."""
        if self._missing():
            return []
        with self._conn() as c:
            return [r[0] for r in c.execute(
                "SELECT COALESCE(run_id, '') AS run FROM artifacts_versions WHERE name=?"
                " GROUP BY run ORDER BY MIN(version)", (name,))]

    def scope_of(self, name: str, run: str | None = None) -> str:
        """The run scope a reference to ``name`` means: ``run`` when given, else the only run
        that saved ``name``.

        :raises AmbiguousReference: when several runs saved ``name`` and ``run`` is None.
        """
        if run is not None:
            return run
        runs = self.runs_of(name)
        if len(runs) > 1:
            shown = ", ".join(r or "(no run)" for r in runs[:5])
            example = next((r for r in reversed(runs) if r), runs[-1])
            raise AmbiguousReference(
                f"checkpoint {name!r} was saved by {len(runs)} runs ({shown}): name the run, "
                f"e.g. '{name}@{example}:latest', or a version 'NAME:vN' "
                f"(`wandbkit ckpt ls {name}` lists them)")
        return runs[0] if runs else ""

    def aliases(self, name: str, run: str | None = None) -> dict[str, int]:
        """``{alias: version}`` for one name in one run scope (by default the only run that
        saved it; :meth:`scope_of`)."""
        if self._missing():
            return {}
        scope = self.scope_of(name, run)
        with self._conn() as c:
            return {r[0]: r[1] for r in c.execute(
                f"SELECT a.alias, a.version FROM {self._aliases} a JOIN artifacts_versions v"
                " ON v.name=a.name AND v.version=a.version"
                " WHERE a.name=? AND COALESCE(v.run_id, '')=?", (name, scope))}

    def get(self, name: str, version: int) -> Version | None:
        """One version, or None when it is not listed."""
        for v in self.versions(name):
            if v.version == version:
                return v
        return None

    def resolve(self, name: str, alias: str, run: str | None = None) -> Version | None:
        """The version ``alias`` (``vN``, ``latest``, ``best``, ``step-N``, user) points to.

        ``vN`` is store-wide; other aliases are looked up in ``run``'s scope, by default the
        only run that saved ``name`` (:meth:`scope_of` raises when several did).
        """
        m = re.fullmatch(r"v(\d+)", alias)
        if m:
            found = self.get(name, int(m.group(1)))
            if found is not None and run is not None and (found.run_id or "") != run:
                return None
            return found
        target = self.aliases(name, run).get(alias)
        return None if target is None else self.get(name, target)

    # --- writing --------------------------------------------------------------------------

    def commit(self, name: str, tmp: Path, parent: Path, manifest: dict[str, Any],
               aliases: list[str], best: tuple[str, str] | None, wandb_mode: str | None) -> Version:
        """Rename ``tmp`` to ``parent/vN`` and list it, in one transaction; move the aliases.

        Aliases move within the scope of the run that saved it (``manifest["run_id"]``).
        ``best`` is ``(metric, "min"|"max")``: the ``best`` alias moves here when this version's
        metric beats that run's current best one's.
        """
        step = int(manifest["step"])
        metrics = manifest.get("metrics") or {}
        scope = manifest.get("run_id") or ""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT next_version FROM artifacts_counters WHERE name=?",
                            (name,)).fetchone()
            n = row[0] if row else 0
            while (parent / f"v{n}").exists():  # left by a crash between rename and COMMIT
                n += 1
            final = parent / f"v{n}"
            os.rename(tmp, final)
            fsync_path(parent)
            c.execute("INSERT INTO artifacts_versions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                      (name, n, str(final.resolve()), step, json.dumps(metrics, default=repr),
                       manifest["size"], manifest["created"], manifest["id"],
                       manifest.get("run_id"), manifest.get("project"), wandb_mode))
            c.execute("INSERT OR REPLACE INTO artifacts_counters VALUES (?, ?)", (name, n + 1))
            moved = ["latest", f"step-{step}", *aliases]
            if best is not None and _beats(c, name, scope, metrics, *best):
                moved.append("best")
            for alias in dict.fromkeys(moved):
                c.execute("INSERT OR REPLACE INTO artifacts_run_aliases VALUES (?,?,?,?)",
                          (name, scope, alias, n))
            c.execute("COMMIT")
        version = self.get(name, n)
        assert version is not None
        return version

    def relist(self, folder: Path, manifest: dict[str, Any]) -> Version | None:
        """List ``folder`` (``NAME/vN``, complete and verified by the caller) that has no index
        row, under its own version number; None when it got listed meanwhile.

        It gets ``step-N`` (unless another version of its run holds it) and ``latest`` when it
        is its run's newest listed version; ``best`` and user aliases are not known and stay
        where they are.
        """
        name, n = folder.parent.name, int(folder.name[1:])
        step = int(manifest["step"])
        scope = manifest.get("run_id") or ""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            if c.execute("SELECT 1 FROM artifacts_versions WHERE name=? AND version=?",
                         (name, n)).fetchone():
                c.execute("COMMIT")
                return None
            c.execute("INSERT INTO artifacts_versions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                      (name, n, str(folder.resolve()), step,
                       json.dumps(manifest.get("metrics") or {}, default=repr), manifest["size"],
                       manifest["created"], manifest["id"], manifest.get("run_id"),
                       manifest.get("project"), None))
            row = c.execute("SELECT next_version FROM artifacts_counters WHERE name=?",
                            (name,)).fetchone()
            if row is None or row[0] <= n:
                c.execute("INSERT OR REPLACE INTO artifacts_counters VALUES (?, ?)", (name, n + 1))
            c.execute("INSERT OR IGNORE INTO artifacts_run_aliases VALUES (?,?,?,?)",
                      (name, scope, f"step-{step}", n))
            newest = c.execute("SELECT MAX(version) FROM artifacts_versions WHERE name=?"
                               " AND COALESCE(run_id, '')=?", (name, scope)).fetchone()[0]
            if newest == n:
                c.execute("INSERT OR REPLACE INTO artifacts_run_aliases VALUES (?,?,?,?)",
                          (name, scope, "latest", n))
            c.execute("COMMIT")
        return self.get(name, n)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` in the scope of the run that saved it (atomically
        replaces where it pointed before)."""
        if re.fullmatch(r"v\d+", alias):
            raise ValueError(f"alias {alias!r} is reserved: vN names a version")
        found = self.get(name, version)
        if found is None:
            raise CheckpointError(f"no listed version {name}:v{version}")
        with self._conn() as c:
            c.execute("INSERT OR REPLACE INTO artifacts_run_aliases VALUES (?,?,?,?)",
                      (name, found.run_id or "", alias, version))

    def retention(self, name: str, keep_last_k: int | None, keep_best_k: int | None,
                  metric: str | None, mode: str, run: str = "") -> list[Version]:
        """Versions of run scope ``run`` the policies no longer keep and no protected alias
        holds, oldest first; another run's versions are never among them.

        Kept: the newest ``keep_last_k``, the best ``keep_best_k`` by ``metric``, and any version
        holding ``latest``, ``best`` or a user alias (``step-N`` aliases do not protect).
        """
        if keep_last_k is None and keep_best_k is None:
            return []
        versions = self.versions(name, run)
        keep: set[int] = set()
        if keep_last_k is not None:
            keep.update(v.version for v in versions[-keep_last_k:] if keep_last_k > 0)
        if keep_best_k is not None and metric:
            scored = [v for v in versions if _number(v.metrics.get(metric)) is not None]
            scored.sort(key=lambda v: _number(v.metrics[metric]), reverse=(mode == "max"))
            keep.update(v.version for v in scored[:keep_best_k])
        out = []
        for v in versions:
            protected = any(not STEP_ALIAS.match(a) for a in v.aliases)
            if v.version not in keep and not protected:
                out.append(v)
        return out

    def unlist(self, version: Version, pending: bool, trash_path: Path | None) -> None:
        """Unlist a version and its aliases; remember its W&B deletion when ``pending``."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM artifacts_versions WHERE name=? AND version=?",
                      (version.name, version.version))
            c.execute("DELETE FROM artifacts_run_aliases WHERE name=? AND version=?",
                      (version.name, version.version))
            if pending:
                c.execute("INSERT INTO artifacts_pending_deletions"
                          " (name, version, manifest_id, project, run_id, trash_path, created)"
                          " VALUES (?,?,?,?,?,?,?)",
                          (version.name, version.version, version.manifest_id, version.project,
                           version.run_id, str(trash_path) if trash_path else None, time.time()))
            c.execute("COMMIT")

    def pending_deletions(self) -> list[PendingDeletion]:
        """W&B deletions not yet applied, oldest first."""
        if self._missing():
            return []
        with self._conn() as c:
            return [PendingDeletion(r["id"], r["name"], r["version"], r["manifest_id"],
                                    r["project"], r["run_id"], r["trash_path"])
                    for r in c.execute("SELECT * FROM artifacts_pending_deletions ORDER BY id")]

    def done_deletion(self, pending_id: int) -> None:
        """Forget a pending deletion once applied."""
        with self._conn() as c:
            c.execute("DELETE FROM artifacts_pending_deletions WHERE id=?", (pending_id,))

    def listed_paths(self) -> set[Path]:
        """Folders of every listed version (``gc`` never touches these)."""
        if self._missing():
            return set()
        with self._conn() as c:
            return {Path(r[0]) for r in c.execute("SELECT path FROM artifacts_versions")}

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[set[Path]]:
        """Hold the index's write lock; yields the listed folders (resolved) as of now."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            rows = c.execute("SELECT path FROM artifacts_versions")
            listed = {Path(r[0]).resolve() for r in rows}
            yield listed
            c.execute("COMMIT")

    def pending_trash(self) -> set[Path]:
        """Trash folders kept until their W&B upload/deletion is settled."""
        if self._missing():
            return set()
        with self._conn() as c:
            return {Path(r[0]) for r in c.execute(
                "SELECT trash_path FROM artifacts_pending_deletions WHERE trash_path IS NOT NULL")}


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out  # NaN never ranks


def _beats(c: Any, name: str, scope: str, metrics: dict[str, Any], metric: str,
           mode: str) -> bool:
    new = _number(metrics.get(metric))
    if new is None:
        return False
    row = c.execute("SELECT v.metrics FROM artifacts_run_aliases a JOIN artifacts_versions v"
                    " ON a.name=v.name AND a.version=v.version"
                    " WHERE a.name=? AND a.run=? AND a.alias='best'", (name, scope)).fetchone()
    if row is None:
        return True
    old = _number(json.loads(row[0]).get(metric))
    if old is None:
        return True
    return new < old if mode == "min" else new > old


def _version(r: Any, aliases: list[str]) -> Version:
    return Version(name=r["name"], version=r["version"], path=Path(r["path"]), step=r["step"],
                   metrics=json.loads(r["metrics"]), size=r["size"], created=r["created"],
                   manifest_id=r["manifest_id"], run_id=r["run_id"], project=r["project"],
                   wandb_mode=r["wandb_mode"], aliases=sorted(aliases))


class _Tx:
    """``with index._conn() as c``: the thread's connection; a failed transaction rolls back."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.conn.in_transaction:  # an error, or a generator abandoned inside a transaction
            self.conn.execute("ROLLBACK")


def iter_version_dirs(parent: Path) -> Iterator[Path]:
    """``vN`` folders directly under ``parent``."""
    if parent.is_dir():
        for p in parent.iterdir():
            if p.is_dir() and re.fullmatch(r"v\d+", p.name):
                yield p
