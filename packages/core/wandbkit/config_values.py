"""Config values made JSON the way wandb 0.31 makes them (``wandb.util.json_friendly_val``, which
``wandb.Config`` applies to every value), so the local store and W&B's config record hold the
same thing: numbers as numbers, containers as lists and dicts, anything else as its ``str``.

- numpy scalars and 0-d tensors: their Python number (NaN: None, as wandb);
- arrays and tensors of up to 32 values: lists; a one-value array: that value's ``str``; larger
  ones: their ``str`` (wandb keeps no arrays in a config);
- sets and tuples: lists; dataclasses: dicts; slices: ``{"slice_start", "slice_step",
  "slice_stop"}``; enums: their member name; dates: ISO text; bytes: UTF-8 text;
- functions and classes: ``"module.qualname"``;
- any other object not of a builtin type (``Path``, ``torch.device``, ``Decimal``): ``str``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np


def config_value(value: Any) -> Any:
    """``value`` as wandb stores it in a run's config (see the module docstring)."""
    if isinstance(value, dict):
        return {_key(k): config_value(v) for k, v in value.items()}
    if isinstance(value, slice):
        return {"slice_start": value.start, "slice_step": value.step, "slice_stop": value.stop}
    value = _friendly(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [config_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_value(dataclasses.asdict(value))
    if type(value).__module__ != "builtins":
        return str(value)
    return value


def config_values(config: dict[str, Any]) -> dict[str, Any]:
    """Every value of ``config`` through :func:`config_value`."""
    return {k: config_value(v) for k, v in config.items()}


def _key(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


def _friendly(obj: Any) -> Any:
    # wandb.util.json_friendly's conversions, in its order
    if _is_tensor(obj):
        obj = obj.detach()
        if not obj.shape:
            return obj.item()
        obj = obj.cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.size == 1:
            return obj.flatten()[0]  # a numpy scalar: its str, below (as wandb)
        return obj.tolist() if obj.size <= 32 else obj
    if isinstance(obj, np.generic):
        item = obj.item()
        if isinstance(item, float) and math.isnan(item):
            return None
        return float(item) if isinstance(item, np.generic) else item
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if callable(obj):
        module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{name}" if module and name else str(obj)
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, (set, frozenset)):
        return tuple(obj)
    if isinstance(obj, enum.Enum):
        return obj.name
    return obj


def _is_tensor(obj: Any) -> bool:
    cls = type(obj)
    return cls.__module__.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "shape")
