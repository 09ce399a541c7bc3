"""``wandbkit export``: one CSV row per step, as the run's W&B history has it, also after a
kill -9 and a resume that logs some steps again. Real runs, real wandb files read back with
``wandb leet inspect``."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner
from wandb_records import history_items

import wandbkit
from wandbkit.cli import build_app
from wandbkit.store import Store

KILLED = """
import os, signal, wandbkit
run = wandbkit.init(project="p", id="kill-1", mode="offline")
for step in range(12):
    run.log({"train/loss": 100.0 + step, "phase": "first"}, step=step)
assert run.flush(timeout=60)
print("logged", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _export(run_id: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(build_app(), ["export", run_id])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def test_export_after_kill_and_resume_has_each_step_once_as_wandb_has_it(offline_env: Path) -> None:
    out = subprocess.run([sys.executable, "-c", KILLED], env=dict(os.environ), capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "logged", out.stderr
    with wandbkit.init(project="p", id="kill-1", resume="must", mode="offline") as run:
        assert run.settings.start_step == 12
        for step in range(8, 16):  # restarted from the checkpoint of step 7: 8-11 come again
            run.log({"train/loss": 200.0 + step, "phase": "second"}, step=step)
    store = Store.open()
    assert [s for s, _ in store.rows("kill-1")] == [*range(12), *range(8, 16)]  # all kept locally
    rows = _export("kill-1")
    assert [int(r["step"]) for r in rows] == list(range(16))
    assert [float(r["train/loss"]) for r in rows] == [100.0 + s for s in range(12)] + [
        200.0 + s for s in range(12, 16)]
    # W&B keeps the first process's rows, then the second's from its start step on (the
    # killed process's last row, held until its step was complete, never reached its file)
    wandb_history = [item for folder in store.offline_dirs("kill-1") for item in history_items(folder)]
    exported = {int(r["step"]): (float(r["train/loss"]), r["phase"]) for r in rows}
    assert [i["_step"] for i in wandb_history] == [*range(11), *range(12, 16)]
    assert all(exported[i["_step"]] == (i["train/loss"], i["phase"]) for i in wandb_history)


def test_export_merges_one_steps_rows_and_leaves_out_a_step_going_back(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="disabled") as run:
        run.log({"a": 1.0}, step=0)
        run.log({"b": "=SUM(A1)"}, step=0)  # same step, next row: merged (and formula-guarded)
        run.log({"a": 2.0}, step=2)
        run.log({"a": 9.0}, step=1)  # below the step before: W&B ignores it
        run.log({"a": 3.0, "b": "x"}, step=3)
    rows = _export(run.id)
    assert [(r["step"], r["a"], r["b"]) for r in rows] == [
        ("0", "1.0", "'=SUM(A1)"), ("2", "2.0", ""), ("3", "3.0", "x")]
