"""A Trainer job preempted by a real signal saves at the step boundary, ends the run
``preempted``, and its restart continues the same run with the same losses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hf_helpers import read_run, wandb_run_dirs

from wandbkit.store import Store

SCRIPT = Path(__file__).with_name("preempt_hf_script.py")


def _job(output: Path, signal_at: int, steps: int, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDBKIT_DIR": str(store), "WANDBKIT_QUIET": "1",
           "WANDBKIT_PLUGINS": "artifacts"}
    return subprocess.run([sys.executable, str(SCRIPT), str(output), str(signal_at), str(steps)],
                          capture_output=True, text=True, timeout=300, env=env)


def _losses(store: Store, run_id: str) -> dict[int, float]:
    return {int(r["train/global_step"]): r["train/loss"] for _, r in store.rows(run_id)
            if "train/loss" in r}


def test_preempted_trainer_saves_stops_and_the_restart_continues_the_run(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    first = _job(tmp_path / "out", 4, 8, store_dir)
    assert first.returncode == 128 + 10, first.stderr[-2000:]  # SIGUSR1
    assert "preemption signal: saving checkpoint-4" in first.stderr
    store = Store.open(store_dir)
    [run] = store.runs()
    assert run.state == "preempted"
    assert (tmp_path / "out" / "checkpoint-4" / "wandbkit-run.json").is_file()
    listing = subprocess.run([str(Path(sys.executable).parent / "wandbkit"), "ckpt", "ls", "tiny",
                              "--json", "--dir", str(store_dir)],
                             capture_output=True, text=True, timeout=120, check=True)
    versions = json.loads(listing.stdout)
    assert [(v["step"], "preempt" in v["aliases"]) for v in versions] == [(4, True)], versions

    second = _job(tmp_path / "out", -1, 8, store_dir)
    assert second.returncode == 0, second.stderr[-2000:]
    [again] = store.runs()
    assert again.id == run.id and again.state == "finished" and again.resumed == 1
    resumed = _losses(store, run.id)
    assert sorted(resumed) == list(range(1, 9))  # every step once, no gap, no overlap

    reference = _job(tmp_path / "ref", -1, 8, tmp_path / "ref-store")
    assert reference.returncode == 0, reference.stderr[-2000:]
    ref_store = Store.open(tmp_path / "ref-store")
    expected = _losses(ref_store, ref_store.runs()[0].id)
    assert resumed == expected  # the restart repeats the uninterrupted job's losses

    fragments = wandb_run_dirs(store_dir)
    assert len(fragments) == 2 and all(p.name.endswith(run.id) for p in fragments)
    first_part = read_run(fragments[0])
    assert max(first_part["history"]) <= 4 < max(read_run(fragments[1])["history"])
