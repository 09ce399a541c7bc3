"""Shared pieces for the tracker tests: a tiny model, a plain loop, and readers for what the
local store and W&B's offline run recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import wandbkit
from wandbkit.store import Store


def tiny_mlp(seed: int = 0) -> nn.Module:
    """A 3-layer MLP: groups ``0``, ``2`` and ``4``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def batch(step: int, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic classification batch."""
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def train(tracker: Any, model: nn.Module, optimizer: torch.optim.Optimizer, steps: int,
          before_step: Callable[[int], None] | None = None) -> None:
    """The loop a user writes: forward, backward, after_backward, step, tracker.step."""
    for step in range(steps):
        x, y = batch(step)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        tracker.after_backward()
        if before_step is not None:
            before_step(step)
        optimizer.step()
        tracker.step(loss, batch_size=len(x), tokens=len(x) * 8)
        optimizer.zero_grad(set_to_none=True)
        if tracker.should_stop:
            break


def store_history(run: Any) -> dict[str, dict[int, Any]]:
    """``{key: {step: value}}`` as the local store kept it."""
    hist = Store.open(run.store_dir).history(run.id)
    return {k: dict(v) for k, v in hist.items()}


def wandb_dir(run: Any) -> Path:
    """The offline W&B run folder of a finished run."""
    assert run.report is not None, "finish the run first"
    where = next(s.info.get("where") for s in run.report.sinks if s.name == "wandb")
    assert where, run.report.to_dict()
    return Path(where)


def wandb_records(run: Any) -> list[dict[str, Any]]:
    """Every record of the offline run, through ``wandb leet inspect --json``."""
    exe = Path(sys.executable).with_name("wandb")
    out = subprocess.run([str(exe), "leet", "inspect", "--json", str(wandb_dir(run))],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wandb_history(run: Any) -> dict[int, dict[str, Any]]:
    """``{step: {key: value}}`` from the offline run's history records."""
    rows: dict[int, dict[str, Any]] = {}
    for rec in wandb_records(run):
        if rec.get("type") == "history":
            item = rec["history"]["item"]
            rows.setdefault(int(item["_step"]), {}).update(item)
    return rows


def new_run(**kwargs: Any) -> Any:
    """An offline run in the test's temp store."""
    kwargs.setdefault("project", "tracker-tests")
    kwargs.setdefault("mode", "offline")
    return wandbkit.init(**kwargs)


def wandb_histogram(row: dict[str, Any], key: str) -> dict[str, Any]:
    """A histogram from a W&B history row (leet prints it as ``key._type``, ``key.bins``,
    ``key.values``)."""
    return {part: row[f"{key}.{part}"] for part in ("_type", "bins", "values")
            if f"{key}.{part}" in row}
