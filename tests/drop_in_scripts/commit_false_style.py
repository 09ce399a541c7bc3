"""Values gathered over several calls with commit=False, explicit steps, define_metric."""

import wandb

wandb.init(project="commit-demo", config={"steps": 8})
wandb.define_metric("val/loss", summary="min")
wandb.define_metric("val/acc", summary="max,mean")
for step in range(wandb.config.steps):
    wandb.log({"train/loss": 1.0 / (step + 1)}, commit=False)
    wandb.log({"train/grad_norm": 0.5 + step * 0.01}, commit=False)
    if step % 2 == 1:
        wandb.log({"val/loss": [0.9, 0.4, 0.6, 0.5][step // 2], "val/acc": 0.1 * step}, commit=False)
    wandb.log({"lr": 0.01 * (8 - step)})  # commits the step
# explicit steps: held until a later step; a call without step joins the held row
wandb.log({"eval/score": 1.5}, step=20)
wandb.log({"eval/extra": 2})
wandb.log({"late": 3}, step=22)
wandb.log({"too_late": 4}, step=21)  # before the current step: wandb ignores it
wandb.log({"last": 5}, commit=False)  # committed by finish
wandb.finish()
