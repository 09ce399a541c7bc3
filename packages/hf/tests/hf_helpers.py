"""Helpers for the wandbkit-hf tests: a tiny Trainer, and W&B's records read back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainingArguments

from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from wandb_records import wandb_records  # noqa: E402


def tiny_args(output_dir: Path, **overrides: Any) -> TrainingArguments:
    """Arguments for a few CPU steps of the tiny GPT-2, logging every step."""
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir), max_steps=8, per_device_train_batch_size=8,
        per_device_eval_batch_size=16, learning_rate=3e-3, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=True, dataloader_num_workers=0, seed=0,
        disable_tqdm=True)
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def tiny_trainer(output_dir: Path, callbacks: list[Any] | None = None, eval_dataset: Any = None,
                 **overrides: Any) -> Trainer:
    """A Trainer for the tiny GPT-2 on synthetic tokens."""
    return Trainer(model=tiny_gpt2(), args=tiny_args(output_dir, **overrides),
                   train_dataset=synthetic_dataset(64, seed=0), eval_dataset=eval_dataset,
                   callbacks=callbacks)


def wandb_run_dirs(store: Path) -> list[Path]:
    """The offline W&B run folders under the store (``latest-run`` is a link: skipped)."""
    return sorted(p for p in (store / "wandb").glob("offline-run-*") if p.is_dir())


def run_dir_of(store: Path, run_id: str) -> Path:
    """The offline W&B folder of one run."""
    found = [p for p in wandb_run_dirs(store) if p.name.endswith(f"-{run_id}")]
    assert len(found) == 1, (run_id, wandb_run_dirs(store))
    return found[0]


def read_run(run_dir: Path) -> dict[str, Any]:
    """``{"history": {step: row}, "summary": {...}, "config": {...}, "run": ..., "artifacts": [...]}``."""
    out: dict[str, Any] = {"history": {}, "summary": {}, "config": {}, "run": None,
                           "artifacts": []}
    for rec in wandb_records(run_dir):
        kind = rec.get("type")
        if kind == "history":
            item = rec["history"]["item"]
            out["history"].setdefault(int(item["_step"]), {}).update(item)
        elif kind == "summary":
            out["summary"].update(_flat(rec["summary"].get("update", {})))
        elif kind == "run":
            out["run"] = rec["run"]
            out["config"].update(rec["run"].get("config", {}).get("update", {}))
        elif kind == "config":
            out["config"].update(rec["config"].get("update", {}))
        elif kind == "artifact":
            out["artifacts"].append(rec["artifact"])
    return out


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and not k.startswith("_"):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out
