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
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from wandbkit import log_checks
from wandbkit.console import warn_once
from wandbkit.errors import UserError
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


def prepare(metrics: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """Copy ``metrics`` for the queue; the caller may reuse its dict right away.

    Keys that :mod:`wandbkit.log_checks` refuses are dropped here, each reported once for
    ``run_id``; the rest of the row is kept.

    :raises UserError: when ``metrics`` is not a dict (``wandb.log`` raises too).
    """
    if not isinstance(metrics, Mapping):
        raise UserError(f"log() takes a dict of metric names to values, got "
                        f"{type(metrics).__name__}")
    values = dict(metrics)
    if log_checks.needs_checking(values):
        return _prepare_slow(values, run_id)
    for value in values.values():
        if value.__class__ not in PLAIN:
            return _prepare_slow(values, run_id)
    return values


def _prepare_slow(values: dict[Any, Any], run_id: str | None, prefix: str = "",
                  out: dict[str, Any] | None = None) -> dict[str, Any]:
    if out is None:
        out = {}
    for key, value in values.items():
        problem = log_checks.key_problem(key)
        if problem == log_checks.RESERVED and prefix:
            problem = None  # "a/_step" is an ordinary key
        if problem is not None:
            log_checks.report_rejected(run_id, f"{prefix}{key}" if prefix else key, problem)
            continue
        key = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _prepare_slow(value, run_id, prefix=f"{key}/", out=out)
            continue
        if key in out:
            log_checks.report_rejected(run_id, key, log_checks.TWICE)
            continue
        cls = value.__class__
        if cls in PLAIN:
            out[key] = value
        elif _is_tensor(value):
            tensor = value.detach()
            if tensor.device.type == "cpu":
                # Reading a CPU tensor costs no device sync; doing it now also protects the
                # value from later in-place edits.
                try:
                    out[key] = (tensor.item() if tensor.numel() == 1
                                else Histogram(tensor.float().numpy()))
                except Exception as exc:  # a complex or empty tensor: this value only
                    log_checks.report_dropped(key, None, "log()", exc, scope=run_id)
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
    """Flusher-side conversion, with NaN/Inf counting and one-time warnings.

    A value that cannot be read (a tensor on a device that fails, an array of strings) is
    dropped alone and reported once by key and step; every other value of its row and batch is
    kept.
    """

    def __init__(self) -> None:
        self.nonfinite = 0
        self.dropped = 0

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
                    try:
                        converted = _convert_other(key, value)
                    except Exception as exc:
                        converted = None
                        self._drop(key, row.step, exc)
                    if converted is None:
                        del row.values[key]
                    else:
                        row.values[key] = converted
                        if isinstance(converted, float) and not math.isfinite(converted):
                            self._nonfinite(key, converted, row.step)
        if pending:
            self._read_device_values(pending)
        return rows

    def _drop(self, key: str, step: int, exc: BaseException) -> None:
        self.dropped += 1
        log_checks.report_dropped(key, step, "reading a logged value", exc)

    def _nonfinite(self, key: str, value: float, step: int) -> None:
        self.nonfinite += 1
        warn_once(f"nonfinite:{key}", f"{key} is {value} at step {step} (kept and counted; "
                                      "reported once per key and run)")

    def _read_device_values(self, pending: list[tuple[dict[str, Any], str, DeviceValue, int]]
                            ) -> None:
        groups: dict[Any, list[tuple[dict[str, Any], str, DeviceValue, int]]] = {}
        for item in pending:
            tensor = item[2].tensor
            groups.setdefault((tensor.device, transfer_dtype(tensor)), []).append(item)
        for (device, dtype), items in groups.items():
            try:
                host = read_group([dv.tensor for _, _, dv, _ in items], device, dtype)
            except Exception:
                # One bad tensor fails the whole copy: read this group's values one by one,
                # so only the bad one is lost.
                for item in items:
                    try:
                        self._store([item], read_group([item[2].tensor], device, dtype))
                    except Exception as exc:
                        del item[0][item[1]]
                        self._drop(item[1], item[3], exc)
                continue
            self._store(items, host)

    def _store(self, items: list[tuple[dict[str, Any], str, DeviceValue, int]], host: Any) -> None:
        import torch

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
                    values[key] = float(value)
                    if not math.isfinite(value):
                        self._nonfinite(key, value, step)
            else:
                values[key] = Histogram(chunk.numpy())


# Devices whose kernels have no float64: Apple's MPS (``.to(torch.float64)`` raises there).
NO_FLOAT64_DEVICES = frozenset({"mps"})


def transfer_dtype(tensor: Any) -> Any:
    """The dtype a device tensor is cast to, on its device, before the one copy to the host.

    float64 where the device has it (exact for every float and for integers up to 2**53);
    on a device without float64, floats travel as float32 and integers and bools as int64,
    and are widened on the host.
    """
    import torch

    if tensor.device.type not in NO_FLOAT64_DEVICES:
        return torch.float64
    if tensor.is_floating_point() or tensor.is_complex():
        return torch.float32
    return torch.int64


def read_group(tensors: list[Any], device: Any, dtype: Any) -> Any:
    """The values of ``tensors`` (all on ``device``) as one flat float64 host tensor: cast to
    ``dtype`` and joined on the device, copied once, widened on the host."""
    import torch

    flat = torch.cat([t.reshape(-1).to(dtype) for t in tensors])
    host = _copy_to_host(flat, device)
    return host if host.dtype == torch.float64 else host.to(torch.float64)


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
