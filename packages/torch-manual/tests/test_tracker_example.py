"""examples/manual_loop.py runs as a user would run it, offline, and its run is readable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wandbkit.store import Store

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "manual_loop.py"


def test_manual_loop_example_trains_and_logs(offline_env: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--max_iters=30", "--eval_interval=15",
                           "--hist_interval=10"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "done in" in proc.stdout
    store = Store.open(offline_env)
    (run,) = store.runs(project="manual-loop")
    h = {k: dict(v) for k, v in store.history(run.id).items()}
    loss = h["train/loss"]
    assert len(loss) == 31 and loss[30] < loss[0]  # it learns
    assert sorted(h["val/loss"]) == [0, 15, 30]
    assert sorted(h["update_ratio/blocks.0.attn"]) == [0, 10, 20, 30]
    assert h["grad/global_norm"].keys() == loss.keys()  # from clip_grad_norm_, every step
    assert any(m["key"].startswith("hist/weights/") for m in store.media(run.id))


def test_unknown_config_key_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--max_itres=3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown config key 'max_itres'" in proc.stderr
