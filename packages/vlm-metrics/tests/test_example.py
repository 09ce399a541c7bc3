"""``examples/arr_coc_toy.py`` runs as a user runs it and leaves metrics and pictures in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wandbkit.store import Store

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "arr_coc_toy.py"


def test_arr_coc_toy_example_logs_metrics_and_pictures(offline_env: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--max_iters=20", "--eval_interval=10",
                           "--metrics_interval=5", "--batch_size=16", "--eval_batch_size=16"],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "step 20: val VQA accuracy" in done.stdout
    store = Store.open(offline_env)
    [run] = store.runs(project="arr-coc-toy")
    history = store.history(run.id)
    for key in ("train/loss", "vqa/accuracy", "relevance/weight/participatory", "allocation/gini",
                "compression/vision", "attention/entropy", "alignment/cos_gap", "val/vqa/accuracy"):
        assert key in history, key
    assert [s for s, _ in history["val/vqa/accuracy"]] == [0, 10, 20]
    steps = {m["step"] for m in store.media(run.id) if m["key"] == "pictures/selection"}
    assert steps == {0, 10, 20}
