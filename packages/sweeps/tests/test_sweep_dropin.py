"""``wandb.sweep`` + ``wandb.agent`` under ``import wandbkit as wandb``: a W&B Python sweep
script (``examples/sweep_dropin.py``) run as a user runs it, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wandbkit.store import Store
from wandbkit_sweeps.engine import open_sweep

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sweep_dropin.py"


def _run_example(tmp_path: Path, plugins: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDBKIT_PLUGINS": plugins}
    env.pop("WANDBKIT_SWEEP_ENGINE", None)
    return subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=300)


def test_python_sweep_runs_four_trials_offline_with_the_sweeps_values(
        tmp_path: Path, offline_env: Path) -> None:
    proc = _run_example(tmp_path, "sweeps")
    assert proc.returncode == 0, proc.stderr
    sweep_id = proc.stdout.split()[1]
    store = Store.open(offline_env)
    runs = [r for r in store.runs() if r.group == sweep_id]
    assert len(runs) == 4
    assert sorted(r.config["lr"] for r in runs) == [0.001, 0.01, 0.1, 1.0]  # each point once
    assert all(r.config["layers"] == 2 for r in runs)  # the sweep's value beat the default
    assert all(r.project == "sweep-dropin" and r.wandb_mode == "offline" for r in runs)
    trials = open_sweep(sweep_id).trials()
    assert sorted(t.user_attrs["run_id"] for t in trials) == sorted(r.id for r in runs)
    assert all(t.state.name == "COMPLETE" for t in trials)
    best = min(trials, key=lambda t: t.value)
    assert best.user_attrs["config"]["lr"] == 0.01 and best.value == 1 / 3


def test_without_the_plugin_the_script_fails_with_one_line(tmp_path: Path,
                                                           offline_env: Path) -> None:
    proc = _run_example(tmp_path, "")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == ["wandb.sweep(): running a sweep needs the wandbkit-sweeps plugin: "
                     "pip install wandbkit-sweeps"], proc.stderr
    assert not list(offline_env.glob("sweeps.db"))  # nothing was run
