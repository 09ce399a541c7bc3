"""NVIDIA GPU samples for W&B's System charts, under wandb's key names.

wandb-core reads every GPU through NVML and writes, per GPU ``i``: ``gpu.i.gpu`` (utilisation
%), ``gpu.i.memory`` (time the memory was busy, %), ``gpu.i.memoryAllocated`` (% of the
card's memory), ``gpu.i.memoryAllocatedBytes``, ``gpu.i.temp`` (°C), ``gpu.i.powerWatts``,
``gpu.i.powerPercent`` (of the enforced limit), ``gpu.i.smClock``, ``gpu.i.memoryClock``,
``gpu.i.graphicsClock`` (MHz); and the same under ``gpu.process.i.*`` for the GPUs this process
(or a child) uses. The W&B writer samples them here with ``nvidia-ml-py`` (``pip install
'wandbkit[gpu]'``). On a machine without NVIDIA's driver no GPU keys are written, as wandb
writes none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# NVML reading name -> wandb's key suffix.
KEYS = {"gpu": "gpu", "memory": "memory", "memory_allocated": "memoryAllocated",
        "memory_allocated_bytes": "memoryAllocatedBytes", "temp": "temp",
        "power_watts": "powerWatts", "power_percent": "powerPercent", "sm_clock": "smClock",
        "memory_clock": "memoryClock", "graphics_clock": "graphicsClock"}


def gpu_keys(index: int, readings: dict[str, float], used_by_process: bool) -> dict[str, float]:
    """One GPU's readings under wandb's keys (``gpu.i.*``, and ``gpu.process.i.*`` when this
    process uses the GPU). Readings NVML did not give are left out."""
    out: dict[str, float] = {}
    for name, suffix in KEYS.items():
        if name in readings:
            out[f"gpu.{index}.{suffix}"] = float(readings[name])
            if used_by_process:
                out[f"gpu.process.{index}.{suffix}"] = float(readings[name])
    return out


def nvidia_driver_present() -> bool:
    """True on a machine with NVIDIA's kernel driver loaded."""
    return Path("/proc/driver/nvidia/version").exists()


class NvidiaGpus:
    """Reads every GPU through NVML; :meth:`open` returns None where there is none to read."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self.nvml = nvml
        self.handles = handles

    @classmethod
    def open(cls) -> NvidiaGpus | None:
        """NVML's handles, or None (no ``nvidia-ml-py``, no driver, no GPU)."""
        try:
            import pynvml
        except ImportError:
            if nvidia_driver_present():
                from wandbkit.console import warn_once

                warn_once("gpu-stats-nvml", "NVIDIA GPUs found but nvidia-ml-py is not installed: "
                          "W&B's System charts get no GPU metrics (pip install 'wandbkit[gpu]')")
            return None
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:  # pynvml.NVMLError and friends: no driver or no GPU here
            return None
        return cls(pynvml, handles) if handles else None

    def _read(self, handle: Any) -> dict[str, float]:  # one GPU, through NVML
        nvml, out = self.nvml, {}
        readers = {
            "gpu": lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
            "memory": lambda: nvml.nvmlDeviceGetUtilizationRates(handle).memory,
            "temp": lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            "power_watts": lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
            "sm_clock": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
            "memory_clock": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM),
            "graphics_clock": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_GRAPHICS),
        }
        for name, read in readers.items():
            try:
                out[name] = float(read())
            except Exception:  # a reading this GPU does not support: left out, as wandb does
                pass
        try:
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            out["memory_allocated_bytes"] = float(memory.used)
            out["memory_allocated"] = 100.0 * memory.used / memory.total if memory.total else 0.0
        except Exception:
            pass
        try:
            limit = nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
            if "power_watts" in out and limit:
                out["power_percent"] = 100.0 * out["power_watts"] / limit
        except Exception:
            pass
        return out

    def _used_by_process(self, handle: Any) -> bool:
        pids = {os.getpid(), *_child_pids()}
        try:
            procs = self.nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except Exception:
            return False
        return any(p.pid in pids for p in procs)

    def readings(self) -> list[dict[str, float]]:
        """Each GPU's raw readings (``gpu``, ``memory``, ``temp``, ``power_watts``, ... as in
        :data:`KEYS`), in device order; a reading the GPU does not give is left out."""
        return [self._read(handle) for handle in self.handles]

    def sample(self) -> dict[str, float]:
        """Every GPU's readings under wandb's keys."""
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            out.update(gpu_keys(i, self._read(handle), self._used_by_process(handle)))
        return out


def _child_pids() -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process().children(recursive=True)]
    except Exception:
        return []
