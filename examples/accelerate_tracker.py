"""A hand-written accelerate loop tracked by wandbkit: `Accelerator(log_with=WandbkitTracker())`.

    python examples/accelerate_tracker.py                               # one process, CPU
    torchrun --nproc_per_node=2 examples/accelerate_tracker.py          # two: still one run
    wandbkit runs --project accelerate-example

The switch from `log_with="wandb"` is one word; `init_trackers(project, config=, init_kwargs=
{"wandb": {...}})`, `accelerator.log(values, step=)` and `end_training()` stay as they are.
Only the main process starts a run and logs.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from accelerate import Accelerator

from wandbkit_hf import WandbkitTracker


def main() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    accelerator = Accelerator(cpu=True, log_with=WandbkitTracker())
    config = {"lr": 0.05, "steps": 50, "batch_size": 32}
    accelerator.init_trackers("accelerate-example", config=config,
                              init_kwargs={"wandb": {"name": "linear-fit", "tags": ["example"]}})

    torch.manual_seed(accelerator.process_index)
    w_true = torch.linspace(-1, 1, 8).unsqueeze(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    model, optimizer = accelerator.prepare(model, optimizer)

    for step in range(config["steps"]):
        x = torch.randn(config["batch_size"], 8)
        loss = torch.nn.functional.mse_loss(model(x), x @ w_true)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        # a tensor is fine: wandbkit reads it on its background thread, not here
        accelerator.log({"train/loss": loss.detach()}, step=step)

    tracker = accelerator.get_tracker("wandbkit")
    with torch.no_grad():
        x = torch.randn(4, 8)
        preds = accelerator.unwrap_model(model)(x).squeeze(1).tolist()
    tracker.log_table("eval/predictions", columns=["target", "prediction"],
                      data=[[t, p] for t, p in zip((x @ w_true).squeeze(1).tolist(), preds,
                                                   strict=True)], step=config["steps"])
    tracker.log_images({"eval/weights": [np.uint8(255 * torch.sigmoid(
        accelerator.unwrap_model(model)[0].weight.detach()).numpy())]}, step=config["steps"])
    accelerator.end_training()  # finishes the run


if __name__ == "__main__":
    main()
