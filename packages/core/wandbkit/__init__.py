"""wandbkit: W&B tracking for ML training that costs the training loop (almost) nothing.

>>> import wandbkit
>>> with wandbkit.init(project="demo", mode="offline") as run:
...     run.log({"train/loss": 0.5})

Plugins implement the hooks in :mod:`wandbkit.hookspecs` and mark them with ``hookimpl``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from wandbkit.hookspecs import hookimpl
from wandbkit.media import Histogram, Image, Table
from wandbkit.run import Run, finish, get_run, init

__all__ = ["Histogram", "Image", "Run", "Table", "__version__", "finish", "get_run", "hookimpl",
           "init"]
