"""System metrics: what this machine has is read, what it lacks is skipped silently."""

from __future__ import annotations

import time

import pytest
import torch
from torch_tracker_helpers import new_run, store_history, tiny_mlp

from wandbkit.errors import UserError
from wandbkit_torch.system_metrics import SystemMonitor, sample_once
from wandbkit_torch.tracker import Tracker


def test_sample_once_reads_cpu_and_ram_and_skips_absent_gpus() -> None:
    values = sample_once()
    assert 0 < values["system/ram_percent"] <= 100
    assert values["system/process_rss_gb"] > 0.01  # torch alone is more than 10 MB
    if not torch.cuda.is_available():
        assert not any(k.startswith(("system/cuda", "system/gpu")) for k in values)


def test_tracker_logs_system_metrics_from_the_background_thread() -> None:
    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tracker = Tracker(run, model, opt, stats_every=0, hist_every=0, system_every_s=0.02)
    for _ in range(6):
        time.sleep(0.03)  # give the sampler a tick between steps
        tracker.step(torch.tensor(1.0))
    tracker.close()
    run.finish()
    h = store_history(run)
    steps = sorted(h["system/ram_used_gb"])
    assert len(steps) >= 3  # picked up on most steps, each reading once
    assert all(v > 0 for v in h["system/process_rss_gb"].values())


def test_bad_interval_is_a_user_error() -> None:
    with pytest.raises(UserError, match="interval must be > 0"):
        SystemMonitor(interval_s=0)
