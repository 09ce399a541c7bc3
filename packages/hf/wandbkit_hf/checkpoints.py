"""HF checkpoints as wandbkit checkpoint versions, through core's checkpoint hook.

The Trainer writes ``checkpoint-N/`` itself; the callback asks the installed checkpoint plugin
(``wandbkit-artifacts``) to register that folder *in place* (``CheckpointRequest.files``: hard
links, nothing written twice) with aliases ``latest``, ``step-N`` and ``best``. No checkpoint
plugin installed: a one-line notice, and training goes on without versions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wandbkit.checkpointing import load_checkpoint

CHECKPOINT_PREFIX = "checkpoint-"


def checkpoint_name(args: Any, trial_name: str | None = None) -> str:
    """A version name from ``run_name`` (else the output folder's name), safe for references."""
    base = args.run_name or Path(args.output_dir or "model").name or "model"
    if trial_name:
        base = f"{base}-{trial_name}"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(base)).strip("-.") or "model"
    return name[:100]


def find_checkpoint(output_dir: str | Path, step: int) -> Path | None:
    """The ``checkpoint-<step>`` folder the Trainer just wrote: directly in ``output_dir``, or in
    a trial's ``run-*`` sub-folder during a hyperparameter search (the newest if several)."""
    root = Path(output_dir)
    direct = root / f"{CHECKPOINT_PREFIX}{step}"
    if direct.is_dir():
        return direct
    found = [p for p in root.glob(f"*/{CHECKPOINT_PREFIX}{step}") if p.is_dir()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def resolve(ref: str, fallback: bool = False) -> str:
    """The local folder of a wandbkit checkpoint reference, for ``resume_from_checkpoint``.

    >>> trainer.train(resume_from_checkpoint=wandbkit_hf.resolve("my-run:best"))  # doctest: +SKIP

    :param ref: ``NAME:best``, ``NAME:latest``, ``NAME:step-N``, ``NAME:vN`` or a folder.
    :param fallback: when the version fails verification, take the newest older one that passes.
    :raises wandbkit.errors.UserError: when nothing matches (the message lists what exists) or
        no checkpoint plugin is installed.
    """
    result = load_checkpoint(ref, resolve_only=True, fallback=fallback)
    path = getattr(result, "path", None)
    if path is None:
        raise TypeError(f"the checkpoint plugin that answered for {ref!r} returned no path")
    return str(path)
