"""An argparse script: config=args, then hyperparameters read back through wandb.config."""

import argparse

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--hidden", type=int, default=8)
parser.add_argument("--project", default="argparse-demo")
args = parser.parse_args()

run = wandb.init(project=args.project, config=args, tags=["baseline"], job_type="train")
lr = wandb.config.lr  # read back, as scripts do under sweeps
epochs = wandb.config["epochs"]
wandb.config.update({"optimizer": "sgd"})

w, best = 3.0, float("inf")
for epoch in range(epochs):
    grad = 2 * (w - 1.0)
    w -= lr * grad
    loss = (w - 1.0) ** 2
    best = min(best, loss)
    run.log({"epoch": epoch, "loss": loss, "w": w})
wandb.summary["best_loss"] = best
run.finish()
