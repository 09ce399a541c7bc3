"""Helpers for the wandbkit-lightning tests: a short Trainer, and W&B's own records read back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from wandbkit_lightning.tiny import quiet_trainer_kwargs

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from wandb_records import wandb_records  # noqa: E402


def short_trainer(logger: Any, callbacks: list[Any] | None = None, max_steps: int = 8,
                  every: int = 2, **overrides: Any) -> pl.Trainer:
    """A CPU Trainer logging every step and validating (one batch) every ``every`` steps."""
    kwargs: dict[str, Any] = dict(max_steps=max_steps, logger=logger, callbacks=callbacks or [],
                                  log_every_n_steps=1, val_check_interval=every,
                                  check_val_every_n_epoch=None, limit_val_batches=1,
                                  **quiet_trainer_kwargs())
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def wandb_run_dirs(store: Path) -> list[Path]:
    """The offline W&B run folders under the store (``latest-run`` is a link: skipped)."""
    return sorted(p for p in (store / "wandb").glob("offline-run-*") if p.is_dir())


def read_run(run_dir: Path) -> dict[str, Any]:
    """What W&B recorded: ``history`` (rows in order), ``config``, ``metrics`` (define_metric
    records), ``exit`` (the exit record) and ``files`` (media paths)."""
    out: dict[str, Any] = {"history": [], "config": {}, "metrics": [], "exit": None}
    for rec in wandb_records(run_dir):
        kind = rec.get("type")
        if kind == "history":
            out["history"].append(rec["history"]["item"])
        elif kind == "run":
            out["config"].update(rec["run"].get("config", {}).get("update", {}))
        elif kind == "config":
            out["config"].update(rec["config"].get("update", {}))
        elif kind == "metric":
            out["metrics"].append(rec["metric"])
        elif kind == "exit":
            out["exit"] = rec["exit"]
    return out
