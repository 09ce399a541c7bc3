"""A real 2-process ``strategy="ddp"`` fit on CPU (gloo): one run, written by rank 0 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lightning_helpers import read_run, wandb_run_dirs

from wandbkit.store import Store

SCRIPT = Path(__file__).with_name("ddp_lightning_script.py")


def test_ddp_two_processes_one_run_from_rank_zero(tmp_path: Path, offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    out = tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out), str(tmp_path / "ck")], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = {r["rank"]: r for r in (json.loads(Path(f"{out}.{i}").read_text()) for i in (0, 1))}
    assert ranks[0]["world_size"] == 2 and ranks[1]["world_size"] == 2
    assert ranks[0]["run_id"] is not None and ranks[1]["run_id"] is None  # rank 1 made no run

    [run] = Store.open(offline_env).runs()
    assert run.id == ranks[0]["run_id"] and run.state == "finished"
    [run_dir] = wandb_run_dirs(offline_env)  # one W&B run, on rank 0
    rec = read_run(run_dir)
    train_steps = [r["trainer/global_step"] for r in rec["history"] if "train/loss" in r]
    assert train_steps == [0, 1, 2, 3]  # each step once, not once per rank
    # each checkpoint registered once, by rank 0
    assert [v.step for v in Index.open(offline_env).versions("ddp")] == [2, 4]
