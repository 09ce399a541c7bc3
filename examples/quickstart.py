"""Quickstart: track a (simulated) training run with wandbkit, offline, and read it back.

Run:  python examples/quickstart.py
Then: wandbkit runs; wandbkit show <id>
"""

from __future__ import annotations

import math

import numpy as np

import wandbkit
from wandbkit.store import Store


def main() -> None:
    """Log scalars, a histogram, an image and a table; print what the store kept."""
    rng = np.random.default_rng(0)
    config = {"lr": 3e-4, "batch_size": 32, "steps": 200}
    with wandbkit.init(project="quickstart", config=config, tags=["example"]) as run:
        for step in range(config["steps"]):
            loss = 2.0 * math.exp(-step / 60) + 0.05 * rng.standard_normal()
            metrics = {"train/loss": loss, "train/lr": config["lr"]}
            if step % 50 == 0:
                metrics["weights/layer0"] = wandbkit.Histogram(rng.standard_normal(1000))
            run.log(metrics, step=step)
        run.log({"samples/noise": wandbkit.Image(rng.random((32, 32, 3)), caption="noise"),
                 "samples/table": wandbkit.Table(["id", "score"], [[0, 0.9], [1, 0.4]])})
        run.summary["best_loss"] = 0.05
    history = Store.open(run.store_dir).history(run.id, ["train/loss"])["train/loss"]
    print(f"run {run.id}: {len(history)} loss values, first {history[0][1]:.3f}, "
          f"last {history[-1][1]:.3f}")


if __name__ == "__main__":
    main()
