"""Weight and gradient histograms for many tensors in one fused pass on the device.

The cost problem: ``torch.histc`` once per tensor reads every element of every tensor and
launches a kernel (plus a range reduction) per tensor; on a 1M-parameter MLP on one CPU thread
that is ~12 ms, more than a training step. Here, every histogram step:

1. takes a bounded **systematic sample** of at most ``sample_size`` elements per tensor: a
   strided view ``flat[offset::stride][:k]`` (no kernel; ``offset`` is drawn at random on the
   host each time, ``stride`` is chosen coprime with the tensor's last dimension so the sample
   walks through every column and row instead of aliasing onto a few columns);
2. concatenates all samples with one ``torch.cat`` (one kernel, reads ``T * sample_size``
   elements at most, independent of model size);
3. finds each tensor's min/max with two ``scatter_reduce`` calls and bins every sample of every
   tensor with one ``index_add_`` into a ``[T, bins]`` count matrix (no ``bincount``: on CUDA it
   reads the maximum back to size its output, a sync);
4. packs counts, lower edges and bin widths into one vector, moved to the host once (on CUDA by
   a non-blocking copy into pinned memory and an event; :class:`HostCopy`).

Accuracy (see ``TRACKER.md``): a tensor with at most ``sample_size`` elements is binned
exactly. A larger one is binned from ``k = sample_size`` samples; the counts then sum to ``k``
and are a scaled-down picture of the tensor. For a simple random sample the
Dvoretzky-Kiefer-Wolfowitz inequality bounds the error of the sampled CDF by
``eps = sqrt(ln(2/delta) / (2k))`` with probability ``1 - delta`` (k=4096, delta=1e-3:
eps=0.031, so a bin's share is within 2*eps=0.061; a bin's typical error is
``sqrt(p(1-p)/k) <= 0.008``). The range comes from the sample, so outliers rarer than ~1/k
may fall outside the drawn edges; the exact per-tensor extremes are not shown.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

DEFAULT_SAMPLE_SIZE = 4096
DEFAULT_BINS = 64


def dkw_epsilon(k: int, delta: float = 1e-3) -> float:
    """Bound on the sampled CDF's error from ``k`` random samples, holding with ``1 - delta``."""
    return math.sqrt(math.log(2.0 / delta) / (2.0 * k))


