"""Read what the real wandb SDK wrote for an offline run (via `wandb leet inspect --json`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def wandb_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of an offline run folder, as dicts (``type``: history, summary, run, ...)."""
    wandb_cli = Path(sys.executable).parent / "wandb"
    out = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def history_items(run_dir: str | Path) -> list[dict[str, Any]]:
    """The ``history`` records' items, in order (each has ``_step`` and the logged keys)."""
    return [r["history"]["item"] for r in wandb_records(run_dir) if r.get("type") == "history"]
