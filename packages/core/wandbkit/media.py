"""Media values for ``run.log``: images, histograms and tables.

They are plain, picklable containers of numpy data, so they travel through the same queue as
scalars and reach every sink (the W&B sink turns them into ``wandb.Image`` and friends; the
local store writes files). Torch tensors are accepted and moved to numpy when constructed, on the caller's
thread: for a CUDA tensor that copy waits for the GPU. Media are logged at intervals, so this
is not a per-step cost; a plugin that builds them every step should pass numpy it copied
asynchronously (the torch tracker does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _to_numpy(data: Any) -> np.ndarray:
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # a torch tensor, without importing torch
        data = data.detach().float().cpu().numpy()
    return np.asarray(data)


@dataclass
class Image:
    """An image: numpy ``HxW``/``HxWxC`` (uint8, or float in 0..1), a PIL image, or a torch
    ``CxHxW``/``HxWxC`` tensor."""

    data: Any
    caption: str | None = None
    pixels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if hasattr(self.data, "convert") and hasattr(self.data, "size"):  # PIL.Image
            self.pixels = np.asarray(self.data.convert("RGB" if self.data.mode != "L" else "L"))
        else:
            arr = _to_numpy(self.data)
            if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
                arr = np.transpose(arr, (1, 2, 0))  # CHW -> HWC
            if arr.ndim == 3 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            if arr.ndim not in (2, 3):
                raise ValueError(f"Image needs HxW or HxWxC data, got shape {arr.shape}")
            if arr.dtype != np.uint8:
                arr = np.clip(np.nan_to_num(arr.astype(np.float64)) * 255.0, 0, 255).astype(np.uint8)
            self.pixels = np.ascontiguousarray(arr)
        self.data = None  # keep only the pixels: smaller to queue and to pickle

    def to_pil(self) -> Any:
        """The image as a PIL image (needs Pillow)."""
        from PIL import Image as PILImage

        return PILImage.fromarray(self.pixels)


@dataclass
class Histogram:
    """A histogram from raw ``values`` (binned here with ``num_bins``) or precomputed
    ``counts`` and ``edges`` (``len(edges) == len(counts) + 1``)."""

    values: Any = None
    counts: Any = None
    edges: Any = None
    num_bins: int = 64

    def __post_init__(self) -> None:
        if self.counts is not None:
            if self.edges is None:
                raise ValueError("Histogram(counts=...) also needs edges=")
            self.counts = _to_numpy(self.counts).astype(np.float64).ravel()
            self.edges = _to_numpy(self.edges).astype(np.float64).ravel()
            if len(self.edges) != len(self.counts) + 1:
                raise ValueError(f"Histogram needs len(edges) == len(counts) + 1, got "
                                 f"{len(self.edges)} edges for {len(self.counts)} counts")
        elif self.values is not None:
            values = _to_numpy(self.values).astype(np.float64).ravel()
            values = values[np.isfinite(values)]
            counts, edges = np.histogram(values, bins=self.num_bins)
            self.counts, self.edges = counts.astype(np.float64), edges
        else:
            raise ValueError("Histogram needs values= or counts= and edges=")
        self.values = None

    def to_dict(self) -> dict[str, list[float]]:
        """``{"counts": [...], "edges": [...]}``."""
        return {"counts": self.counts.tolist(), "edges": self.edges.tolist()}


@dataclass
class Table:
    """A table of rows under named columns; cells are numbers or strings."""

    columns: list[str]
    data: list[list[Any]]

    def __post_init__(self) -> None:
        self.columns = [str(c) for c in self.columns]
        self.data = [list(row) for row in self.data]
        for i, row in enumerate(self.data):
            if len(row) != len(self.columns):
                raise ValueError(f"Table row {i} has {len(row)} cells for "
                                 f"{len(self.columns)} columns {self.columns}")


MEDIA_TYPES = (Image, Histogram, Table)
