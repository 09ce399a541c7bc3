"""Real ``torchrun --nproc_per_node=2`` (gloo, CPU) with the Trainer: one run, by rank 0 only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hf_helpers import read_run, wandb_run_dirs

from wandbkit.store import Store

SCRIPT = Path(__file__).with_name("ddp_hf_script.py")


def test_torchrun_two_ranks_one_run_written_by_rank_zero(tmp_path: Path,
                                                         offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(SCRIPT), str(out), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = {r["rank"]: r for r in (json.loads(Path(f"{out}.{i}").read_text()) for i in (0, 1))}
    assert ranks[0]["world_size"] == 2
    assert ranks[0]["run_id"] is not None and ranks[1]["run_id"] is None  # rank 1 made no run

    assert [r.id for r in Store.open(offline_env).runs()] == [ranks[0]["run_id"]]
    dirs = wandb_run_dirs(offline_env)
    assert len(dirs) == 1, dirs  # and report_to=["wandb"] made no second one on any rank
    rec = read_run(dirs[0])
    assert sorted(rec["history"]) == [1, 2, 3, 4]
    assert all("train/loss" in row for row in rec["history"].values())
    # each save registered once (rank 0), not once per rank
    assert [v.step for v in Index.open(offline_env).versions("ddp")] == [2, 4]
    assert "switched off" in proc.stderr and proc.stderr.count("switched off") == 1
