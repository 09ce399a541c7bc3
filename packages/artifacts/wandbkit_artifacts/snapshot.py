"""Snapshots: a consistent CPU copy of training state, taken on the training thread.

An async save must not let training change the tensors being written, so the training thread
copies every tensor into CPU buffers and returns; the writer thread serialises the copy. The
buffers are allocated once per slot and reused by later saves (allocating and page-faulting
hundreds of MB on every save would cost more than the copy itself). CUDA tensors are copied to
pinned buffers with ``non_blocking=True`` and an event is recorded: the training thread never
waits for the copy, the writer thread waits on the event before reading the buffers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Snapshot:
    """CPU copies of everything one version holds, ready to be written."""

    model: dict[str, torch.Tensor] | None = None
    tied: dict[str, str] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, Any] | None = None
    event: Any = None

    def wait(self) -> None:
        """Block until device-to-host copies have landed (no-op on CPU)."""
        if self.event is not None:
            self.event.synchronize()


def dedupe_tied(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Drop names that alias an earlier tensor (tied weights); return ``(unique, {alias: kept})``.

    Two names are tied when they are the very same view of the same storage (same pointer,
    shape, strides and dtype), as ``lm_head.weight`` and ``embed.weight`` are in tied models.
    """
    unique: dict[str, torch.Tensor] = {}
    tied: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, t in state.items():
        key = (t.device, t.data_ptr(), tuple(t.shape), t.stride(), t.dtype) if t.numel() else None
        if key is not None and key in seen:
            tied[name] = seen[key]
            continue
        if key is not None:
            seen[key] = name
        unique[name] = t
    return unique, tied


class BufferPool:
    """Reusable CPU buffers for ``slots`` snapshots in flight at once."""

    def __init__(self, slots: int) -> None:
        self.slots: list[dict[str, torch.Tensor]] = [{} for _ in range(slots)]

    def buffer(self, slot: int, key: str, like: torch.Tensor) -> torch.Tensor:
        """A contiguous CPU tensor shaped like ``like``, reused when a previous one fits."""
        buffers = self.slots[slot]
        buf = buffers.get(key)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = torch.empty(like.shape, dtype=like.dtype, device="cpu",
                              pin_memory=like.is_cuda)
            buffers[key] = buf
        return buf


class Snapshotter:
    """Copies a state tree's tensors into a slot's buffers (references them with no pool)."""

    def __init__(self, pool: BufferPool | None, slot: int = 0) -> None:
        self.pool = pool
        self.slot = slot
        self.src: list[torch.Tensor] = []
        self.dst: list[torch.Tensor] = []
        self.cuda = False

    def tensor(self, key: str, t: torch.Tensor) -> torch.Tensor:
        """The snapshot of one tensor, queued for a batched copy."""
        t = t.detach()
        if self.pool is None:  # synchronous save: write straight from the live tensors
            return t.cpu().contiguous() if (t.is_cuda or not t.is_contiguous()) else t
        buf = self.pool.buffer(self.slot, key, t)
        if t.is_cuda:
            self.cuda = True
            buf.copy_(t, non_blocking=True)
        else:
            self.src.append(t)
            self.dst.append(buf)
        return buf

    def tree(self, key: str, obj: Any) -> Any:
        """Snapshot a state_dict-like tree: tensors copied, containers rebuilt, rest deep-copied."""
        if isinstance(obj, torch.Tensor):
            return self.tensor(key, obj)
        if isinstance(obj, dict):
            out = {k: self.tree(f"{key}/{k}", v) for k, v in obj.items()}
            return type(obj)(out) if type(obj) is not dict else out
        if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
            return type(obj)(self.tree(f"{key}/{i}", v) for i, v in enumerate(obj))
        return copy.deepcopy(obj)

    def finish(self) -> Any:
        """Run the queued CPU copies in one batched call; return a CUDA event or None."""
        if self.src:
            # One fused call over all tensors: the floor is a plain memcpy of the bytes.
            torch._foreach_copy_(self.dst, self.src)
            self.src.clear()
            self.dst.clear()
        if self.cuda:
            event = torch.cuda.Event()
            event.record()
            return event
        return None
