"""A local sweep with a Python train function: bayes + hyperband, 8 trials on 2 workers.

    python examples/sweep_python.py
    wandbkit sweep show <the sweep id it prints>

Each trial is a wandbkit run grouped under the sweep; hyperband reads ``val/loss`` from what
the run logs, and stops the worse trials at their next ``run.log``.
"""

from __future__ import annotations

import math

import wandbkit_sweeps

SWEEP = {
    "method": "bayes",
    "metric": {"name": "val/loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1.0},
        "width": {"values": [16, 32, 64]},
        "optimizer": {"parameters": {"momentum": {"min": 0.0, "max": 0.99}}},
    },
}


def train(config, run):
    """A stand-in for a training loop: the loss depends on the parameters and falls per epoch."""
    for epoch in range(10):
        loss = (math.log10(config["lr"]) + 1) ** 2 + 1 / (epoch + 1) \
            + 0.001 * config["width"] + 0.1 * (config["optimizer"]["momentum"] - 0.9) ** 2
        run.log({"val/loss": loss, "epoch": epoch})


if __name__ == "__main__":  # workers are new processes: they import this file
    result = wandbkit_sweeps.run(SWEEP, train, count=8, workers=2)
    print(f"sweep {result.sweep_id}: best trial {result.best['number']} "
          f"val/loss={result.best['value']:.4f} config={result.best['config']}")
    print(f"analyse it with: wandbkit sweep show {result.sweep_id}")
