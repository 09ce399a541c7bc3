"""The dashboard examples run: the embed-in-your-app example builds, the local one logs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

import wandbkit
from wandbkit.store import Store

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _load(name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embed_example_builds_and_allocates(offline_env: Path) -> None:
    embed = _load("dashboard_embed")
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:16, :16:2] = 255  # stripes: all the contrast is in the top-left patch
    heat, text = embed.allocate_tokens(image, 256)
    assert heat.shape == (64, 64) and heat[8, 8] == 255 and heat[40, 40] == 0
    assert text.startswith("16 patches")
    done = subprocess.run([sys.executable, str(EXAMPLES / "dashboard_embed.py"), "--check",
                           "--reference", "team/vlm"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "built:" in done.stdout


def test_local_example_logs_runs_the_dashboard_shows(offline_env: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "dashboard_local.py"), "--no-serve"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = Store.open(offline_env).runs(project="dashboard-demo")
    assert sorted(r.name for r in runs) == ["lr=0.0003", "lr=0.001"]
    assert all(r.wandb_mode == "offline" for r in runs)


def test_demo_stage_serves_the_demo_store(offline_env: Path) -> None:
    from wandbkit.demo import DemoContext, collect_demo_stages

    with wandbkit.init(project="wandbkit-demo", name="train", mode="disabled") as run:
        for step in range(40):
            run.log({"train/loss": 1 / (step + 1)}, step=step)
    stage = next(s for s in collect_demo_stages() if s.name == "dashboard")
    facts = stage.run(DemoContext(store_dir=offline_env, quick=True))
    assert facts["tabs"][0] == "Workspace" and {"Runs", "Media", "W&B"} <= set(facts["tabs"])
    assert facts["runs"] == 1 and facts["workspace"] == "1 charts in 1 sections, 40 points for 1 runs"
    assert facts["open"].startswith("wandbkit dashboard --dir ")
