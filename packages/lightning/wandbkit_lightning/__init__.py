"""wandbkit-lightning: PyTorch Lightning through wandbkit.

>>> from wandbkit_lightning import WandbkitLogger
>>> trainer = Trainer(logger=WandbkitLogger(project="mnist", log_model="all"))  # doctest: +SKIP

``WandbkitLogger`` takes ``WandbLogger``'s arguments and behaves like it where that one is right
(hyperparameters in the config, metrics plotted against ``trainer/global_step``, ``log_model``,
rank 0 only), with rows that never wait for W&B, a local store, and ``ModelCheckpoint`` files
registered in place as versions (``latest``, ``best``, ``step-N``) that :func:`resolve` turns back
into a ``ckpt_path``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Imported on first use: the plugin registry imports this package whenever wandbkit loads its
# plugins (every ``wandbkit.init``), and Lightning takes seconds to import.
_EXPORTS = {
    "WandbkitLogger": "wandbkit_lightning.logger",
    "resolve": "wandbkit_lightning.checkpoints",
}

__all__ = ["WandbkitLogger", "__version__", "resolve"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wandbkit_lightning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
