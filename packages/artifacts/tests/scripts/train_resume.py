"""Train a tiny model; ``full N`` runs N steps checkpointing at N/2, ``resume N`` continues from it.

Prints one JSON line: {"losses": {step: float.hex()}} for the steps it ran. Randomness comes from
torch (data, dropout), NumPy and Python (noise added to the loss), so every RNG must be restored.
"""

import json
import random
import sys

import numpy as np
import torch

from wandbkit_artifacts import CheckpointManager, resume


def build(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def step(model, opt, sched) -> float:
    x = torch.randn(8, 6)
    y = x.sum(1, keepdim=True) + float(np.random.normal()) + random.random()
    loss = ((model(x) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    half = n // 2
    losses = {}
    if mode == "full":
        random.seed(1)
        np.random.seed(1)
        model, opt, sched = build(0)
        ckpt = CheckpointManager(None, "resume", every_n_steps=half, async_save=True)
        for s in range(1, n + 1):
            losses[s] = step(model, opt, sched).hex()
            ckpt.save(s, model, opt, sched)
        ckpt.finish()
    else:
        model, opt, sched = build(123)  # different init: everything must come from the checkpoint
        state = resume(f"resume:step-{half}", model, opt, sched)
        for s in range(state.step + 1, n + 1):
            losses[s] = step(model, opt, sched).hex()
    print(json.dumps({"losses": losses}))


if __name__ == "__main__":
    main()
