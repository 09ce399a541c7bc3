"""Loading: resolve a reference, verify digests, load safely, restore, fall back.

Resolution order: a folder path; the local index; W&B (online only); an HF Hub repo when one
is configured.

Aliases belong to the run that saved a version (see :mod:`wandbkit_artifacts.index`). A bare
``NAME[:ALIAS]`` means the active run's versions of ``NAME`` when it has some, else those of the
only run that saved ``NAME``; when several did, inside a run the reference must say which
(``NAME@RUN[:ALIAS]``, ``run=`` or the store-wide ``NAME:vN``), outside one the newest run's is
taken with a one-line notice (:func:`scope_for`).

Nothing is unpickled beyond what ``torch.load(weights_only=True)`` allows, and weights come
from safetensors.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.paths import join_inside
from wandbkit_artifacts.digest import digest_files
from wandbkit_artifacts.errors import (
    CheckpointError,
    UnknownReference,
    VerificationError,
    check_name,
)
from wandbkit_artifacts.index import Index, Version
from wandbkit_artifacts.layout import MODEL_FILE, read_manifest


@dataclass
class LoadedCheckpoint:
    """A loaded version: its states (already restored into the objects passed) and metadata."""

    ref: str
    path: Path
    step: int
    manifest: dict[str, Any]
    version: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    model_state: dict[str, Any] | None = None
    states: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def extra(self) -> Any:
        """The ``extra`` dict passed to ``save``, or None."""
        return self.states.get("extra")


def parse_ref(ref: str) -> tuple[str, str]:
    """``"NAME:ALIAS"`` -> ``(NAME, ALIAS)``; a bare name means ``NAME:latest``."""
    name, alias, _ = parse_scoped_ref(ref)
    return name, alias


def parse_scoped_ref(ref: object) -> tuple[str, str, str | None]:
    """``"NAME[@RUN][:ALIAS]"`` -> ``(NAME, ALIAS, RUN or None)``; the alias defaults to
    ``latest``.

    :raises CheckpointError: one line naming the part that is not allowed.
    """
    if not isinstance(ref, str):
        raise CheckpointError(f"checkpoint reference must be a string, got {type(ref).__name__}")
    head, _, alias = ref.partition(":")
    name, at, run = head.partition("@")
    check_name(name)
    if at and not re.fullmatch(r"[A-Za-z0-9_.-]+", run):
        raise CheckpointError(f"run {run!r} in {ref!r}: give a run id after '@' (NAME@RUN:ALIAS)")
    alias = alias or "latest"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", alias):
        raise CheckpointError(f"alias {alias!r} in {ref!r}: use letters, digits, '_', '.' or '-'")
    return name, alias, run if at else None


def active_run_id() -> str | None:
    """The id of this process's active wandbkit run, if any."""
    try:
        import wandbkit

        run = wandbkit.get_run()
    except (ImportError, AttributeError):
        return None
    return getattr(run, "id", None) if run is not None else None


def scope_for(index: Index, name: str, run: str | None) -> str | None:
    """The run scope a reference to ``name`` means.

    ``run`` when given; else the only run that saved ``name``; else, inside a run, that run's
    own versions when it saved some (another run's only by naming it: an error says how);
    outside any run, the run that saved the newest version, with a one-line notice naming the
    others.
    """
    if run is not None:
        return run
    runs = index.runs_of(name)
    if len(runs) <= 1:
        return None
    active = active_run_id()
    if active is not None:
        if active in runs:
            return active
        index.scope_of(name)  # raises AmbiguousReference, naming the runs
    newest = index.versions(name)[-1].run_id or ""
    others = ", ".join(r or "(no run)" for r in runs if r != newest)
    _notice(f"{name!r} was saved by {len(runs)} runs: using run {newest or '(no run)'}'s, the "
            f"newest; '{name}@RUN:ALIAS' names another ({others})")
    return newest


def _is_path(ref: str) -> bool:
    """A folder reference, as opposed to ``NAME[:ALIAS]`` (names have no slash)."""
    return os.sep in ref or ref.startswith(".") or (Path(ref) / "manifest.json").is_file()


def describe_available(index: Index, name: str | None = None) -> str:
    """What exists, for error messages: names, or one name's versions, aliases and runs."""
    if name is None or name not in index.names():
        names = index.names()
        return f"checkpoints in {index.root}: " + (", ".join(names) if names else "none")
    runs = index.runs_of(name)
    parts = []
    for run in runs:
        aliases = index.aliases(name, run)
        versions = ", ".join(f"v{v.version}" for v in index.versions(name, run))
        text = f"versions {versions}; aliases " + ", ".join(
            f"{a}->v{n}" for a, n in sorted(aliases.items()))
        parts.append(text if len(runs) == 1 else f"(run {run or 'none'}) {text}")
    return f"{name} has " + " | ".join(parts)


