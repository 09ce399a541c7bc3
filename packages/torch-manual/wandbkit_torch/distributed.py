"""Data-parallel awareness: who logs, and averaging scalars across ranks cheaply.

Under ``torchrun`` every rank trains, but only rank 0 owns the wandbkit run (one W&B run, one
store run). Scalars are averaged over ranks by stacking every value of a flush interval into
one tensor and running **one** ``all_reduce`` for the whole interval, not one per step or per
value. With NCCL the collective is queued on the stream like any kernel, so the training
thread does not wait for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch


def _dist_ready() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    """This process's global rank (0 when not distributed; reads ``RANK`` before the
    process group exists, so it works before ``init_process_group``)."""
    if _dist_ready():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of ranks (1 when not distributed)."""
    if _dist_ready():
        return torch.distributed.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on the rank that logs (rank 0)."""
    return rank() == 0


def init_run(**kwargs: Any) -> Any:
    """``wandbkit.init(**kwargs)`` on rank 0, ``None`` on every other rank.

    Pass the result to :class:`wandbkit_torch.Tracker` on every rank: ranks without a run
    still take part in the cross-rank averaging.
    """
    if not is_main_process():
        return None
    import wandbkit

    return wandbkit.init(**kwargs)


@dataclass
class PendingRow:
    """One logging step's values before they are reduced (DDP) and logged.

    ``device`` holds 0-d tensors, ``host`` Python floats; both are averaged across ranks and
    checked for red flags. ``probe`` holds this rank's device values that only the red-flag
    checks read (the NaN-hunting hooks' result). ``local`` holds values logged as they are by
    the logging rank (learning rates, histograms, system metrics, user extras).
    """

    step: int
    device: dict[str, torch.Tensor] = field(default_factory=dict)
    host: dict[str, float] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, torch.Tensor] = field(default_factory=dict)  # checked, never logged
    hist: Any = None  # a histograms.HostCopy plus how to unpack it, set by the tracker


@dataclass
class PackedRows:
    """The scalars of several rows in one float32 tensor, and where each value sits."""

    values: torch.Tensor                   # [n] on the training device
    layout: list[list[tuple[str, int]]]    # per row: (key, index into values)


def pack_device_values(rows: list[PendingRow], device: torch.device,
                       include_host: bool) -> PackedRows | None:
    """Stack every device scalar of ``rows`` (and their host floats, if ``include_host``) into
    one float32 vector: one ``stack`` kernel, plus at most one host-to-device copy."""
    tensors: list[torch.Tensor] = []
    host: list[float] = []
    layout: list[list[tuple[str, int]]] = []
    host_slots: list[tuple[int, str, int]] = []
    for r, row in enumerate(rows):
        entries = []
        for key, t in row.device.items():
            entries.append((key, len(tensors)))
            tensors.append(t)
        if include_host:
            for key, v in row.host.items():
                host_slots.append((r, key, len(host)))
                host.append(float(v))
        layout.append(entries)
    if not tensors and not host:
        return None
    parts = []
    if tensors:
        parts.append(torch.stack(tensors).to(torch.float32))
    if host:
        parts.append(_host_to_device(host, device))
    values = parts[0] if len(parts) == 1 else torch.cat(parts)
    for r, key, i in host_slots:
        layout[r].append((key, len(tensors) + i))
    return PackedRows(values, layout)


def _host_to_device(values: list[float], device: torch.device) -> torch.Tensor:
    host = torch.tensor(values, dtype=torch.float32)
    if device.type != "cuda":
        return host.to(device)
    # From pinned memory the copy is truly asynchronous; the caching host allocator keeps the
    # block alive until the copy has run, so it is safe to drop our reference now.
    return host.pin_memory().to(device, non_blocking=True)


class CrossRankMean:
    """Averages packed scalars over all ranks with one ``all_reduce`` per call."""

    def __init__(self, summed: frozenset[str] = frozenset()) -> None:
        self.summed = summed
        self.world = world_size()

    def reduce(self, packed: PackedRows) -> PackedRows:
        """Sum over ranks, divide by the world size; keys in ``summed`` stay sums.

        Every rank must call this with rows that have the same keys in the same order (they
        do when every rank runs the same loop).
        """
        values = packed.values
        if self.world > 1 and _dist_ready():
            # ``values`` was freshly stacked for this flush and nothing has logged it yet, so
            # the in-place all_reduce is safe.
            torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.SUM)
            scale = [1.0 / self.world] * values.numel()
            for entries in packed.layout:
                for key, i in entries:
                    if key in self.summed:
                        scale[i] = 1.0
            values = values * _host_to_device(scale, values.device)
        return PackedRows(values, packed.layout)
