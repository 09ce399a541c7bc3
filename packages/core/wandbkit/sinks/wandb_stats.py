"""System metrics for the W&B writer: the ``stats`` records behind W&B's System charts.

wandb-core samples the training process and the machine every 15 s (``x_stats_sampling_
interval``); the writer does the same with psutil, under wandb's key names, so a run written by
the writer shows CPU, memory, disk and network charts after ``wandbkit sync`` as one written by
wandb. NVIDIA GPUs are read through NVML (:mod:`wandbkit.sinks.gpu_stats`, wandb's ``gpu.N.*``
keys); AMD/Apple/TPU accelerators are not sampled. Without psutil installed no stats are written.
"""

from __future__ import annotations

import os
import time
from typing import Any

MB = 1024 * 1024
GB = 1024 ** 3


class SystemStats:
    """Samples this process and the machine; :meth:`due` says when the next sample is wanted."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.next_at = time.monotonic()  # a first sample at the start, as wandb takes one
        try:
            import psutil
        except ImportError:
            self.psutil: Any = None
            return
        self.psutil = psutil
        self.proc = psutil.Process(os.getpid())
        from wandbkit.sinks.gpu_stats import NvidiaGpus

        self.gpus = NvidiaGpus.open() if interval_s > 0 else None
        self.proc.cpu_percent(None)  # the first call only starts the interval
        psutil.cpu_percent(None, percpu=True)
        self.net0 = self._net()

    def _net(self) -> tuple[int, int]:
        try:
            counters = self.psutil.net_io_counters()
            return counters.bytes_sent, counters.bytes_recv
        except (OSError, AttributeError):
            return 0, 0

    def due(self) -> bool:
        """True when sampling is on and the interval has passed."""
        return (self.psutil is not None and self.interval_s > 0
                and time.monotonic() >= self.next_at)

    def sample(self) -> dict[str, float]:
        """One sample under wandb's keys (``cpu``, ``memory_percent``, ``proc.memory.rssMB``...)."""
        self.next_at = time.monotonic() + self.interval_s
        ps, out = self.psutil, {}
        try:
            with self.proc.oneshot():
                out["cpu"] = self.proc.cpu_percent(None) / (ps.cpu_count() or 1)
                out["proc.memory.rssMB"] = self.proc.memory_info().rss / MB
                out["proc.memory.percent"] = self.proc.memory_percent()
                out["proc.cpu.threads"] = float(self.proc.num_threads())
            for i, share in enumerate(ps.cpu_percent(None, percpu=True)):
                out[f"cpu.{i}.cpu_percent"] = share
            memory = ps.virtual_memory()
            out["memory_percent"] = memory.percent
            out["proc.memory.availableMB"] = memory.available / MB
            disk = ps.disk_usage("/")
            out["disk./.usagePercent"] = disk.percent
            out["disk./.usageGB"] = disk.used / GB
            sent, received = self._net()
            out["network.sent"] = float(sent - self.net0[0])
            out["network.recv"] = float(received - self.net0[1])
        except (OSError, ps.Error):
            pass  # a metric the system does not give: left out, as wandb does
        if self.gpus is not None:
            out.update(self.gpus.sample())
        return out
