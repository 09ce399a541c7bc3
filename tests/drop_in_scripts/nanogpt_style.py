"""A nanoGPT-style training script (its wandb calls, verbatim in style): config from globals."""

import math

import wandb

# -----------------------------------------------------------------------------
# default config values, as nanoGPT's train.py keeps them: plain globals
out_dir = "out"
eval_interval = 5
log_interval = 1
wandb_log = True
wandb_project = "owt"
wandb_run_name = "gpt2-tiny"
batch_size = 12
block_size = 64
n_layer = 2
learning_rate = 6e-4
max_iters = 20
warmup_iters = 4
min_lr = 6e-5
config_keys = [k for k, v in globals().items()
               if not k.startswith("_") and isinstance(v, (int, float, bool, str))]
config = {k: globals()[k] for k in config_keys}  # will be useful for logging
# -----------------------------------------------------------------------------


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    ratio = (it - warmup_iters) / (max_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


if wandb_log:
    wandb.init(project=wandb_project, name=wandb_run_name, config=config)

iter_num = 0
running_mfu = -1.0
while True:
    lr = get_lr(iter_num)
    if iter_num % eval_interval == 0:
        losses = {"train": 4.0 / (1 + iter_num), "val": 4.2 / (1 + iter_num)}
        if wandb_log:
            wandb.log({
                "iter": iter_num,
                "train/loss": losses["train"],
                "val/loss": losses["val"],
                "lr": lr,
                "mfu": running_mfu * 100,  # convert to percentage
            })
    mfu = 0.1 + 0.001 * iter_num
    running_mfu = mfu if running_mfu == -1.0 else 0.9 * running_mfu + 0.1 * mfu
    iter_num += 1
    if iter_num > max_iters:
        break
