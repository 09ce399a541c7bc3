"""wandbkit for hand-written PyTorch loops: ``Tracker`` for the training loop and
``run_smoke`` (``wandbkit smoke``) for a five-minute "is this model trainable?" answer.

Both are imported on first use: ``import wandbkit_torch`` stays cheap, and a problem in one
half never breaks the other.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Tracker": "wandbkit_torch.tracker",
    "RedFlagPolicy": "wandbkit_torch.red_flags",
    "RedFlagError": "wandbkit_torch.red_flags",
    "init_run": "wandbkit_torch.distributed",
    "run_smoke": "wandbkit_torch.smoke.runner",
    "quick_train": "wandbkit_torch.smoke.runner",
    "SmokeReport": "wandbkit_torch.smoke.report",
    "SmokeSettings": "wandbkit_torch.smoke.context",
    "SmokeContext": "wandbkit_torch.smoke.context",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
