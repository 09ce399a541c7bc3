"""Garbage collection: unlisted folders left by crashes, settled trash, wandb's artifact cache.

Never touches a listed version, nor the temporary folder of a save still running (its name
carries the writer's pid), nor trash kept for an offline W&B upload (until ``purge_unsynced``).
A complete version folder (``vN`` whose manifest and digests check out) that has no index row is
listed again, never deleted. Deletes only inside the store: wandb's artifact cache is trimmed
under the store root (where wandbkit's W&B worker puts it); a cache elsewhere — the user's
``$WANDB_CACHE_DIR``, often shared — only when its folder is named (``cache_dir=``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from wandbkit_artifacts.index import Index, iter_version_dirs
from wandbkit_artifacts.layout import TMP_PREFIX

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


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wandb_cache_dir(root: Path) -> Path:
    """The artifact cache wandbkit's W&B worker uses under the store root.

    When ``$WANDB_CACHE_DIR`` is set, wandb caches there instead; that folder is the user's and
    is trimmed only when named explicitly (``gc(cache_dir=...)``, ``--cache-dir``).
    """
    return root / ".wandb-cache" / "artifacts"


def trim_cache(cache: Path, cap: int, dry_run: bool, report: GcReport) -> None:
    """Delete the least recently used files under ``cache`` until it holds at most ``cap`` bytes."""
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
    """Trim the store's wandb artifact cache, and ``cache_dir`` only when one is named."""
    if cache_dir is not None:
        trim_cache(Path(cache_dir), cap, dry_run, report)
    trim_cache(wandb_cache_dir(root), cap, dry_run, report)


def gc(store_dir: str | Path | None = None, *, dry_run: bool = False,
       cache_cap: int = DEFAULT_CACHE_CAP, purge_unsynced: bool = False,
       cache_dir: str | Path | None = None) -> GcReport:
    """Remove what no listed version needs; trim wandb's artifact cache to ``cache_cap`` bytes.

    :param purge_unsynced: also delete trash kept for offline W&B uploads (those versions will
        then never upload; their W&B deletion stays pending and is harmless).
    :param cache_dir: also trim this folder (e.g. ``$WANDB_CACHE_DIR/artifacts``) to
        ``cache_cap``: an explicit opt-in, since a cache outside the store is not wandbkit's.
    """
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
            m = re.match(re.escape(TMP_PREFIX) + r"(\d+)-", p.name)
            # a dead writer's folder; or one a day old (its pid may have been reused since)
            if m and (not _pid_alive(int(m.group(1))) or _age(p) > STALE_TMP_S):
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