def coprime_stride(numel: int, k: int, last_dim: int) -> int:
    """The largest stride ``<= numel // k`` that shares no factor with ``last_dim``.

    A stride that divides the row length would visit the same few columns in every row
    (a 512x512 weight sampled every 64th element sees 8 of its 512 columns).
    """
    stride = max(1, numel // k)
    while stride > 1 and math.gcd(stride, max(last_dim, 1)) != 1:
        stride -= 1
    return stride


@dataclass
class _Plan:
    sizes: list[int]        # samples taken from each tensor
    strides: list[int]
    numels: list[int]
    seg: torch.Tensor       # int64 [L]: which tensor each sample belongs to
    ones: torch.Tensor      # float32 [L]


class HistogramSampler:
    """Bins a fixed list of tensor shapes (weights, then gradients) in one pass.

    :param shapes: the shapes of the tensors that :meth:`compute` will receive, in order.
    :param device: where the tensors live.
    :param sample_size: most elements taken from one tensor (``0`` or less: all of them, exact).
    :param bins: bins per histogram.
    :param seed: seeds the host-side choice of sample offsets.
    """

    def __init__(self, shapes: list[torch.Size], device: torch.device,
                 sample_size: int = DEFAULT_SAMPLE_SIZE, bins: int = DEFAULT_BINS,
                 seed: int = 0) -> None:
        if bins < 1:
            raise ValueError(f"histogram bins must be >= 1, got {bins}")
        self.bins = bins
        self.sample_size = sample_size
        self.device = device
        self._rng = random.Random(seed)
        sizes, strides, numels = [], [], []
        for shape in shapes:
            n = math.prod(shape) if len(shape) else 1
            k = n if sample_size <= 0 else min(n, sample_size)
            last = shape[-1] if len(shape) else 1
            stride = 1 if k == n else coprime_stride(n, k, last)
            sizes.append(k)
            strides.append(stride)
            numels.append(n)
        seg = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        self.plan = _Plan(sizes, strides, numels, seg.to(device),
                          torch.ones(len(seg), dtype=torch.float32, device=device))

    @property
    def count(self) -> int:
        """How many tensors each call bins."""
        return len(self.plan.sizes)

    def _sample_views(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        # Views only: slicing a flat tensor with a step launches no kernel.
        views = []
        for t, k, stride, n in zip(tensors, self.plan.sizes, self.plan.strides,
                                      self.plan.numels, strict=True):
            flat = t.detach().reshape(-1)
            if flat.numel() != n:  # a placeholder for a missing gradient: a 0-d zero
                views.append(flat.expand(k))
                continue
            if k == n:
                views.append(flat)
                continue
            span = (k - 1) * stride + 1
            offset = self._rng.randrange(n - span + 1)
            views.append(flat[offset:offset + span:stride])
        return views

    def compute(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Histogram every tensor; returns one packed float32 device vector
        ``[counts (T*bins), low edge (T), bin width (T)]`` for :meth:`unpack`."""
        return self.bin(self.gather(tensors))

    def gather(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """The samples of every tensor in one new float32 vector (a snapshot: later in-place
        updates of the tensors do not change it)."""
        if len(tensors) != self.count:
            raise ValueError(f"expected {self.count} tensors, got {len(tensors)}")
        with torch.no_grad():
            return torch.cat([v.float() if v.dtype != torch.float32 else v
                              for v in self._sample_views(tensors)])

    def bin(self, x: torch.Tensor) -> torch.Tensor:
        """Bin the output of :meth:`gather` (safe to call from another thread)."""
        T, B = self.count, self.bins
        seg = self.plan.seg
        with torch.no_grad():
            finite = x.abs() < float("inf")  # False for NaN too; cheaper than isfinite
            lo = torch.full((T,), float("inf"), device=x.device)
            hi = torch.full((T,), float("-inf"), device=x.device)
            lo.scatter_reduce_(0, seg, x.masked_fill(~finite, float("inf")), "amin")
            hi.scatter_reduce_(0, seg, x.masked_fill(~finite, float("-inf")), "amax")
            # A tensor with no finite sample gets [0, 1); a constant one (zero biases, unused
            # parameters) gets a unit-wide range centred on its value so it lands mid-plot.
            any_finite = torch.isfinite(lo)
            lo = torch.where(any_finite, lo, torch.zeros_like(lo))
            hi = torch.where(any_finite, hi, torch.ones_like(hi))
            flat_range = hi <= lo
            half = torch.clamp(lo.abs() * 0.5, min=0.5)
            width = torch.where(flat_range, 2 * half, hi - lo) / B
            lo = torch.where(flat_range, lo - half, lo)
            b = ((x - lo[seg]) * (1.0 / width)[seg]).floor_().clamp_(0, B - 1).long()
            gid = torch.where(finite, seg * B + b, T * B)  # NaN/Inf go to a slot dropped below
            counts = torch.zeros(T * B + 1, dtype=torch.float32, device=x.device)
            counts.index_add_(0, gid, self.plan.ones)
            return torch.cat([counts[:T * B], lo, width])

    def unpack(self, packed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Turn a host copy of :meth:`compute`'s vector into ``(counts, edges)`` per tensor."""
        T, B = self.count, self.bins
        counts = packed[:T * B].reshape(T, B).astype(np.float64)
        lo = packed[T * B:T * B + T].astype(np.float64)
        width = packed[T * B + T:].astype(np.float64)
        steps = np.arange(B + 1, dtype=np.float64)
        edges = lo[:, None] + width[:, None] * steps[None, :]
        return [(counts[i], edges[i]) for i in range(T)]


class HostCopy:
    """A device tensor on its way to the host without making the training thread wait.

    CPU tensors are ready at once. CUDA tensors are copied with ``non_blocking=True`` into pinned
    memory (the caching host allocator keeps that block until the copy is done) and an event is
    recorded; :meth:`ready` polls the event, it never synchronises.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self._event: Any = None
        if tensor.device.type == "cuda":
            self._host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            self._host.copy_(tensor, non_blocking=True)
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = tensor.detach()

    def ready(self) -> bool:
        """True once the copy has landed (always for CPU tensors)."""
        return self._event is None or self._event.query()

    def wait(self) -> None:
        """Block until the copy has landed: only for the end of a run."""
        if self._event is not None:
            self._event.synchronize()

    def numpy(self) -> np.ndarray:
        """The host values; call after :meth:`ready` is True. (Other accelerators than CUDA
        are read here with ``.cpu()``, which waits for that device: at most once per check.)"""
        host = self._host
        return (host if host.device.type == "cpu" else host.cpu()).numpy()