def resolve(ref: str, index: Index | None = None, hf_repo: str | None = None,
            run: str | None = None) -> tuple[Path, Version | None]:
    """The folder ``ref`` names and its index entry (None for paths and remote downloads).

    ``run`` (or ``NAME@RUN`` in ``ref``) picks the run whose aliases are meant.
    :raises AmbiguousReference: for a bare name several runs saved (the line says how to pick).
    :raises UnknownReference: listing what exists locally and why W&B / HF Hub did not answer.
    """
    if isinstance(ref, str) and _is_path(ref):
        path = Path(ref).expanduser()
        if not (path / "manifest.json").is_file():
            raise UnknownReference(f"{path} is not a checkpoint folder (no manifest.json)")
        return path, None
    name, alias, ref_run = parse_scoped_ref(ref)
    if ref_run is not None and run is not None and ref_run != run:
        raise CheckpointError(f"{ref!r} names run {ref_run} but run={run!r} was passed")
    index = index or Index.open()
    found = index.resolve(name, alias, scope_for(index, name, ref_run or run))
    if found is not None:
        return found.path, found
    reasons = [describe_available(index, name)]
    from wandbkit_artifacts.remote import fetch_hf, fetch_wandb

    for fetch in (fetch_wandb, fetch_hf):
        try:
            path = fetch(name, alias, index.root, hf_repo)
        except CheckpointError as exc:
            reasons.append(str(exc))
            continue
        if path is None:
            continue
        wanted = ref_run or run
        saved_by = _manifest_run(path)
        if wanted is not None and saved_by != wanted:
            # remote aliases are per name (W&B's are project-wide): not necessarily this run's
            reasons.append(f"{fetch.__name__.removeprefix('fetch_')}'s {name}:{alias} was saved "
                           f"by run {saved_by or '(none)'}, not {wanted}")
            continue
        return path, None
    raise UnknownReference(f"no checkpoint {ref!r}: " + "; ".join(reasons))


def _manifest_run(folder: Path) -> str | None:
    try:
        return read_manifest(folder).get("run_id")
    except ValueError:
        return None


def verify_folder(path: Path) -> list[str]:
    """Problems with a version folder (missing file, size or digest mismatch, a manifest entry
    that points outside the folder); empty when sound."""
    try:
        manifest = read_manifest(path)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    names = list(manifest["files"])
    present = []
    for fname in names:
        try:
            fpath = join_inside(path, fname, what=f"file entry of {path / 'manifest.json'}")
        except UserError as exc:
            problems.append(str(exc))
            continue
        expected = manifest["files"][fname]
        if not fpath.is_file():
            problems.append(f"{fpath}: missing")
        elif fpath.stat().st_size != expected["size"]:
            problems.append(f"{fpath}: size {fpath.stat().st_size} bytes, manifest says "
                            f"{expected['size']}")
        else:
            present.append(fname)
    algorithm = manifest["digest_algorithm"]
    actuals = digest_files([path / f for f in present], algorithm)
    for fname, actual in zip(present, actuals, strict=True):
        expected = manifest["files"][fname]["digest"]
        if actual != expected:
            problems.append(f"{path / fname}: {algorithm} digest {actual} does not match the "
                            f"manifest's {expected}")
    return problems


def _torch_load(path: Path, map_location: str) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise VerificationError(f"{path} cannot be loaded with weights_only=True: "
                                f"{first_line(exc)}",
                                str(path)) from None


