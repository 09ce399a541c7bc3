"""GPU samples for W&B's System charts: wandb's key names, and none without NVIDIA's driver."""

from __future__ import annotations

from pathlib import Path

import pytest

import wandbkit
from tests.wandb_records import wandb_records
from wandbkit.sinks.gpu_stats import KEYS, NvidiaGpus, gpu_keys, nvidia_driver_present


def test_readings_get_wandbs_keys_per_gpu_and_for_the_process() -> None:
    readings = {"gpu": 97.0, "memory": 41.0, "memory_allocated": 12.5,
                "memory_allocated_bytes": 1e9, "temp": 61.0, "power_watts": 350.0,
                "power_percent": 50.0, "sm_clock": 1980.0, "memory_clock": 2619.0,
                "graphics_clock": 1980.0}
    out = gpu_keys(1, readings, used_by_process=True)
    assert out["gpu.1.gpu"] == 97.0 and out["gpu.1.memoryAllocatedBytes"] == 1e9
    assert out["gpu.process.1.powerWatts"] == 350.0 and out["gpu.1.smClock"] == 1980.0
    assert set(out) == ({f"gpu.1.{k}" for k in KEYS.values()}
                        | {f"gpu.process.1.{k}" for k in KEYS.values()})
    # a GPU this process does not use: machine-wide keys only; a reading NVML lacked: left out
    other = gpu_keys(0, {"gpu": 5.0, "temp": 40.0}, used_by_process=False)
    assert other == {"gpu.0.gpu": 5.0, "gpu.0.temp": 40.0}


@pytest.mark.skipif(nvidia_driver_present(), reason="this check is for machines without GPUs")
def test_no_gpu_keys_without_nvidias_driver(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDBKIT_WANDB_STATS_S", "0.05")
    monkeypatch.setenv("WANDBKIT_PLUGINS", "none")
    assert NvidiaGpus.open() is None
    with wandbkit.init(project="p", mode="offline", flush_interval=0.02) as run:
        for step in range(10):
            run.log({"loss": 1.0}, step=step)
    stats = [r["stats"]["item"] for r in wandb_records(run.wandb["dir"]) if r["type"] == "stats"]
    assert stats and all("cpu" in s for s in stats)
    assert not [k for s in stats for k in s if k.startswith("gpu.")]
