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
    monitor = tracker._system
    assert monitor is not None and monitor.is_alive()
    for _ in range(6):
        # Wait (polling, with a deadline) until the sampler thread has a reading the tracker
        # has not taken yet, so every step really has one to pick up.
        deadline = time.monotonic() + 30
        while not monitor._latest:
            assert time.monotonic() < deadline, "the sampler thread took no reading in 30 s"
            time.sleep(0.001)
        tracker.step(torch.tensor(1.0))
    tracker.close()
    run.finish()
    h = store_history(run)
    assert sorted(h["system/ram_used_gb"]) == list(range(6))  # one reading per step
    assert all(v > 0 for v in h["system/process_rss_gb"].values())


def test_bad_interval_is_a_user_error() -> None:
    with pytest.raises(UserError, match="interval must be > 0"):
        SystemMonitor(interval_s=0)
