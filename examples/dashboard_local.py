"""See offline runs without W&B: log two runs locally, then open ``wandbkit dashboard``.

W&B offline runs have no page until they are synced; the dashboard reads wandbkit's local
store instead: Runs (filter, select, CSV), Curves (overlay, smoothing, step or time), Media
(images with a step slider), W&B (the embed, or how to sync), and every plugin's tabs.

Run:  python examples/dashboard_local.py          # logs, then serves on http://127.0.0.1:7860
Same as: python examples/quickstart.py && wandbkit dashboard
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import wandbkit


def log_runs() -> None:
    """Two runs of a (simulated) training with different learning rates."""
    rng = np.random.default_rng(0)
    for lr in (1e-3, 3e-4):
        with wandbkit.init(project="dashboard-demo", name=f"lr={lr:g}", config={"lr": lr},
                           tags=["example"], mode="offline") as run:
            for step in range(500):
                loss = 2.0 * math.exp(-step * lr * 10) + 0.05 * rng.standard_normal()
                run.log({"train/loss": loss, "train/lr": lr}, step=step)
                if step % 100 == 0:
                    pixels = (rng.random((32, 32, 3)) * min(1.0, step / 400 + 0.2))
                    run.log({"samples/output": wandbkit.Image(pixels, caption=f"step {step}")},
                            step=step)


def main() -> None:
    """Log, then serve the dashboard until Ctrl+C (``--no-serve`` only logs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-serve", action="store_true", help="log the runs and exit")
    args = parser.parse_args()
    log_runs()
    if args.no_serve:
        print("logged; open them with: wandbkit dashboard --project dashboard-demo")
        return
    from wandbkit_gradio import serve

    serve(project="dashboard-demo")


if __name__ == "__main__":
    main()
