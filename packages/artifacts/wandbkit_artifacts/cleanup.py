"""Garbage collection: unlisted folders left by crashes, settled trash, wandb's artifact cache.

Never touches a listed version, nor the temporary folder of a save still running (its name
carries the writer's host and pid, ``.tmp-<host>-<pid>-…``, and :func:`wandbkit.store.
process_gone` decides: the pid on this host, the folder's last change on another), nor trash
kept for an offline W&B upload (until ``purge_unsynced``).
A complete version folder (``vN`` whose manifest and digests check out) that has no index row is
listed again, never deleted. Deletes only inside the store: wandb's artifact cache is trimmed
under the store root (where wandbkit's W&B worker puts it); a cache elsewhere — the user's
``$WANDB_CACHE_DIR``, often shared — only when its folder is named (``cache_dir=``), and only
when that folder has wandb's cache layout (``obj/``, ``tmp/``): a mistyped or empty path is
refused, never trimmed.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from wandbkit.paths import safe_filename
from wandbkit.store import process_gone
from wandbkit_artifacts.errors import CheckpointError
from wandbkit_artifacts.index import Index, iter_version_dirs
from wandbkit_artifacts.layout import TMP_PREFIX, tmp_owner

DEFAULT_CACHE_CAP = 2 * 1024**3
STALE_TMP_S = 24 * 3600


@dataclass
class GcReport:
    """What ``gc`` removed (or would remove with ``dry_run``) and the bytes involved."""

    removed: list[str] = field(default_factory=list)
    freed: int = 0
    kept_for_sync: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    cache_size: int = 0
    caches: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return dict(self.__dict__)


def tree_size(path: Path) -> int:
    """Bytes under ``path`` (files only)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _newest_change(path: Path) -> float:
    """The latest mtime of ``path`` and everything under it (a save in flight keeps writing)."""
    newest = 0.0
    for dirpath, _, files in os.walk(path):
        for name in (".", *files):
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                pass
    return newest


def tmp_abandoned(path: Path) -> bool:
    """Whether the temporary folder ``path`` of a save belongs to no running save.

    ``.tmp-<host>-<pid>-…``: :func:`wandbkit.store.process_gone` with the folder's latest change
    as the heartbeat (on this host the pid, on another the age of that change). The older
    ``.tmp-<pid>-…`` names do not say which host wrote them: only a day without change counts.
    """
    owner = tmp_owner(path.name)
    heartbeat = _newest_change(path)
    if owner is None:
        return time.time() - heartbeat > STALE_TMP_S
    host, pid = owner
    here = socket.gethostname()
    return process_gone(here if host == safe_filename(here) else host, pid, heartbeat)


_CACHE_ENTRIES = ("obj", "tmp")


def check_wandb_cache(cache: Path) -> None:
    """Refuse a folder that is not wandb's artifact cache (``obj/`` and ``tmp/`` only).

    :raises CheckpointError: one line naming the folder and what it holds instead.
    """
    if not cache.is_dir():
        raise CheckpointError(f"{str(cache)!r} is not a folder: name wandb's artifact cache "
                              "($WANDB_CACHE_DIR/artifacts); nothing trimmed")
    strangers = sorted(p.name for p in cache.iterdir() if p.name not in _CACHE_ENTRIES
                       or not p.is_dir())
    if strangers:
        hint = (f"; did you mean {cache / 'artifacts'}?" if (cache / "artifacts").is_dir()
                else "")
        raise CheckpointError(
            f"{cache.resolve()} is not a wandb artifact cache (it holds "
            f"{', '.join(strangers[:3])}{', …' if len(strangers) > 3 else ''} besides wandb's "
            f"obj/ and tmp/); nothing trimmed{hint}")


def wandb_cache_dir(root: Path) -> Path:
    """The artifact cache wandbkit's W&B worker uses under the store root.

    When ``$WANDB_CACHE_DIR`` is set, wandb caches there instead; that folder is the user's and
    is trimmed only when named explicitly (``gc(cache_dir=...)``, ``--cache-dir``).
    """
    return root / ".wandb-cache" / "artifacts"


def trim_cache(cache: Path, cap: int, dry_run: bool, report: GcReport) -> None:
    """Delete the least recently used files under ``cache`` until it holds at most ``cap`` bytes.

    :raises CheckpointError: when ``cache`` is not wandb's artifact cache
        (:func:`check_wandb_cache`): an empty or unset path means the working folder.
    """
    check_wandb_cache(cache)
    files = []
    for dirpath, _, names in os.walk(cache):
        for n in names:
            p = Path(dirpath) / n
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((max(st.st_atime, st.st_mtime), st.st_size, p))
    total = sum(f[1] for f in files)
    for _, size, p in sorted(files):
        if total <= cap:
            break
        report.removed.append(str(p))
        report.freed += size
        total -= size
        if not dry_run:
            p.unlink(missing_ok=True)
    report.cache_dir, report.cache_size = str(cache), total
    report.caches[str(cache)] = total


