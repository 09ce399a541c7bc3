"""wandbkit-sweeps: the W&B sweep file, run on W&B or locally on Optuna (SQLite or PostgreSQL).

>>> import wandbkit_sweeps
>>> def train(config, run):
...     for epoch in range(5):
...         run.log({"val/loss": (config["lr"] - 0.01) ** 2 + 1 / (epoch + 1)})
>>> result = wandbkit_sweeps.run({"method": "random", "metric": {"name": "val/loss"},
...                               "parameters": {"lr": {"min": 0.001, "max": 0.1}}},
...                              train, count=4)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["SweepConfigError", "SweepResult", "TrialPruned", "agent", "hyperband_bands", "load_sweep",
           "run", "runs_to_stop"]

_EXPORTS = {
    "run": "wandbkit_sweeps.api", "agent": "wandbkit_sweeps.api", "SweepResult": "wandbkit_sweeps.api",
    "load_sweep": "wandbkit_sweeps.config", "SweepConfigError": "wandbkit_sweeps.config",
    "TrialPruned": "wandbkit_sweeps.agent",
    "hyperband_bands": "wandbkit_sweeps.hyperband", "runs_to_stop": "wandbkit_sweeps.hyperband",
}


def __getattr__(name: str) -> Any:
    """Import on first use: ``import wandbkit_sweeps`` stays cheap (no Optuna until needed)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wandbkit_sweeps' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
