"""Turning what ``run.log`` received into plain numbers: both halves of the hot path.

:func:`prepare` runs on the training thread and must stay cheap: it copies the dict, flattens
nested dicts, and wraps device tensors without reading them. :func:`convert_rows` runs on the
flusher thread and reads every wrapped tensor of a batch at once.

Why tensors are read late: ``float(cuda_tensor)`` makes the CPU wait until the GPU has
finished all queued work — a stall per value per step. The flusher instead gathers the batch's
device tensors into one buffer per device, copies it to pinned host memory with
``non_blocking=True`` and polls a CUDA event; neither thread ever blocks on the device.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from wandbkit.console import warn_once
from wandbkit.media import MEDIA_TYPES, Histogram, from_log_value
from wandbkit.rows import Row

PLAIN = frozenset((float, int, bool, str))
# Raw plots that wandb.log converts (a plotly or matplotlib figure, or matplotlib.pyplot itself).
_PLOT_MODULES = ("plotly.", "matplotlib.")
MEDIA = MEDIA_TYPES


@dataclass(slots=True)
class DeviceValue:
    """A tensor logged as-is; read by the flusher. ``version`` detects in-place edits."""

    tensor: Any
    version: int


def prepare(metrics: dict[str, Any]) -> dict[str, Any]:
    """Copy ``metrics`` for the queue; the caller may reuse its dict right away."""
    values = dict(metrics)
    for value in values.values():
        if value.__class__ not in PLAIN:
            return _prepare_slow(values)
    return values


def _prepare_slow(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = f"{prefix}{key}"
        cls = value.__class__
        if cls in PLAIN:
            out[key] = value
        elif isinstance(value, dict):
            out.update(_prepare_slow(value, prefix=f"{key}/"))
        elif _is_tensor(value):
            tensor = value.detach()
            if tensor.device.type == "cpu":
                # Reading a CPU tensor costs no device sync; doing it now also protects the
                # value from later in-place edits.
                out[key] = (tensor.item() if tensor.numel() == 1
                            else Histogram(tensor.float().numpy()))
            else:
                out[key] = DeviceValue(tensor, tensor._version)
        elif cls.__module__.startswith(_PLOT_MODULES) or cls is ModuleType:
            out[key] = from_log_value(value)  # a figure may change after log(): convert now
        else:
            out[key] = value  # numpy scalars/arrays, media: converted by the flusher
    return out


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


class Converter:
    """Flusher-side conversion, with NaN/Inf counting and one-time warnings."""

    def __init__(self) -> None:
        self.nonfinite = 0

    def convert(self, raw: list[tuple[int, float, dict[str, Any]]]) -> list[Row]:
        """Rows with every value a Python scalar, a string or a media object."""
        rows = [Row(step, t, values) for step, t, values in raw]
        pending: list[tuple[dict[str, Any], str, DeviceValue, int]] = []
        for row in rows:
            for key, value in list(row.values.items()):
                cls = value.__class__
                if cls is float:
                    if not math.isfinite(value):
                        self._nonfinite(key, value, row.step)
                elif cls in PLAIN or isinstance(value, MEDIA):
                    continue
                elif cls is DeviceValue:
                    pending.append((row.values, key, value, row.step))
                else:
                    converted = _convert_other(key, value)
                    if converted is None:
                        del row.values[key]
                    else:
                        row.values[key] = converted
                        if isinstance(converted, float) and not math.isfinite(converted):
                            self._nonfinite(key, converted, row.step)
        if pending:
            self._read_device_values(pending)
        return rows

    def _nonfinite(self, key: str, value: float, step: int) -> None:
        self.nonfinite += 1
        warn_once(f"nonfinite:{key}", f"{key} is {value} at step {step} (kept and counted; "
                                      "reported once per key and run)")

    def _read_device_values(self, pending: list[tuple[dict[str, Any], str, DeviceValue, int]]
                            ) -> None:
        import torch

        by_device: dict[Any, list[tuple[dict[str, Any], str, DeviceValue, int]]] = {}
        for item in pending:
            by_device.setdefault(item[2].tensor.device, []).append(item)
        for device, items in by_device.items():
            flat = torch.cat([dv.tensor.reshape(-1).to(torch.float64) for _, _, dv, _ in items])
            host = _copy_to_host(flat, device)
            offset = 0
            for values, key, dv, step in items:
                n = dv.tensor.numel()
                if dv.tensor._version != dv.version:
                    warn_once(f"inplace:{key}", f"{key}: the tensor was modified in place after "
                              "run.log(), so the value logged may be the later one; log "
                              "x.detach().clone() instead")
                chunk = host[offset:offset + n]
                offset += n
                if n == 1:
                    value = chunk[0].item()
                    if dv.tensor.dtype == torch.bool:
                        values[key] = bool(value)
                    elif not dv.tensor.is_floating_point():
                        values[key] = int(value)
                    else:
                        values[key] = value
                        if not math.isfinite(value):
                            self._nonfinite(key, value, step)
                else:
                    values[key] = Histogram(chunk.numpy())


def _copy_to_host(flat: Any, device: Any) -> Any:
    """Copy a device tensor to host memory without a blocking synchronisation."""
    import torch

    if device.type != "cuda":
        return flat.cpu()  # other accelerators: the flusher waits, the training thread does not
    with torch.cuda.device(device):
        host = torch.empty(flat.shape, dtype=flat.dtype, pin_memory=True)
        host.copy_(flat, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        # Poll instead of done.synchronize(): no sync call, so this stays legal under
        # torch.cuda.set_sync_debug_mode("error"); the copy lands within microseconds of the
        # kernels that produced the values.
        while not done.query():
            time.sleep(0.0002)
    return host


def _convert_other(key: str, value: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.item() if value.size == 1 else Histogram(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return Histogram(list(value))
    warn_once(f"type:{key}", f"{key}: cannot log a {type(value).__name__}; the value is dropped "
              "(log numbers, tensors, numpy values, wandbkit.Image/Histogram/Table)")
    return None
