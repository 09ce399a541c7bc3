"""The sweep stage of ``wandbkit demo``, and :func:`demo_sweep`, the same thing as one call.

An embedded sweep (bayes over learning rate and L2, hyperband on the validation loss) tunes a
numpy logistic regression on two noisy blobs: 6 trials on 2 worker processes, each trial a
wandbkit run grouped under the sweep.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

DEMO_SWEEP: dict[str, Any] = {
    "name": "demo-logreg",
    "method": "bayes",
    "metric": {"name": "val/loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "max_iter": 12, "s": 1, "eta": 2},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 0.01, "max": 3.0},
        "l2": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
        "epochs": {"value": 12},
    },
}


def train_logreg(config: dict[str, Any], run: Any) -> None:
    """Full-batch gradient descent on two Gaussian blobs; logs train/val loss per epoch."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1.0, 1.2, (200, 2)), rng.normal(1.0, 1.2, (200, 2))])
    y = np.concatenate([np.zeros(200), np.ones(200)])
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    xt, yt, xv, yv = x[:300], y[:300], x[300:], y[300:]
    w, b = np.zeros(2), 0.0

    def loss(xs: np.ndarray, ys: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(xs @ w + b)))
        return float(-np.mean(ys * np.log(p + 1e-9) + (1 - ys) * np.log(1 - p + 1e-9)))

    for _ in range(int(config["epochs"])):
        p = 1 / (1 + np.exp(-(xt @ w + b)))
        w -= config["lr"] * (xt.T @ (p - yt) / len(yt) + config["l2"] * w)
        b -= config["lr"] * float(np.mean(p - yt))
        run.log({"train/loss": loss(xt, yt), "val/loss": loss(xv, yv)})
        time.sleep(0.05)  # stands in for a real epoch, so hyperband has time to stop a trial


def demo_sweep(store_dir: str | Path | None = None, *, project: str = "wandbkit-demo",
               mode: str = "offline", trials: int = 6, workers: int = 2,
               progress: Any = None) -> Any:
    """Run the embedded sweep locally; returns :class:`wandbkit_sweeps.api.SweepResult`."""
    from wandbkit_sweeps.api import follow, launch, result, start

    opened = start(DEMO_SWEEP, dir=store_dir, project=project, seed=0)
    if progress is None:
        launch(opened, train_logreg, count=trials, workers=workers, storage=None, dir=store_dir,
               mode=mode)
    else:
        with follow(opened, progress, trials, f"sweep {opened.id}: {trials} trials"):
            launch(opened, train_logreg, count=trials, workers=workers, storage=None,
                   dir=store_dir, mode=mode)
    return result(opened)


def run_sweep_stage(ctx: Any) -> dict[str, Any]:
    """The demo stage: the embedded sweep (fewer trials when ``ctx.quick``), then its analysis."""
    from wandbkit_sweeps.analysis import analyse

    res = demo_sweep(ctx.store_dir, project=ctx.project, mode=ctx.mode,
                     trials=4 if ctx.quick else 6, workers=2, progress=ctx.progress)
    report = analyse(res.sweep_id, store_dir=ctx.store_dir, mode=ctx.mode, log_run=not ctx.quick,
                     out=Path(ctx.store_dir) / "sweeps" / res.sweep_id)  # the demo writes its plots
    best = res.best
    states: dict[str, int] = {}
    for t in res.trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    return {
        "headline": f"sweep {res.sweep_id}: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                    + (f"; best val/loss {best['value']:.4f}" if best else ""),
        "sweep_id": res.sweep_id,
        "runs": [t["run_id"] for t in res.trials if t["run_id"]],
        "best_trial": best,
        "figures": {k: v for k, v in report["figures"].items() if k.endswith("_png")},
        "show": f"wandbkit sweep show {res.sweep_id}",
    }