def trim_caches(root: Path, cap: int, dry_run: bool, report: GcReport,
                cache_dir: str | Path | None = None) -> None:
    """Trim the store's wandb artifact cache, and ``cache_dir`` only when one is named.

    :raises CheckpointError: when ``cache_dir`` is empty or not a wandb artifact cache.
    """
    if cache_dir is not None:
        if not str(cache_dir).strip():
            raise CheckpointError("the cache folder to trim is empty (an unset variable?): "
                                  "name wandb's artifact cache; nothing trimmed")
        trim_cache(Path(cache_dir), cap, dry_run, report)
    own = wandb_cache_dir(root)
    if own.is_dir():
        trim_cache(own, cap, dry_run, report)
    else:  # no W&B download has made it yet
        report.cache_dir, report.cache_size = str(own), 0
        report.caches[str(own)] = 0


def gc(store_dir: str | Path | None = None, *, dry_run: bool = False,
       cache_cap: int = DEFAULT_CACHE_CAP, purge_unsynced: bool = False,
       cache_dir: str | Path | None = None) -> GcReport:
    """Remove what no listed version needs; trim wandb's artifact cache to ``cache_cap`` bytes.

    :param purge_unsynced: also delete trash kept for offline W&B uploads (those versions will
        then never upload; their W&B deletion stays pending and is harmless).
    :param cache_dir: also trim this folder (e.g. ``$WANDB_CACHE_DIR/artifacts``) to
        ``cache_cap``: an explicit opt-in, since a cache outside the store is not wandbkit's.
    """
    if cache_dir is not None and not str(cache_dir).strip():
        raise CheckpointError("--cache-dir is empty (an unset variable?): name wandb's "
                              "artifact cache; nothing removed")
    index = Index.open(store_dir)
    report = GcReport()
    listed = index.listed_paths()
    keep_trash = index.pending_trash()
    keep = {t.resolve() for t in keep_trash}
    parents = {p.parent for p in listed}
    ckroot = index.root / "checkpoints"
    if ckroot.is_dir():
        parents.update(p for p in ckroot.iterdir() if p.is_dir() and not p.name.startswith("."))
    doomed: list[Path] = []
    for parent in parents:
        if not parent.is_dir():
            continue
        for p in parent.iterdir():
            if p.name.startswith(TMP_PREFIX) and p.is_dir() and tmp_abandoned(p):
                doomed.append(p)
        trash = parent / ".trash"
        if trash.is_dir():
            for p in trash.iterdir():
                if p.resolve() in keep and not purge_unsynced:
                    report.kept_for_sync.append(str(p))
                else:
                    doomed.append(p)
    for p in doomed:
        _remove(p, dry_run, report)
    broken = _relist_complete(index, parents, keep, dry_run, report)
    # An unlisted vN folder that did not verify is what a crash between rename and COMMIT
    # leaves. Decide under the index's write lock: a commit in flight in another process renames
    # and lists its folder while holding that lock, so it cannot be mistaken for a leftover.
    with index.write_lock() as listed_now:
        for parent in parents:
            for p in iter_version_dirs(parent):
                if p.resolve() in listed_now:
                    continue
                if p.resolve() in keep:
                    if purge_unsynced:
                        _remove(p, dry_run, report)
                    else:
                        report.kept_for_sync.append(str(p))
                elif p.resolve() in broken:
                    _remove(p, dry_run, report)
    trim_caches(index.root, cache_cap, dry_run, report, cache_dir)
    return report


def _relist_complete(index: Index, parents: set[Path], keep: set[Path], dry_run: bool,
                     report: GcReport) -> set[Path]:
    """List again every unlisted ``vN`` whose manifest and digests verify (a commit a power cut
    lost); returns the unlisted folders that did not verify (crash leftovers)."""
    from wandbkit_artifacts.layout import read_manifest
    from wandbkit_artifacts.loader import verify_folder

    listed = {p.resolve() for p in index.listed_paths()}
    broken: set[Path] = set()
    for parent in parents:
        for p in iter_version_dirs(parent):
            real = p.resolve()
            if real in listed or real in keep:
                continue
            if verify_folder(p):
                broken.add(real)
                continue
            report.reindexed.append(str(p))
            if not dry_run:
                index.relist(p, read_manifest(p))
    return broken


def _remove(p: Path, dry_run: bool, report: GcReport) -> None:
    report.removed.append(str(p))
    report.freed += tree_size(p)
    if not dry_run:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
