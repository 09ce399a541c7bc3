"""Train functions and a program for the sweep tests (importable: workers are spawned)."""

from __future__ import annotations

import time


def quadratic(config, run):
    """Five epochs of a loss that falls with the epoch and is lowest near x = 3."""
    for epoch in range(5):
        run.log({"loss": (config["x"] - 3) ** 2 + 1.0 / (epoch + 1)})
        time.sleep(0.02)


def fails_on_two(config):
    """Raises for x == 2: that trial fails, the sweep goes on."""
    import wandbkit

    if config["x"] == 2:
        raise RuntimeError("x == 2 is broken")
    wandbkit.get_run().log({"loss": float(config["x"])})


def wandb_style():
    """W&B's idiom: no arguments, start the run, read the sweep's values from its config."""
    import wandbkit

    run = wandbkit.init(config={"x": 0, "note": "defaults"}, mode="disabled")
    for epoch in range(3):
        run.log({"loss": (run.config["x"] - 3) ** 2 + 1.0 / (epoch + 1)})
    run.finish()


# Loss curves for the hyperband test, one per grid point (NaN is logged and must be skipped).
CURVES = {
    1: [5.0, 4.0, 3.0, 2.0, 1.0, 0.5],
    2: [6.0, float("nan"), 5.0, 4.5, 4.0, 3.5],
    3: [0.5, 6.0, 5.0, 2.0, 1.5, 1.0],
    4: [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],
    5: [1.0, 1.5, 1.2, 1.1, 1.0, 0.9],
    6: [4.0, 3.5, 3.0, 2.9, 2.8, 2.7],
}


def hyperband_curves(config, run):
    """Log the grid point's curve, one value per step."""
    for value in CURVES[config["x"]]:
        run.log({"loss": value})


def wandb_style_plain():
    """W&B's idiom without a mode: the sweep decides how the run logs."""
    import wandbkit

    with wandbkit.init(config={"x": 0}) as run:
        run.log({"loss": float(run.config["x"])})
