"""A wandb training script, moved to wandbkit by changing one line: the import.

    python examples/drop_in.py                # offline unless you are logged in to W&B
    python examples/drop_in.py --lr 0.01      # argparse values reach wandb.config
    wandbkit runs                             # the run in the local store
    wandbkit show drop-in-demo                # config, summary (val/loss as its min), metrics
    wandbkit sync                             # upload offline runs to W&B later

Everything below the import is plain wandb code: init with a namespace config, config read
back by attribute, define_metric, watch, log with commit=False, summary, an artifact, finish.
Swap the import back to `import wandb` and the script runs on wandb itself.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import wandbkit as wandb  # was: import wandb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--hidden", type=int, default=32)
args = parser.parse_args()

run = wandb.init(project="drop-in", name="drop-in-demo", config=args, tags=["example"])
wandb.define_metric("val/loss", summary="min")

torch.manual_seed(0)
x = torch.linspace(-2, 2, 256).unsqueeze(1)
y = torch.sin(2 * x) + 0.1 * torch.randn_like(x)
model = torch.nn.Sequential(torch.nn.Linear(1, wandb.config.hidden), torch.nn.Tanh(),
                            torch.nn.Linear(wandb.config.hidden, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=wandb.config.lr)
wandb.watch(model, log="all", log_freq=10)  # gradient and weight histograms every 10 steps

for epoch in range(wandb.config.epochs):
    for _batch in range(4):
        idx = torch.randint(0, len(x), (32,))
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        wandb.log({"train/loss": loss.item(), "epoch": epoch})
    with torch.no_grad():
        val = torch.nn.functional.mse_loss(model(x), y).item()
    wandb.log({"val/loss": val}, commit=False)  # joins the next row
    wandb.log({"lr": optimizer.param_groups[0]["lr"]})

wandb.summary["final_val_loss"] = val
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "model.pt"
    torch.save(model.state_dict(), path)
    artifact = wandb.Artifact("sine-model", type="model", metadata={"val_loss": val})
    artifact.add_file(path)
    run.log_artifact(artifact).wait()  # copied into the store: safe to delete the temp folder
wandb.finish()
