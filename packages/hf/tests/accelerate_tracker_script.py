"""Run by test_accelerate_tracker.py under ``torchrun --nproc_per_node=2`` (gloo, CPU): a tiny
loop with ``Accelerator(log_with=WandbkitTracker())`` on every process; each writes what it saw."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from wandbkit_hf import WandbkitTracker


def main(out: str) -> None:
    """Four steps of a linear model, logged every step; rank 1 also calls the tracker directly."""
    tracker = WandbkitTracker()
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("acc-ddp", config={"lr": 0.1}, init_kwargs={"wandb": {"name": "two"}})
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    g = torch.Generator().manual_seed(accelerator.process_index)
    for step in range(4):
        x, y = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
        loss = torch.nn.functional.mse_loss(model(x), y)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"train/loss": loss.detach()}, step=step)
    # called on every process: a no-op except on the main one
    tracker.log({"direct/value": accelerator.process_index}, step=4)
    tracker.log_images({"direct/image": [np.zeros((2, 2), dtype=np.uint8)]}, step=4)
    rank = accelerator.process_index
    run = tracker.tracker
    accelerator.end_training()
    Path(f"{out}.{rank}").write_text(json.dumps({
        "rank": rank, "world_size": accelerator.num_processes,
        "run_id": run.id if run is not None else None}))


if __name__ == "__main__":
    main(sys.argv[1])
