"""wandbkit-hf: HuggingFace ``Trainer`` through wandbkit.

>>> from wandbkit_hf import WandbkitCallback
>>> trainer = Trainer(model, args, callbacks=[WandbkitCallback()])  # doctest: +SKIP

One W&B run (even with ``report_to="wandb"``), written by the main process only; metrics as
``train/…``, ``eval/…``, ``test/…`` at ``train/global_step``; config from the arguments, the
model, PEFT and the datasets; each checkpoint the Trainer saves registered in place as a
version (``latest``, ``step-N``, ``best``, ``final``) that :func:`resolve` turns back into a
folder for ``resume_from_checkpoint``; one grouped run per hyperparameter-search trial.

``WandbkitTracker`` is the same for accelerate: ``Accelerator(log_with=WandbkitTracker())``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Imported on first use: the plugin registry imports this package whenever wandbkit loads its
# plugins (every ``wandbkit.init``), and transformers takes seconds to import.
_EXPORTS = {
    "WandbkitCallback": "wandbkit_hf.callback",
    "WandbkitTracker": "wandbkit_hf.accelerate_tracker",
    "resolve": "wandbkit_hf.checkpoints",
    "compute_metrics": "wandbkit_hf.metrics",
    "make_compute_metrics": "wandbkit_hf.metrics",
    "hyperparameter_search": "wandbkit_hf.tracking",
    "track": "wandbkit_hf.tracking",
}

__all__ = ["WandbkitCallback", "WandbkitTracker", "__version__", "compute_metrics",
           "hyperparameter_search", "make_compute_metrics", "resolve", "track"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wandbkit_hf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
