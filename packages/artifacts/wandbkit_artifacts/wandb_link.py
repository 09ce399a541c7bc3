"""Logging versions to W&B Artifacts, and deleting them there (online) or later (offline).

Versions are logged through the wandbkit run (``run.log_artifact``), whose W&B sink adds the
folder with ``policy="immutable"`` (no staging copy) in its own worker process. A plain
``wandb`` run is accepted too, for users who call ``wandb.init`` themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from wandbkit.formatting import first_line
from wandbkit_artifacts.index import Index, Version


def run_wandb_mode(run: Any) -> str | None:
    """``"online"``/``"offline"`` when ``run`` sends artifacts to W&B, else None."""
    if run is None:
        return None
    settings = getattr(run, "settings", None)
    mode = getattr(settings, "wandb_mode", None)
    if isinstance(mode, str):
        return None if mode == "disabled" else mode
    if _is_wandb_run(run):
        return "offline" if run.settings._offline else "online"
    return None


def _is_wandb_run(run: Any) -> bool:
    return type(run).__module__.startswith("wandb.")


def log_version(run: Any, version: Version, manifest: dict[str, Any], aliases: list[str]) -> None:
    """Log ``version``'s folder as a W&B Artifact of type ``model`` with ``aliases``."""
    metadata = {**manifest, "version": version.version}
    if _is_wandb_run(run):
        import wandb

        art = wandb.Artifact(version.name, type="model", metadata=metadata)
        art.add_dir(str(version.path), policy="immutable")
        run.log_artifact(art, aliases=aliases or None)
    else:
        run.log_artifact(version.path, version.name, type="model", aliases=list(aliases),
                         metadata=metadata)


def delete_remote(project: str | None, name: str, manifest_id: str) -> int:
    """Delete the W&B versions of ``name`` whose metadata id is ``manifest_id``; returns how many.

    Needs W&B online and a key; raises what ``wandb.Api()`` raises otherwise.
    """
    import wandb

    api = wandb.Api()
    path = f"{api.default_entity}/{project}/{name}" if project else name
    deleted = 0
    for art in api.artifacts("model", path):
        if (art.metadata or {}).get("id") == manifest_id:
            art.delete(delete_aliases=True)
            deleted += 1
    return deleted


def apply_pending_deletions(store_dir: str | Path | None = None,
                            run_id: str | None = None) -> dict[str, Any]:
    """Apply W&B deletions remembered while offline; call after ``wandbkit sync``.

    ``run_id`` limits it to versions logged by that run (the one just synced): a version of a
    run not yet uploaded must keep its files until that run's sync reads them.

    Each pending deletion that succeeds (or finds nothing left to delete) is forgotten and its
    kept local files are removed. Returns ``{"applied": n, "kept": n, "error": str|None}``;
    when W&B is not reachable (offline, no key) every deletion is kept for the next sync.
    """
    from wandbkit_artifacts.remote import wandb_offline_reason

    index = Index.open(store_dir)
    pending = [p for p in index.pending_deletions() if run_id is None or p.run_id == run_id]
    applied, error = 0, None
    reason = wandb_offline_reason() if pending else None
    if reason:
        return {"applied": 0, "kept": len(pending), "error": reason}
    for p in pending:
        try:
            delete_remote(p.project, p.name, p.manifest_id)
        except Exception as exc:  # offline / no key / network: keep them all for next time
            error = f"{type(exc).__name__}: {first_line(exc)}"
            break
        if p.trash_path:
            shutil.rmtree(p.trash_path, ignore_errors=True)
        index.done_deletion(p.id)
        applied += 1
    return {"applied": applied, "kept": len(pending) - applied, "error": error}
