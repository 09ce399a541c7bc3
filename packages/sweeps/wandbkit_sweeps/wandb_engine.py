"""``--engine wandb``: the same file on W&B's servers (``wandb.sweep`` + ``wandb agent``).

W&B's controller lives on its servers, so this needs a login and the network; offline it
fails at once with a clear message instead of hanging on retries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from wandbkit.errors import UserError
from wandbkit.settings import is_logged_in
from wandbkit_sweeps.config import SweepSpec

ENGINES = ("auto", "local", "wandb")


def _offline() -> bool:
    return os.environ.get("WANDB_MODE", "").strip().lower() in ("offline", "dryrun", "disabled")


def choose_engine(engine: str) -> str:
    """``local`` or ``wandb``: auto picks W&B when logged in and not offline."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        return "wandb" if is_logged_in() and not _offline() else "local"
    return engine


def run_on_wandb(spec: SweepSpec, *, count: int | None = None, project: str | None = None) -> int:
    """Create the sweep on W&B and run one ``wandb agent`` here; returns its exit code."""
    if _offline() or not is_logged_in():
        raise UserError("--engine wandb needs W&B online: run `wandb login` (and unset "
                        "WANDB_MODE=offline), or use --engine local to run the sweep with Optuna")
    if not (spec.program or spec.command):
        raise UserError("--engine wandb runs the file's `program`/`command`; add `program`")
    import wandb

    try:
        sweep_id = wandb.sweep(sweep=spec.raw, project=project or spec.project, entity=spec.entity)
    except Exception as exc:  # network, auth, server-side validation
        raise UserError(f"W&B refused the sweep: {exc}") from exc
    path = "/".join(p for p in (spec.entity, project or spec.project, sweep_id) if p)
    exe = shutil.which("wandb") or sys.executable
    argv = [exe, "agent", path] if exe != sys.executable else [exe, "-m", "wandb", "agent", path]
    if count:
        argv += ["--count", str(count)]
    return subprocess.call(argv)
