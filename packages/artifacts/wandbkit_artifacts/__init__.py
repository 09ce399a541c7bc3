"""Checkpoint management for wandbkit: atomic async saves, versions and aliases, W&B Artifacts,
exact resume and verified loads.

    from wandbkit_artifacts import CheckpointManager, resume
    ckpt = CheckpointManager(run, name="model", every_n_steps=100, keep_last_k=3,
                             metric="val/loss", mode="min", keep_best_k=1)
    ckpt.save(step, model, optimizer, scheduler, metrics={"val/loss": loss})
    ckpt.finish()
    state = resume("model:latest", model, optimizer, scheduler)   # continue at state.step + 1
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["CheckpointManager", "SaveResult", "LoadedCheckpoint", "load", "resume", "verify",
           "gc", "apply_pending_deletions", "list_versions", "CheckpointError",
           "VerificationError", "UnknownReference"]

_LAZY = {
    "CheckpointManager": "wandbkit_artifacts.manager",
    "SaveResult": "wandbkit_artifacts.manager",
    "LoadedCheckpoint": "wandbkit_artifacts.loader",
    "load": "wandbkit_artifacts.loader",
    "resume": "wandbkit_artifacts.loader",
    "gc": "wandbkit_artifacts.cleanup",
    "apply_pending_deletions": "wandbkit_artifacts.wandb_link",
    "CheckpointError": "wandbkit_artifacts.errors",
    "VerificationError": "wandbkit_artifacts.errors",
    "UnknownReference": "wandbkit_artifacts.errors",
}


def __getattr__(name: str) -> Any:
    # torch loads only when a checkpoint feature is first used, not on `import wandbkit_artifacts`
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wandbkit_artifacts' has no attribute {name!r}")


def verify(ref: str, store_dir: Any = None) -> list[str]:
    """Problems found re-digesting version ``ref`` (``NAME:ALIAS`` or a folder); [] if sound."""
    from wandbkit_artifacts.index import Index
    from wandbkit_artifacts.loader import resolve, verify_folder

    index = None if "/" in ref else Index.open(store_dir)
    path, _ = resolve(ref, index)
    return verify_folder(path)


def list_versions(name: str | None = None, store_dir: Any = None) -> list[Any]:
    """Listed versions (of ``name``, or all), oldest first, with aliases, step, metrics, size."""
    from wandbkit_artifacts.index import Index

    return Index.open(store_dir).versions(name)
