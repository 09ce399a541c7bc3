"""wandbkit for hand-written PyTorch loops: ``Tracker`` for the training loop and
``run_smoke`` (``wandbkit smoke``) for a five-minute "is this model trainable?" answer.

Both are imported on first use: ``import wandbkit_torch`` stays cheap, and a problem in one
half never breaks the other.
"""

from __future__ import annotations

from wandbkit_torch._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, lambda: list(globals()))
