"""Shared set-up for the benchmarks that run wandb: offline, silent, files in a temp folder."""

from __future__ import annotations

import os
from pathlib import Path


def offline_wandb_dirs(tmp: Path) -> None:
    """Point wandb's folders into ``tmp`` (unless the caller set them), offline and quiet."""
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        (tmp / var.lower()).mkdir()
        os.environ.setdefault(var, str(tmp / var.lower()))
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDBKIT_QUIET", "1")
