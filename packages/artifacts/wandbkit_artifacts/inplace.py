"""Registering files that already exist (e.g. the folder HF's Trainer just wrote) as a version.

Nothing is serialised a second time: each file is hard-linked into the version's temporary
folder, so the version shares the bytes with the original and survives the original being
deleted (HF's ``save_total_limit`` rotation). Only where a link is impossible (another file
system, a file system without hard links) is the file copied, with a notice. The linked files
are then digested and fsynced like written ones, and the manifest lists them, so loading,
verification, retention and W&B logging treat the version like any other.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandbkit.errors import UserError
from wandbkit.paths import safe_relative_path
from wandbkit_artifacts.digest import digest_files, fsync_files, fsync_path
from wandbkit_artifacts.errors import CheckpointError
from wandbkit_artifacts.layout import MANIFEST, write_manifest


@dataclass
class LinkedFiles:
    """A temporary version folder already holding linked files, waiting to be digested."""

    tmp: Path
    copied: list[str]

_LINK_FAILURES = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES)


def files_to_register(files: Any) -> dict[str, Path]:
    """``{name in the version: source path}`` from a folder or a mapping.

    :raises CheckpointError: for a missing source, a name that is not a string or escapes the
        version folder (:func:`wandbkit.paths.safe_relative_path`), or the reserved name
        ``manifest.json``.
    """
    if isinstance(files, Mapping):
        out = {}
        for k, v in files.items():
            try:
                out[safe_relative_path(k, what="checkpoint file entry").as_posix()] = Path(v)
            except UserError as exc:
                raise CheckpointError(f"files: each name must be a relative path inside the "
                                      f"version: {exc}") from None
    else:
        root = Path(files)
        if not root.is_dir():
            raise CheckpointError(f"files={str(root)!r}: not a folder")
        out = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}
    if not out:
        raise CheckpointError(f"files={files!r}: nothing to register")
    for name, src in out.items():
        if name == MANIFEST:
            raise CheckpointError(f"files: {MANIFEST!r} is reserved for the version's manifest")
        if not src.is_file():
            raise CheckpointError(f"files[{name!r}] = {str(src)!r}: no such file")
    return out


def link_files(tmp: Path, files: dict[str, Path]) -> list[str]:
    """Hard-link every file into the (empty) folder ``tmp``; returns the names it had to copy."""
    copied = []
    for name, src in files.items():
        dest = tmp / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dest)
        except OSError as exc:
            if exc.errno not in _LINK_FAILURES:
                raise
            shutil.copy2(src, dest)
            copied.append(name)
    return copied


def register_version(tmp: Path, info: dict[str, Any], algorithm: str,
                     copied: list[str]) -> dict[str, Any]:
    """Digest and fsync the files already in ``tmp``; write and fsync the manifest; return it."""
    names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    paths = [tmp / n for n in names]
    digests = digest_files(paths, algorithm)
    files = {n: {"digest": d, "size": p.stat().st_size}
             for n, p, d in zip(names, paths, digests, strict=True)}
    fsync_files(paths)  # the trainer wrote them without fsync: make the version durable
    manifest = write_manifest(tmp, info, algorithm, files, tied={}, registered_in_place=True,
                              copied=copied)
    for folder in {p.parent for p in paths} | {tmp}:
        fsync_path(folder)
    return manifest


def locate(ref: str, fallback: bool = False, store_dir: str | Path | None = None) -> Any:
    """Find and verify the local folder of ``ref``; load nothing (``LoadRequest.resolve_only``).

    Returns a :class:`~wandbkit_artifacts.loader.LoadedCheckpoint` with ``path``, ``step``,
    ``manifest`` and ``metrics`` set and no states. With ``fallback``, a version that fails
    verification gives way to the newest older one that verifies.
    :raises UnknownReference: when nothing matches (the message lists what exists).
    :raises VerificationError: when the folder is incomplete or corrupt.
    """
    from wandbkit_artifacts.errors import VerificationError
    from wandbkit_artifacts.index import Index
    from wandbkit_artifacts.layout import read_manifest
    from wandbkit_artifacts.loader import LoadedCheckpoint, _is_path, resolve, verify_folder

    index = None if _is_path(ref) else Index.open(store_dir)
    path, version = resolve(ref, index)
    candidates = [(path, version)]
    if fallback and version is not None and index is not None:
        candidates += [(v.path, v) for v in reversed(index.versions(version.name,
                                                                    version.run_id or ""))
                       if v.version < version.version]
    failures = []
    for folder, found in candidates:
        problems = verify_folder(folder)
        if problems:
            failures.append(f"{found.ref if found else folder}: {'; '.join(problems)}")
            continue
        manifest = read_manifest(folder)
        return LoadedCheckpoint(ref=found.ref if found else str(folder), path=folder,
                                step=int(manifest["step"]), manifest=manifest,
                                version=found.version if found else None,
                                metrics=manifest.get("metrics") or {},
                                skipped=[f"fell back past: {' | '.join(failures)}"] if failures else [])
    raise VerificationError("no version verifies: " + " | ".join(failures), str(path))
