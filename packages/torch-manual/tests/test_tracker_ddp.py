"""Real ``torchrun --nproc_per_node=2`` (gloo, CPU): one W&B run, one store run, and logged
scalars equal to the mean over ranks, reduced with one collective per flush interval."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from torch_tracker_helpers import wandb_history

from wandbkit.store import Store

SCRIPT = Path(__file__).with_name("ddp_tracker_script.py")


class _Finished:
    """Enough of a finished run for the W&B readers: id, store and the W&B sink's folder."""

    def __init__(self, run_id: str, store: Path, where: Path) -> None:
        from wandbkit.report import RunReport, SinkReport

        self.id, self.store_dir = run_id, store
        self.report = RunReport(run_id, 0, 0, [SinkReport("wandb", info={"where": str(where)})])


def _torchrun(out: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(SCRIPT), str(out), *args],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_torchrun_two_ranks_log_one_run_with_cross_rank_means(tmp_path: Path,
                                                              offline_env: Path) -> None:
    result = _torchrun(tmp_path / "result.json")

    store = Store.open(offline_env)
    runs = store.runs()
    assert [r.id for r in runs] == [result["run_id"]]
    wandb_runs = list((offline_env / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 1, wandb_runs

    h = {k: dict(v) for k, v in store.history(result["run_id"]).items()}
    expected = {s: ((10 + s) + (20 + s)) / 2 for s in range(12)}
    assert h["train/loss"] == pytest.approx(expected)
    # Throughput adds up over ranks, the step time is their mean: with rank r's step taking
    # t_r, samples_per_s = 8/t0 + 16/t1 and step_time = (t0 + t1)/2, so their product is
    # 12 + 4q + 8/q with q = t1/t0, at least 12 + 8*sqrt(2) for any step times (AM-GM) — 24
    # when the ranks are in lock-step. (A mean over ranks would give half of that.)
    per_step = [sps * h["perf/step_time_s"][step]
                for step, sps in h["perf/samples_per_s"].items() if step > 0]
    assert all(p >= (12 + 8 * math.sqrt(2)) * (1 - 1e-9) for p in per_step), per_step
    assert sorted(h["grad_norm/0"]) == [0, 4, 8]
    # 12 steps, flush every 5 steps: flushes after steps 4 and 9, and one at close
    assert result["collectives"] == 3

    w = wandb_history(_Finished(result["run_id"], offline_env, wandb_runs[0]))
    assert {s: w[s]["train/loss"] for s in range(12)} == pytest.approx(expected)
    assert w[4]["hist/weights/0.weight._type"] == "histogram"


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_step(tmp_path: Path,
                                                             offline_env: Path) -> None:
    out = tmp_path / "result.json"
    result = _torchrun(out, "stop")
    ranks = [json.loads(Path(f"{out}.{r}").read_text()) for r in (0, 1)]
    # The mean over ranks is NaN at step 3; every rank reads the flush that holds it at the
    # next flush (after step 9) and stops there: no rank is left waiting in a collective.
    assert [r["stopped_at"] for r in ranks] == [10, 10]
    assert all(("nonfinite_loss", 3) in [tuple(f) for f in r["flags"]] for r in ranks)
    alerts = Store.open(offline_env).alerts(result["run_id"])
    assert [a["title"] for a in alerts] == ["Non-finite loss"]
