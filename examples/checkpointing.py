"""Checkpointing a training loop with wandbkit-artifacts, then resuming it exactly.

    python examples/checkpointing.py   # trains 60 steps, checkpoints, resumes from step 30
    wandbkit ckpt ls                              # versions, aliases, step, metrics, size
    wandbkit ckpt verify regressor                # re-digest every file (exit 1 on a mismatch)

Runs offline (W&B records the artifacts; `wandbkit sync` uploads them later).
"""

from __future__ import annotations

import os

import torch

import wandbkit
from wandbkit_artifacts import CheckpointManager, list_versions, resume

STEPS = 60


def make() -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(64, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
    return model, opt, sched


def train_step(model, opt, sched, step: int) -> dict[str, torch.Tensor | float]:
    """One optimisation step, plus a validation loss every 10 steps (it draws random data too)."""
    x = torch.randn(64, 16)
    loss = torch.nn.functional.mse_loss(model(x), x[:, :4].sum(1, keepdim=True))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    metrics: dict[str, torch.Tensor | float] = {"train/loss": loss.detach(),
                                                "train/lr": sched.get_last_lr()[0]}
    if step % 10 == 0:
        model.eval()
        with torch.no_grad():
            xv = torch.randn(256, 16)
            target = xv[:, :4].sum(1, keepdim=True)
            metrics["val/loss"] = torch.nn.functional.mse_loss(model(xv), target)
        model.train()
    return metrics


def main() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    torch.manual_seed(0)
    model, opt, sched = make()
    losses = {}
    with wandbkit.init(project="checkpointing-example", config={"steps": STEPS}) as run:
        ckpt = CheckpointManager(run, name="regressor", every_n_steps=10, keep_last_k=2,
                                 metric="val/loss", mode="min", keep_best_k=1)
        for step in range(1, STEPS + 1):
            metrics = train_step(model, opt, sched, step)
            losses[step] = float(metrics["train/loss"])
            run.log(metrics, step=step)
            # the policy turns most calls into no-ops; saves are written on a background thread
            ckpt.save(step, model, opt, sched, metrics={"val/loss": metrics.get("val/loss")},
                      aliases=["halfway"] if step == STEPS // 2 else ())
        ckpt.finish()

    for v in list_versions("regressor"):
        aliases = ", ".join(v.aliases)
        print(f"{v.ref:14s} step {v.step:3d}  aliases {aliases:28s} {v.size / 1e3:.0f} kB")

    # A fresh model and optimizer pick up at the halfway version, RNG states included.
    model2, opt2, sched2 = make()
    state = resume("regressor:halfway", model2, opt2, sched2)
    same = all(float(train_step(model2, opt2, sched2, s)["train/loss"]) == losses[s]
               for s in range(state.step + 1, STEPS + 1))
    print(f"resumed at step {state.step}: remaining {STEPS - state.step} losses "
          f"bit-identical: {same}")


if __name__ == "__main__":
    main()
