"""A tiny training loop with preemption handling: the process the preemption tests signal.

``python preemptible_train.py STEPS DELAY`` trains STEPS steps (sleeping DELAY s after each) in
the run ``resume="auto"`` finds, continuing from its newest checkpoint when resumed. Prints one
JSON line first ({"resumed", "start", "id"}) and one per step ({"step", "loss": float.hex()}).
Randomness comes from torch (data, dropout), NumPy and Python, so every RNG must be restored.
"""

import json
import random
import sys
import time

import numpy as np
import torch

import wandbkit
from wandbkit_artifacts import CheckpointManager, resume


def main() -> None:
    steps, delay = int(sys.argv[1]), float(sys.argv[2])
    run = wandbkit.init(project="preempt", resume="auto", config={"lr": 1e-2, "steps": steps})
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=run.config["lr"])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    ckpt = CheckpointManager(run, "model", every_n_steps=4, keep_last_k=2, preempt=True)
    state = resume("model", model, opt, sched, missing_ok=True) if run.resumed else None
    start = state.step + 1 if state is not None else 1
    print(json.dumps({"resumed": run.resumed, "start": start, "id": run.id}), flush=True)
    for step in range(start, steps + 1):
        x = torch.randn(8, 6)
        y = x.sum(1, keepdim=True) + float(np.random.normal()) + random.random()
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.log({"train/loss": loss.item()}, step=step)
        print(json.dumps({"step": step, "loss": loss.item().hex()}), flush=True)
        ckpt.save(step, model, opt, sched)  # the safe point when a preemption signal came
        time.sleep(delay)
    ckpt.finish()
    run.finish()


if __name__ == "__main__":
    main()
