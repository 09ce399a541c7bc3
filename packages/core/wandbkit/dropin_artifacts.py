"""wandb's ``Artifact``, ``log_artifact`` and ``use_artifact`` on wandbkit.

An artifact's files are copied once into the local store (``<store>/artifacts/<name>/vN/``;
a copy, as wandb's default ``mutable`` policy stages one, so editing the source later never
changes a logged version) and indexed there, so ``use_artifact``
finds them offline. Models (``type="model"``) go to the installed checkpoint plugin, which
versions them with its own aliases and retention; everything else goes to the run's sinks as
a core artifact (a W&B Artifact in the W&B sink). Online, ``use_artifact`` falls back to
W&B's API for artifacts this store does not hold.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from wandbkit import lifecycle
from wandbkit.dropin import notice
from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.paths import join_inside, safe_relative_path
from wandbkit.store import Store

SCHEMA_COMPONENT = "dropin_artifacts"
SCHEMA = ["""
    CREATE TABLE dropin_artifacts (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        path TEXT NOT NULL,
        aliases TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        run_id TEXT,
        time REAL NOT NULL,
        PRIMARY KEY (name, version)
    )
"""]
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class Artifact:
    """``wandb.Artifact``: files and folders kept together as one versioned artifact.

    :param name: letters, digits, ``_``, ``-``, ``.``.
    :param type: ``model`` goes to the checkpoint plugin; any other type (``dataset``, ...)
        is a core artifact.
    """

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None, incremental: bool = False,
                 use_as: str | None = None) -> None:
        if not isinstance(name, str) or not _NAME.match(name) or not name.strip("."):
            raise UserError(f"Artifact name {name!r}: use letters, digits, '_', '-' and '.' "
                            "(not only dots)")
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        self.entries: list[tuple[str, Path]] = []  # (name inside the artifact, source)
        self.version: str | None = None
        self.aliases: list[str] = []
        self._path: Path | None = None  # where a logged or used artifact's files are
        self._scratch: Path | None = None
        self._saving: Any = None  # the checkpoint plugin's pending save (a Future), for wait()

    def __repr__(self) -> str:
        return f"<wandbkit.Artifact {self.name}:{self.version or 'unlogged'} type={self.type}>"

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None,
                 **kwargs: Any) -> None:
        """Add one file (under ``name``, default its file name)."""
        path = Path(local_path)
        if not path.is_file():
            raise UserError(f"Artifact {self.name}: add_file: no file at {path}")
        self.entries.append((self._entry_name(name if name is not None else path.name), path))

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None,
                **kwargs: Any) -> None:
        """Add a folder's files (under the prefix ``name``, default the artifact's root)."""
        path = Path(local_path)
        if not path.is_dir():
            raise UserError(f"Artifact {self.name}: add_dir: no folder at {path}")
        self.entries.append((self._entry_name(name) if name else "", path))

    def _entry_name(self, name: object) -> str:
        """An entry's name, checked to stay inside the artifact's folder."""
        return safe_relative_path(name, what=f"Artifact {self.name} entry").as_posix()

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a new file into the artifact: ``with art.new_file("labels.txt") as f: ...``."""
        name = self._entry_name(name)
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="wandbkit-artifact-"))
        path = join_inside(self._scratch, name, what=f"Artifact {self.name} entry")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, mode, encoding=None if "b" in mode else encoding or "utf-8") as f:
            yield f
        self.entries.append((name, path))

    def add_reference(self, uri: str, name: str | None = None, **kwargs: Any) -> None:
        """Not supported: references (``s3://``, ``gs://``, ...) are not tracked."""
        notice("wandb.Artifact.add_reference()", f"references are not tracked; {uri} is left out")

    def add(self, obj: Any, name: str, **kwargs: Any) -> None:
        """Not supported: media objects in artifacts; log them with ``wandbkit.log``."""
        notice("wandb.Artifact.add()", f"{name}: media objects in artifacts are not supported; "
               "log them with wandbkit.log instead")

    def save(self) -> None:
        """A notice: artifacts are logged with ``log_artifact``."""
        notice("wandb.Artifact.save()", "use wandbkit.log_artifact(artifact)")

    def wait(self, timeout: float | None = None) -> Artifact:
        """Wait until a model handed to the checkpoint plugin is saved (other artifacts are
        queued in order with the run's rows: nothing to wait for)."""
        if self._saving is not None and hasattr(self._saving, "result"):
            self._saving.result(timeout=timeout)
        return self

    def download(self, root: str | os.PathLike[str] | None = None, **kwargs: Any) -> str:
        """The folder that holds the artifact's files (copied to ``root`` when given)."""
        if self._path is None:
            raise UserError(f"Artifact {self.name} was not logged or used yet: nothing to download")
        if root is None:
            return str(self._path)
        target = Path(root)
        shutil.copytree(self._path, target, dirs_exist_ok=True)
        return str(target)

    def get_path(self, name: str) -> Any:
        """An entry's local file (``entry.download()`` returns its path)."""
        path = join_inside(Path(self.download()), name, what=f"Artifact {self.name} entry")
        if not path.exists():
            raise UserError(f"Artifact {self.name}: no entry {name!r}")
        return _Entry(path)

    def file(self, root: str | None = None) -> str:
        """The path of the artifact's only file."""
        files = [p for p in Path(self.download(root)).rglob("*") if p.is_file()]
        if len(files) != 1:
            raise UserError(f"Artifact {self.name} holds {len(files)} files; use download()")
        return str(files[0])


