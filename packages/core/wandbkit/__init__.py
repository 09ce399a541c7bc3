"""wandbkit: W&B tracking for ML training that costs the training loop (almost) nothing.

>>> import wandbkit
>>> with wandbkit.init(project="demo", mode="offline") as run:
...     run.log({"train/loss": 0.5})

It is also a drop-in for wandb's module-level API (:mod:`wandbkit.dropin`): ``import wandbkit as
wandb`` runs a wandb training script unchanged (``wandb.init``, ``wandb.log``, ``wandb.config``,
``wandb.run``, ...; see ``docs/wandb-compat.md``).

Plugins implement the hooks in :mod:`wandbkit.hookspecs` and mark them with ``hookimpl``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any as _Any

from wandbkit import dropin as _dropin
from wandbkit import lifecycle as _lifecycle
from wandbkit.dropin import (
    AlertLevel,
    Settings,
    agent,
    alert,
    config,
    define_metric,
    finish,
    init,
    log,
    login,
    save,
    summary,
    sweep,
    unwatch,
    watch,
)
from wandbkit.dropin_artifacts import Artifact, log_artifact, use_artifact
from wandbkit.errors import WandbkitError as Error
from wandbkit.hookspecs import hookimpl
from wandbkit.media import Audio, Histogram, Html, Image, Plotly, Table, Video
from wandbkit.metrics import compute_metrics
from wandbkit.preempt import check_preempt, on_preempt, preempted
from wandbkit.run import Run, get_run

# ``wandbkit.run`` is the active run (None before init), as ``wandb.run`` is. The module that
# defines Run is imported as ``from wandbkit.run import ...``: ``import wandbkit.run as m`` and
# string targets such as ``monkeypatch.setattr("wandbkit.run.x", ...)`` read the attribute,
# which is the active run, not the module.
del run  # noqa: F821 (the submodule binding the import above created)


def __getattr__(name: str) -> _Any:
    if name == "run":
        return _lifecycle.current()
    if name in ("plot", "plot_table"):  # wandb.plot.line(...), wandb.plot_table(...): on first use
        import importlib

        plot = importlib.import_module("wandbkit.plot")
        return plot if name == "plot" else plot.plot_table
    if name in _dropin.UNSUPPORTED:
        return _dropin.Unsupported(name)
    raise AttributeError(f"module 'wandbkit' has no attribute {name!r}")


__all__ = ["AlertLevel", "Artifact", "Audio", "Error", "Histogram", "Html", "Image", "Plotly", "Run",
           "Settings", "Table", "Video", "__version__", "agent", "alert", "check_preempt",
           "compute_metrics", "config",
           "define_metric",
           "finish", "get_run", "hookimpl", "init", "log", "log_artifact", "login", "on_preempt",
           "preempted", "save", "summary", "sweep", "unwatch", "use_artifact", "watch"]
