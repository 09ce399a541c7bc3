"""System metrics sampled on a background thread: CPU and RAM (psutil), CUDA memory (torch),
GPU utilisation, power and temperature (NVML through ``nvidia-ml-py``).

The thread only reads host-side counters: ``torch.cuda.memory_allocated`` and friends ask the
caching allocator, not the device, so they never synchronise. Hardware or libraries that are
absent are skipped silently; a reading that fails once is dropped for the rest of the run.
The tracker picks up the latest readings on its next logging step, so they are logged from the
training thread, in step order, with the rest of the row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from wandbkit.errors import UserError


def _psutil_readers() -> list[Callable[[], dict[str, float]]]:
    try:
        import psutil
    except ImportError:
        return []
    proc = psutil.Process()
    psutil.cpu_percent(None)  # the first call only starts the measurement window
    proc.cpu_percent(None)

    def read() -> dict[str, float]:
        vm = psutil.virtual_memory()
        return {"system/cpu_percent": psutil.cpu_percent(None),
                "system/process_cpu_percent": proc.cpu_percent(None),
                "system/ram_percent": vm.percent,
                "system/ram_used_gb": vm.used / 1e9,
                "system/process_rss_gb": proc.memory_info().rss / 1e9}

    return [read]


def _torch_cuda_readers() -> list[Callable[[], dict[str, float]]]:
    try:
        import torch
    except ImportError:
        return []
    # Only when the training code already initialised CUDA: creating a context from this
    # thread would cost memory on every visible device.
    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return []

    def read() -> dict[str, float]:
        out = {}
        for i in range(torch.cuda.device_count()):
            out[f"system/cuda{i}/allocated_gb"] = torch.cuda.memory_allocated(i) / 1e9
            out[f"system/cuda{i}/reserved_gb"] = torch.cuda.memory_reserved(i) / 1e9
            out[f"system/cuda{i}/peak_allocated_gb"] = torch.cuda.max_memory_allocated(i) / 1e9
        return out

    return [read]


def _nvml_readers() -> list[Callable[[], dict[str, float]]]:
    from wandbkit.sinks.gpu_stats import NvidiaGpus

    gpus = NvidiaGpus.open()  # core's NVML reader; None without a library, driver or GPU
    if gpus is None:
        return []
    names = {"gpu": "util_percent", "memory": "mem_util_percent", "power_watts": "power_w",
             "temp": "temp_c"}

    def read() -> dict[str, float]:
        return {f"system/gpu{i}/{name}": reading[key]
                for i, reading in enumerate(gpus.readings())
                for key, name in names.items() if key in reading}

    return [read]


class SystemMonitor(threading.Thread):
    """Samples system metrics every ``interval_s`` seconds until :meth:`stop`.

    :meth:`take` returns the readings taken since the last call (or ``{}``).
    """

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__(name="wandbkit-torch-system", daemon=True)
        if interval_s <= 0:
            raise UserError(f"system metrics interval must be > 0 seconds, got {interval_s}")
        self.interval_s = interval_s
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._latest: dict[str, float] = {}
        self._readers: list[Callable[[], dict[str, float]]] | None = None

    def _sample(self) -> None:
        if self._readers is None:
            self._readers = _psutil_readers() + _torch_cuda_readers() + _nvml_readers()
        values: dict[str, float] = {}
        for reader in list(self._readers):
            try:
                values.update(reader())
            except Exception:  # a counter that vanished (driver reset, container limits)
                self._readers.remove(reader)
        with self._lock:
            self._latest = values

    def run(self) -> None:
        """Sample until stopped."""
        self._sample()
        while not self._stop_event.wait(self.interval_s):
            self._sample()

    def take(self) -> dict[str, Any]:
        """The newest readings not yet taken."""
        with self._lock:
            latest, self._latest = self._latest, {}
        return latest

    def stop(self) -> None:
        """Stop sampling (returns at once; the thread exits within one interval)."""
        self._stop_event.set()


def sample_once() -> dict[str, float]:
    """One reading of every available system metric (for scripts and tests)."""
    monitor = SystemMonitor(interval_s=1.0)
    monitor._sample()
    return monitor.take()