def load_folder(path: Path, *, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                scaler: Any = None, map_location: str = "cpu", restore_rng: bool = False,
                verify: bool = True, strict: bool = True) -> LoadedCheckpoint:
    """Verify and load one version folder; restore into the objects given.

    :raises VerificationError: naming the file that is missing, corrupt or unsafe.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        manifest = read_manifest(path)
    except ValueError as exc:
        raise VerificationError(str(exc), str(path / "manifest.json")) from None
    if verify:
        problems = verify_folder(path)
        if problems:
            raise VerificationError("; ".join(problems), problems[0].split(":")[0])
    out = LoadedCheckpoint(ref=str(path), path=path, step=int(manifest["step"]),
                           manifest=manifest, metrics=manifest.get("metrics") or {})
    files = manifest["files"]
    if MODEL_FILE in files:
        try:
            state = load_file(str(path / MODEL_FILE), device=map_location)
        except (SafetensorError, OSError, ValueError) as exc:
            raise VerificationError(f"{path / MODEL_FILE} cannot be read as safetensors: {exc}",
                                    str(path / MODEL_FILE)) from None
        for alias, kept in (manifest.get("tied") or {}).items():
            state[alias] = state[kept]
        out.model_state = state
        if model is not None:
            model.load_state_dict(state, strict=strict)
    for key in ("optimizer", "scheduler", "scaler", "extra"):
        if f"{key}.pt" in files:
            out.states[key] = _torch_load(path / f"{key}.pt", map_location)
    for key, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            continue
        if key not in out.states:
            out.skipped.append(key)
            continue
        obj.load_state_dict(out.states[key])
    if restore_rng and "rng.pt" in files:
        from wandbkit_artifacts import rng

        rng.restore(_torch_load(path / "rng.pt", "cpu"))
    return out


def load(ref: str, model: Any = None, optimizer: Any = None, scheduler: Any = None,
         scaler: Any = None, *, map_location: str = "cpu", fallback: bool = False,
         restore_rng: bool = False, verify: bool = True, strict: bool = True,
         store_dir: str | Path | None = None, hf_repo: str | None = None,
         run: str | None = None) -> LoadedCheckpoint:
    """Load ``ref`` (``NAME:best``, ``NAME:v3``, ``NAME:latest``, ``NAME:step-1200``,
    ``NAME@RUN:best`` or a folder).

    A bare name means the active run's versions when it saved some, else the only run's that
    saved the name (:func:`scope_for` when several did); ``run=`` or ``NAME@RUN`` names
    another run's.

    States are restored into the objects passed. With ``fallback=True`` a version that fails
    verification or safe loading is skipped for the newest older version that loads.
    :raises UnknownReference: when nothing matches (the message lists what exists).
    :raises VerificationError: when the version is corrupt and ``fallback`` is off or nothing
        older loads.
    """
    index = None if isinstance(ref, str) and _is_path(ref) else Index.open(store_dir)
    path, version = resolve(ref, index, hf_repo, run)
    kwargs = dict(model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                  map_location=map_location, restore_rng=restore_rng, verify=verify, strict=strict)
    try:
        out = load_folder(path, **kwargs)
    except VerificationError as first:
        if not fallback or version is None or index is None:
            raise
        failures = [f"{version.ref}: {first}"]
        for older in reversed(index.versions(version.name, version.run_id or "")):
            if older.version >= version.version:
                continue
            try:
                out = load_folder(older.path, **kwargs)
            except VerificationError as exc:
                failures.append(f"{older.ref}: {exc}")
                continue
            out.ref, out.version = older.ref, older.version
            out.skipped.insert(0, "fell back past: " + " | ".join(failures))
            return out
        raise VerificationError("no version verifies: " + " | ".join(failures),
                                first.path) from None
    out.ref = version.ref if version is not None else str(path)
    out.version = version.version if version is not None else None
    return out


RESUME_ALIASES = ("preempt", "latest")


def newest_ref(name: str, index: Index, run: str | None = None) -> str:
    """``NAME:preempt`` or ``NAME:latest`` of run scope ``run`` (by default the only run that
    saved ``name``), whichever names the newer version (by step, then version);
    ``NAME:latest`` when neither is listed here (W&B or the Hub may have it)."""
    found = [v for v in (index.resolve(name, a, run) for a in RESUME_ALIASES) if v is not None]
    if not found:
        return f"{name}@{run}:latest" if run else f"{name}:latest"
    newest = max(found, key=lambda v: (v.step, v.version))
    return f"{name}:v{newest.version}"


def resume(ref: str, model: Any = None, optimizer: Any = None, scheduler: Any = None,
           scaler: Any = None, *, missing_ok: bool = False,
           **kwargs: Any) -> LoadedCheckpoint | None:
    """Like :func:`load`, restoring the RNG states too; continue training at ``result.step + 1``.

    A bare ``NAME`` (or ``NAME@RUN``) resumes from ``NAME:preempt`` or ``NAME:latest``,
    whichever is newer (the checkpoint saved on a preemption signal, or a regular save after
    it). Inside a run, a bare ``NAME`` resumes only from that run's own versions: another run
    that saved the same name in this store is never taken for this one (a notice says so);
    ``NAME@RUN`` resumes from that run's on purpose.
    With ``missing_ok=True`` a name with no version yet returns None (a first start).
    """
    kwargs.setdefault("restore_rng", True)
    if isinstance(ref, str) and not _is_path(ref) and ":" not in ref:
        name, _, run = parse_scoped_ref(ref)
        index = Index.open(kwargs.get("store_dir"))
        run = run or kwargs.pop("run", None) or active_run_id()
        if run is not None and run not in index.runs_of(name) and index.runs_of(name):
            others = ", ".join(r or "(no run)" for r in index.runs_of(name))
            _notice(f"resume({ref!r}): run {run} has no version of {name!r} yet; versions saved "
                    f"by other runs ({others}) are not this run's: resume('{name}@RUN') takes "
                    "one on purpose")
            if missing_ok:
                return None
            raise UnknownReference(f"no checkpoint {name!r} saved by run {run}; "
                                   f"{describe_available(index, name)}")
        ref = newest_ref(name, index, run)
    try:
        return load(ref, model, optimizer, scheduler, scaler, **kwargs)
    except UnknownReference:
        if missing_ok:
            return None
        raise


def _notice(message: str) -> None:
    import sys

    print(f"wandbkit-artifacts: {message}", file=sys.stderr, flush=True)
