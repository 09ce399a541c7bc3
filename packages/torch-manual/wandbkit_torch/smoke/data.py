"""Turn whatever a data factory returns into one pair of tensors ``(inputs, targets)``.

Accepted: a batch ``(x, y)`` (tuple/list or a dict with keys ``x``/``y``, ``inputs``/``targets``
or ``input_ids``/``labels``), a map-style dataset of such samples (``len`` + indexing, e.g.
``TensorDataset``), or any iterable of batches (a ``DataLoader``, a generator). At most
``max_samples`` examples are kept: the checks only ever need a few.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from wandbkit.errors import UserError

_KEY_PAIRS = (("x", "y"), ("inputs", "targets"), ("input", "target"), ("input_ids", "labels"))
ACCEPTED = ("an (inputs, targets) pair of tensors, a dataset of such pairs, "
            "or an iterable of such batches")


@dataclass
class SmokeData:
    """The examples the checks use, on the CPU; ``len(data)`` is the number of examples."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def take(self, n: int, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The examples ``start .. start+n`` (fewer when the data is shorter)."""
        return self.inputs[start:start + n], self.targets[start:start + n]


def to_smoke_data(obj: Any, max_samples: int = 128, label: str = "--data") -> SmokeData:
    """Normalise a data factory's result; raises UserError naming what was wrong."""
    pair = _as_pair(obj)
    if pair is not None:
        x, y = pair
    elif _is_map_dataset(obj):
        x, y = _from_dataset(obj, max_samples, label)
    elif hasattr(obj, "__iter__") and not isinstance(obj, (str, bytes, torch.Tensor)):
        x, y = _from_iterable(obj, max_samples, label)
    else:
        raise UserError(f"{label}: factory returned a {type(obj).__name__}; expected {ACCEPTED}")
    _validate(x, y, label)
    return SmokeData(x[:max_samples].detach().cpu(), y[:max_samples].detach().cpu())


def _as_pair(obj: Any) -> tuple[Any, Any] | None:
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(
            isinstance(t, torch.Tensor) for t in obj):
        return obj[0], obj[1]
    if isinstance(obj, dict):
        for kx, ky in _KEY_PAIRS:
            if kx in obj and ky in obj:
                return obj[kx], obj[ky]
    return None


def _is_map_dataset(obj: Any) -> bool:
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(
        obj, (tuple, list, dict, str, bytes, torch.Tensor))


def _from_dataset(ds: Any, max_samples: int, label: str) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(len(ds), max_samples)
    if n == 0:
        raise UserError(f"{label}: the dataset is empty")
    samples = [_as_pair(ds[i]) for i in range(n)]
    if any(s is None for s in samples):
        raise UserError(f"{label}: dataset items must be (input, target) pairs of tensors, "
                        f"got {type(ds[0]).__name__}")
    xs, ys = zip(*samples, strict=True)
    return torch.stack([torch.as_tensor(t) for t in xs]), torch.stack(
        [torch.as_tensor(t) for t in ys])


def _from_iterable(it: Any, max_samples: int, label: str) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys, count = [], [], 0
    for batch in it:
        pair = _as_pair(batch)
        if pair is None:
            raise UserError(f"{label}: the iterable yielded a {type(batch).__name__}; "
                            f"expected batches that are (inputs, targets) pairs of tensors")
        xs.append(pair[0])
        ys.append(pair[1])
        count += int(pair[0].shape[0]) if pair[0].dim() else 1
        if count >= max_samples:
            break
    if not xs:
        raise UserError(f"{label}: the iterable yielded no batches")
    return torch.cat(xs), torch.cat(ys)


def _validate(x: Any, y: Any, label: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise UserError(f"{label}: inputs and targets must be tensors, got "
                        f"{type(x).__name__} and {type(y).__name__}")
    if x.dim() == 0 or y.dim() == 0:
        raise UserError(f"{label}: inputs and targets need a batch dimension, got shapes "
                        f"{tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise UserError(f"{label}: inputs have {x.shape[0]} examples but targets {y.shape[0]}")
    if x.shape[0] < 2:
        raise UserError(f"{label}: need at least 2 examples, got {x.shape[0]}")
