"""wandbkit-hf: HuggingFace ``Trainer`` through wandbkit.

>>> from wandbkit_hf import WandbkitCallback
>>> trainer = Trainer(model, args, callbacks=[WandbkitCallback()])  # doctest: +SKIP

One W&B run (even with ``report_to="wandb"``), written by the main process only; metrics as
``train/…``, ``eval/…``, ``test/…`` at ``train/global_step``; config from the arguments, the
model, PEFT and the datasets; each checkpoint the Trainer saves registered in place as a
version (``latest``, ``step-N``, ``best``, ``final``) that :func:`resolve` turns back into a
folder for ``resume_from_checkpoint``; one grouped run per hyperparameter-search trial.
"""

from __future__ import annotations

from wandbkit_hf.callback import WandbkitCallback
from wandbkit_hf.checkpoints import resolve
from wandbkit_hf.metrics import compute_metrics, make_compute_metrics
from wandbkit_hf.track import hyperparameter_search, track

__version__ = "0.1.0"

__all__ = ["WandbkitCallback", "__version__", "compute_metrics", "hyperparameter_search",
           "make_compute_metrics", "resolve", "track"]
