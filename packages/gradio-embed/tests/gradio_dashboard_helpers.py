"""A real store for the dashboard tests: runs logged through wandbkit, media included (a uniquely
named module: several packages have a conftest)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

XSS_NAME = "<img src=x onerror=alert(1)>"
WANDB_URL = "https://wandb.ai/team/vision/runs/abc123"


@dataclass
class DashboardStore:
    """The store folder and the runs in it."""

    root: Path
    baseline: str       # 300 steps, media, 3 checkpoints, tags and group; has a W&B URL
    hostile: str        # named XSS_NAME, with markup in its tags and config
    offline: str        # a real offline W&B run (no URL yet)
    live: str           # still running while the module's tests run
    live_run: object


def _env(tmp: Path) -> dict[str, str]:
    return {"WANDBKIT_DIR": str(tmp / "store"), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
            "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "WANDB_CONFIG_DIR": str(tmp / "wandb-config"), "NETRC": str(tmp / "no-netrc")}


@pytest.fixture(scope="module")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardStore]:
    """Four runs in one store, logged the way users log them (module-scoped: one per file)."""
    import wandbkit
    from wandbkit.store import Store

    tmp = tmp_path_factory.mktemp("dash")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _env(tmp).items():
            mp.setenv(key, value)
        mp.delenv("WANDB_API_KEY", raising=False)
        mp.chdir(tmp)
        root = tmp / "store"
        rng = np.random.default_rng(0)
        import torch

        from wandbkit.checkpointing import save_checkpoint

        model = torch.nn.Linear(4, 2)
        with wandbkit.init(project="vision", name="baseline", mode="disabled",
                           tags=["baseline", "lr-sweep"], group="g1",
                           config={"lr": 3e-4, "batch": 32}, flush_interval=0.01) as run:
            for step in range(300):
                loss = 2.0 * math.exp(-step / 80) + 0.05 * rng.random()
                run.log({"train/loss": 25.0 if step == 150 else loss, "val/acc": step / 300,
                         "lr": 3e-4}, step=step)
                if step % 100 == 99:  # a checkpoint through the artifacts plugin
                    save_checkpoint(step, model, run=run, metrics={"val/loss": loss},
                                    force=True)
                if step % 100 == 0:
                    pixels = np.zeros((16, 16, 3), dtype=np.uint8)
                    pixels[:, : step // 20 + 1] = (255, 0, 0)
                    run.log({"samples/pred": wandbkit.Image(pixels, caption="the red bar grows"),
                             "weights": wandbkit.Histogram(rng.normal(size=200)),
                             "speech": wandbkit.media.Audio(np.sin(np.arange(800) / 5.0) * 0.3,
                                                            sample_rate=8000),
                             "preds": wandbkit.Table(["id", "label"], [[1, "cat"], [2, "dog"]])},
                            step=step)
            baseline = run.id
        with wandbkit.init(project="vision", name=XSS_NAME, mode="disabled",
                           tags=["<b>bold</b>"], config={"note": "<script>alert(2)</script>"},
                           flush_interval=0.01) as run:
            for step in range(50):
                run.log({"train/loss": 1.0 / (step + 1), f"{XSS_NAME}/metric": step}, step=step)
            hostile = run.id
        with wandbkit.init(project="vision", name="offline-run", mode="offline",
                           flush_interval=0.01) as run:
            for step in range(20):
                run.log({"train/loss": 1.5 - step / 20}, step=step)
            offline = run.id
        live_run = wandbkit.init(project="vision", name="live", mode="disabled",
                                 flush_interval=0.01)
        for step in range(10):
            live_run.log({"train/loss": 1.0 - step / 20}, step=step)
        live_run.flush()
        store = Store.open(root)
        with store._reader() as conn:  # as the W&B sink records a run that went online
            conn.execute("UPDATE runs SET wandb_mode='online', wandb_url=?, wandb_path=? "
                         "WHERE id=?", (WANDB_URL, "team/vision/abc123", baseline))
        try:
            yield DashboardStore(root, baseline, hostile, offline, live_run.id, live_run)
        finally:
            live_run.finish()


def screenshot_dir(default: Path) -> Path:
    """``$WANDBKIT_SCREENSHOTS`` (e.g. docs/screenshots for the README tour; a relative path is
    taken from the repository root, since tests run in a temp folder), else ``default``."""
    chosen = os.environ.get("WANDBKIT_SCREENSHOTS")
    folder = (Path(__file__).resolve().parents[3] / chosen) if chosen else default
    folder.mkdir(parents=True, exist_ok=True)
    return folder