@dataclasses.dataclass
class _Entry:
    path: Path

    def download(self, root: str | None = None) -> str:
        return str(self.path)


def _lay_out(artifact: Artifact, target: Path) -> None:
    """Copy the artifact's entries under ``target`` (files written with ``new_file`` are moved)."""
    target.mkdir(parents=True)
    scratch = artifact._scratch
    for name, source in artifact.entries:
        dest = join_inside(target, name, what=f"Artifact {artifact.name} entry") if name else target
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if scratch is not None and source.is_relative_to(scratch):
                shutil.move(source, dest)
            else:
                shutil.copy2(source, dest)


def _index(store_dir: Path) -> Store:
    store = Store.open(store_dir)
    store.ensure_schema(SCHEMA_COMPONENT, SCHEMA)
    return store


def log_artifact(artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                 type: str | None = None, aliases: Iterable[str] | None = None,
                 tags: Iterable[str] | None = None) -> Artifact:
    """``wandb.log_artifact``: keep an :class:`Artifact` (or a file/folder path) as a new version.

    Models go to the checkpoint plugin when one is installed; other types (and models when
    none is) go to the run's sinks. The files are laid out in the store so ``use_artifact``
    finds them offline.
    """
    run = lifecycle.current()
    if run is None:
        raise UserError("You must call wandbkit.init() before log_artifact()")
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
    else:
        path = Path(artifact_or_path)
        artifact = Artifact(name or re.sub(r"[^A-Za-z0-9_.\-]", "_", path.name), type or "unspecified")
        (artifact.add_dir if path.is_dir() else artifact.add_file)(path)
    if not artifact.entries:
        raise UserError(f"log_artifact: artifact {artifact.name} has no files")
    if tags:
        notice("wandb.log_artifact(tags=)", "artifact tags are not kept")
    user_aliases = [a for a in (aliases or []) if a != "latest"]
    store = _index(run.store_dir)
    conn = store.connect()
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT MAX(version) FROM dropin_artifacts WHERE name=?",
                           (artifact.name,)).fetchone()
        version = 0 if row[0] is None else row[0] + 1
        target = _version_folder(run.store_dir, artifact.name, version)
        if target.exists():
            shutil.rmtree(target)  # left by an earlier attempt that did not commit
        _lay_out(artifact, target)
        conn.execute("INSERT INTO dropin_artifacts VALUES (?,?,?,?,?,?,?,?)",
                     (artifact.name, version, artifact.type, str(target.relative_to(run.store_dir)),
                      json.dumps(user_aliases), json.dumps(artifact.metadata), run.id, time.time()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    artifact.version, artifact.aliases, artifact._path = f"v{version}", ["latest", *user_aliases], target
    if artifact._scratch is not None:
        shutil.rmtree(artifact._scratch, ignore_errors=True)
        artifact._scratch = None
    if artifact.type == "model" and _save_model(run, artifact, target, user_aliases):
        return artifact
    run.log_artifact(target, name=artifact.name, type=artifact.type, aliases=user_aliases,
                     metadata=artifact.metadata)
    return artifact


def _version_folder(store_dir: Path, name: str, version: int) -> Path:
    """``<store>/artifacts/<name>/v<version>``, checked to be exactly that folder (no dots-only
    name, no symbolic link out), so clearing a failed attempt's folder only ever removes this
    artifact's own version."""
    root = store_dir / "artifacts"
    target = join_inside(root, f"{name}/v{version}", what="artifact name")
    if target.parent.name != name or target.parent.parent != root:
        raise UserError(f"artifact name {name!r} does not name one folder under {root}")
    return target


def _save_model(run: Any, artifact: Artifact, folder: Path, aliases: list[str]) -> bool:
    """Hand a model's files to the checkpoint plugin; False when none can take them."""
    from wandbkit.checkpointing import CheckpointRequest
    from wandbkit.plugins import get_plugin_manager

    if "files" not in {f.name for f in dataclasses.fields(CheckpointRequest)}:
        return False
    request = CheckpointRequest(step=max(run.step, 0), name=artifact.name, aliases=aliases,
                                run=run, force=True, files=str(folder))  # type: ignore[call-arg]
    result = get_plugin_manager().hook.wandbkit_checkpoint_save(request=request)
    if result is None:
        notice("wandb.log_artifact(type='model')", "no checkpoint plugin is installed "
               "(`pip install wandbkit-artifacts`); logged as a plain artifact")
        return False
    artifact._saving = getattr(result, "future", None)
    return True


def _parse(ref: str) -> tuple[str, str]:
    """``[entity/project/]name[:alias|:vN]`` -> (name, alias or version)."""
    base = ref.rsplit("/", 1)[-1]
    name, _, which = base.partition(":")
    return name, which or "latest"


def use_artifact(artifact_or_name: Artifact | str, type: str | None = None,
                 aliases: Iterable[str] | None = None, use_as: str | None = None) -> Artifact:
    """``wandb.use_artifact``: an artifact by ``name[:alias|:vN]``, from the local store (offline
    too), else the checkpoint plugin (models), else W&B's API when online.

    :raises UserError: when nothing holds it (offline: the store's artifact names are listed).
    """
    run = lifecycle.current()
    if run is None:
        raise UserError("You must call wandbkit.init() before use_artifact()")
    if isinstance(artifact_or_name, Artifact):
        if artifact_or_name._path is not None:
            return artifact_or_name
        artifact_or_name = artifact_or_name.name
    name, which = _parse(artifact_or_name)
    found = _find_local(run.store_dir, name, which)
    if found is not None:
        return found
    path = _resolve_model(f"{name}:{which}") if type in (None, "model") else None
    if path is not None:
        used = Artifact(name, "model")
        used.version, used._path = which, Path(path)
        return used
    if run.settings.wandb_mode == "online":
        return _from_wandb(artifact_or_name, kind=type)
    known = ", ".join(_local_names(run.store_dir)) or "none"
    raise UserError(f"use_artifact({artifact_or_name!r}): not in the local store "
                    f"{run.store_dir} (artifacts there: {known}) and W&B is offline")


def _find_local(store_dir: Path, name: str, which: str) -> Artifact | None:
    store = _index(store_dir)
    conn = store.connect()
    try:
        rows = conn.execute("SELECT version, type, path, aliases, metadata FROM dropin_artifacts "
                            "WHERE name=? ORDER BY version DESC", (name,)).fetchall()
    finally:
        conn.close()
    for version, type_, path, aliases, metadata in rows:
        if which == "latest" or which == f"v{version}" or which in json.loads(aliases):
            artifact = Artifact(name, type_, metadata=json.loads(metadata))
            artifact.version, artifact._path = f"v{version}", store_dir / path
            artifact.aliases = json.loads(aliases)
            return artifact
    return None


def _local_names(store_dir: Path) -> list[str]:
    conn = _index(store_dir).connect()
    try:
        return [r[0] for r in conn.execute("SELECT DISTINCT name FROM dropin_artifacts ORDER BY name")]
    finally:
        conn.close()


def _resolve_model(ref: str) -> str | None:
    from wandbkit.checkpointing import LoadRequest
    from wandbkit.plugins import get_plugin_manager

    if "resolve_only" not in {f.name for f in dataclasses.fields(LoadRequest)}:
        return None
    try:
        result = get_plugin_manager().hook.wandbkit_checkpoint_load(
            request=LoadRequest(ref=ref, resolve_only=True))  # type: ignore[call-arg]
    except UserError:
        return None
    path = getattr(result, "path", None)
    return str(path) if path is not None else None


def _from_wandb(ref: str, kind: str | None) -> Artifact:
    import wandb

    try:
        remote = wandb.Api().artifact(ref, type=kind)
        folder = remote.download()
    except Exception as exc:
        raise UserError(f"use_artifact({ref!r}): W&B could not give it: {first_line(exc)}") from exc
    name, _ = _parse(ref)
    used = Artifact(name, remote.type, metadata=dict(remote.metadata or {}))
    used.version, used._path = remote.version, Path(folder)
    return used
