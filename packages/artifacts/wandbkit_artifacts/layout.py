"""What a version folder holds and how it is written atomically.

A version is a folder::

    vN/model.safetensors     weights (tied names stored once, listed in the metadata)
    vN/optimizer.pt ...      optimizer / scheduler / scaler / extra states (torch.save,
                             loadable with weights_only=True)
    vN/rng.pt                Python, NumPy, torch and CUDA RNG states
    vN/manifest.json         step, metrics, digest and size of every file, versions, config, git

It is written into a hidden temporary folder next to its final place, every file and the folder
itself are fsynced, and only then is it renamed into place (see :mod:`wandbkit_artifacts.index`).
A process killed at any point leaves at most an unlisted temporary folder, which ``gc`` removes.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.paths import safe_filename
from wandbkit_artifacts.digest import HashingWriter, fsync_files, fsync_path
from wandbkit_artifacts.tensorfile import write_tensors

if TYPE_CHECKING:
    from wandbkit_artifacts.snapshot import Snapshot

FORMAT = "wandbkit-checkpoint/1"
MANIFEST = "manifest.json"
MODEL_FILE = "model.safetensors"
STATE_FILES = ("optimizer", "scheduler", "scaler", "extra")
TMP_PREFIX = ".tmp-"
# .tmp-<host>-<pid>-<8 hex>: the host may hold '-', the pid and the tag do not
TMP_RE = re.compile(re.escape(TMP_PREFIX) + r"(?P<host>.+)-(?P<pid>\d+)-(?P<tag>[0-9a-f]{8})$")


def tmp_dir_for(parent: Path) -> Path:
    """A fresh temporary folder under ``parent``, named ``.tmp-<host>-<pid>-<tag>`` so ``gc``
    (on any host sharing the store) knows which process is writing it."""
    parent.mkdir(parents=True, exist_ok=True)
    host = safe_filename(socket.gethostname())
    path = parent / f"{TMP_PREFIX}{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def tmp_owner(folder_name: str) -> tuple[str, int] | None:
    """``(host, pid)`` of the save writing a temporary folder, None when the name is not one
    (or is the older ``.tmp-<pid>-…`` form, which does not say which host)."""
    m = TMP_RE.match(folder_name)
    if m is None:
        return None
    return m.group("host"), int(m.group("pid"))


_writer_pool: ThreadPoolExecutor | None = None
_torch_save_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    # Separate from the digest pool: a write waits on digest tasks, so sharing one pool of two
    # threads could deadlock with two writes in flight.
    global _writer_pool
    if _writer_pool is None:
        _writer_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wandbkit-write")
    return _writer_pool


def _torch_save(obj: Any, path: Path, algorithm: str) -> tuple[str, int]:
    import torch
    from torch.utils.serialization import config

    with HashingWriter(path, algorithm) as out:
        # Our own digest covers every byte, so torch's per-record CRC32 is redundant work. The
        # flag is process-global: the lock keeps two savers from restoring it out of order.
        with _torch_save_lock, config.patch({"save.compute_crc32": False}):
            torch.save(obj, out)
        return out.close(fsync=False), out.size


def write_version(tmp: Path, snap: Snapshot, info: dict[str, Any],
                  algorithm: str) -> dict[str, Any]:
    """Write ``snap`` into the (empty) folder ``tmp``; fsync everything; return the manifest.

    ``info`` holds the manifest's descriptive fields (name, step, metrics, config, run, ...).
    """
    snap.wait()
    files: dict[str, dict[str, Any]] = {}
    model_write = None
    if snap.model is not None:
        meta = {"format": FORMAT}
        if snap.tied:
            meta["tied"] = json.dumps(snap.tied)
        # The weights go to disk on a helper thread while this one serialises the other states:
        # copying into the page cache is CPU work, and two copies at once use both cores.
        model_write = _writers().submit(write_tensors, tmp / MODEL_FILE, snap.model, meta,
                                        algorithm, False)
    for key, state in snap.states.items():
        name = f"{key}.pt"
        digest, size = _torch_save(state, tmp / name, algorithm)
        files[name] = {"digest": digest, "size": size}
    if snap.rng is not None:
        digest, size = _torch_save(snap.rng, tmp / "rng.pt", algorithm)
        files["rng.pt"] = {"digest": digest, "size": size}
    if model_write is not None:
        digest, size = model_write.result()
        files = {MODEL_FILE: {"digest": digest, "size": size}, **files}
    # Files are fsynced together, not one after another: their writebacks overlap. The manifest
    # is written only once they are durable, and the rename (in index.commit) comes after it.
    fsync_files([tmp / name for name in files])
    manifest = write_manifest(tmp, info, algorithm, files, tied=snap.tied)
    fsync_path(tmp)
    return manifest


def write_manifest(tmp: Path, info: dict[str, Any], algorithm: str,
                   files: dict[str, dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Write and fsync ``tmp``'s manifest (after its files are durable); return it.

    :param files: ``{name: {"digest", "size"}}`` of every file in the version.
    :param fields: more manifest fields (``tied``, ``registered_in_place``, ...).
    """
    manifest = {
        "format": FORMAT,
        "id": uuid.uuid4().hex,
        **info,
        "created": time.time(),
        "digest_algorithm": algorithm,
        "files": files,
        "size": sum(f["size"] for f in files.values()),
        **fields,
        "packages": package_versions(),
        "git_commit": git_commit(),
    }
    data = json.dumps(manifest, indent=1, sort_keys=True, default=repr).encode()
    with open(tmp / MANIFEST, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a version folder.

    :raises ValueError: when it is missing or not valid JSON (the message names the file).
    """
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: {folder} is not a complete checkpoint") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a checkpoint depends on."""
    out = {"python": platform.python_version()}
    for dist in ("torch", "safetensors", "numpy", "wandb", "wandbkit", "wandbkit-artifacts",
                 "transformers"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


@functools.cache
def git_commit() -> str | None:
    """The git commit of the working directory, or None outside a repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
