"""Per-parameter, per-group and global norms with fused ``torch._foreach_*`` kernels.

Nothing here reads a value back to the host: every result is a device tensor that the caller
logs as is (the core flusher converts it off the training thread). Grouping parameters into
layers is done once, at construction, as an index tensor, so a step never loops over
parameters in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

GroupFn = Callable[[str], str]


def module_group(param_name: str) -> str:
    """The owning module of a parameter: ``"layers.0.weight"`` -> ``"layers.0"``."""
    return param_name.rpartition(".")[0] or param_name


def depth_group(depth: int) -> GroupFn:
    """A grouping that keeps the first ``depth`` parts of the name: depth 2 puts
    ``transformer.h.3.attn.c_attn.weight`` in ``transformer.h``."""
    if depth < 1:
        raise ValueError(f"group depth must be >= 1, got {depth}")

    def group(param_name: str) -> str:
        parts = module_group(param_name).split(".")
        return ".".join(parts[:depth])

    return group


@dataclass
class ParamIndex:
    """The trainable parameters of a model, their names, and which group each belongs to."""

    names: list[str]
    params: list[torch.Tensor]
    groups: list[str]
    group_of: torch.Tensor  # int64 [P]: group index of each parameter, on the params' device

    @classmethod
    def build(cls, model: nn.Module, group_fn: GroupFn = module_group) -> ParamIndex:
        """Index ``model``'s trainable parameters (shared parameters counted once)."""
        names, params, seen = [], [], set()
        for name, p in model.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                names.append(_strip_wrappers(name))
                params.append(p)
        if not params:
            raise ValueError(f"{type(model).__name__} has no trainable parameters to track")
        group_names: list[str] = []
        where: dict[str, int] = {}
        idx = []
        for n in names:
            g = group_fn(n)
            if g not in where:
                where[g] = len(group_names)
                group_names.append(g)
            idx.append(where[g])
        device = params[0].device
        return cls(names, params, group_names, torch.tensor(idx, dtype=torch.long, device=device))

    def grads(self) -> list[torch.Tensor]:
        """One gradient per parameter, in order; a parameter without one (unused this step)
        contributes a shared zero scalar, so norms stay aligned with :attr:`names`.

        Building this list reads attributes only: no kernel is launched per parameter.
        """
        zero = self._zero()
        return [zero if p.grad is None else p.grad for p in self.params]

    def _zero(self) -> torch.Tensor:
        z = getattr(self, "_zero_cache", None)
        if z is None:
            z = torch.zeros((), device=self.params[0].device, dtype=torch.float32)
            self._zero_cache = z
        return z


def _strip_wrappers(name: str) -> str:
    # DDP wraps the model as ``module.``, torch.compile as ``_orig_mod.``: the user's names are
    # what they expect to see in the dashboard.
    for prefix in ("module.", "_orig_mod."):
        while name.startswith(prefix):
            name = name[len(prefix):]
    return name


def foreach_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of each tensor as one float32 vector ``[len(tensors)]`` (fused kernels)."""
    if not tensors:
        return torch.zeros(0)
    # _foreach_norm groups tensors by device and dtype and runs one multi-tensor kernel per
    # group; stacking the 0-d results is one more kernel. Accumulate in float32 so bf16 weights
    # do not lose the small norms.
    norms = torch._foreach_norm(tensors, 2.0, dtype=torch.float32)
    return torch.stack(norms)


def group_norms(per_param: torch.Tensor, index: ParamIndex) -> torch.Tensor:
    """Combine per-parameter norms into one norm per group: ``sqrt(sum of squares)``.

    A single ``index_add`` over ``[P]`` values, not a loop over groups.
    """
    sq = torch.zeros(len(index.groups), dtype=torch.float32, device=per_param.device)
    sq.index_add_(0, index.group_of.to(per_param.device), per_param.square())
    return sq.sqrt()


def global_norm(per_param: torch.Tensor) -> torch.Tensor:
    """The norm of all parameters together (what ``clip_grad_norm_`` reports)."""
    return torch.linalg.vector_norm(per_param)


class UpdateTracker:
    """Measures ``||w_after - w_before||`` per parameter without a Python loop per parameter.

    :meth:`snapshot` copies the weights into buffers kept for the next time (one extra copy of
    the model's weights); :meth:`update_norms` subtracts in place into that copy and takes the
    fused norm.
    """

    def __init__(self, index: ParamIndex) -> None:
        self.index = index
        self._buffers: list[torch.Tensor] | None = None
        self._armed = False

    @property
    def armed(self) -> bool:
        """True between a snapshot and the measurement that consumes it."""
        return self._armed

    def snapshot(self) -> None:
        """Copy the current weights (call before ``optimizer.step()``).

        The copy goes into buffers allocated once and reused: the peak memory is the same as
        a fresh copy each time, without an allocation (and, on CPU, page faults) per snapshot.
        """
        with torch.no_grad():
            if self._buffers is None:
                self._buffers = [torch.empty_like(p) for p in self.index.params]
            torch._foreach_copy_(self._buffers, self.index.params)
        self._armed = True

    def update_norms(self) -> torch.Tensor | None:
        """Per-parameter update norms ``[P]`` since the snapshot, or None without one."""
        if not self._armed or self._buffers is None:
            return None
        self._armed = False
        with torch.no_grad():
            # buffers <- w_before - w_after, in place (the sign does not matter for a norm).
            torch._foreach_sub_(self._buffers, self.index.params)
            return foreach_norms(self._buffers)


class SampledUpdateTracker:
    """Estimates ``||w_after - w_before||`` per parameter from a fixed-size sample of elements.

    The exact :class:`UpdateTracker` copies every weight (one read and one write of the whole
    model) and subtracts (another pass); on a CPU-bound step that is most of the periodic cost.
    This one snapshots at most ``sample_size`` elements per tensor through strided views (the
    same coprime-stride systematic sample as the histograms: one ``torch.cat``), and after the
    step scales the sampled squared norm by ``numel / k``. Tensors with at most ``sample_size``
    elements are measured exactly. For a sample of k elements the relative error of the
    estimated norm is about ``cv / (2 sqrt(k))``, where ``cv`` is the coefficient of variation
    of the squared per-element updates (Adam's near-uniform steps: ~1 %; see ``TRACKER.md``).
    """

    def __init__(self, index: ParamIndex, sample_size: int = 4096, seed: int = 0) -> None:
        import random

        from wandbkit_torch.histograms import coprime_stride

        self.index = index
        self._rng = random.Random(seed)
        self._plan = []
        sizes, scales = [], []
        for p in index.params:
            n = p.numel()
            k = min(n, sample_size)
            stride = 1 if k == n else coprime_stride(n, k, p.shape[-1] if p.dim() else 1)
            self._plan.append((n, k, stride))
            sizes.append(k)
            scales.append(n / k)
        device = index.params[0].device
        self._seg = torch.repeat_interleave(torch.arange(len(sizes)),
                                            torch.tensor(sizes)).to(device)
        self._scale = torch.tensor(scales, dtype=torch.float32, device=device)
        self._offsets: list[int] | None = None
        self._before: torch.Tensor | None = None

    @property
    def armed(self) -> bool:
        """True between a snapshot and the measurement that consumes it."""
        return self._before is not None

    def _sample(self) -> torch.Tensor:
        assert self._offsets is not None
        views = []
        for p, (_, k, stride), off in zip(self.index.params, self._plan, self._offsets,
                                          strict=True):
            views.append(p.detach().reshape(-1)[off:off + (k - 1) * stride + 1:stride])
        return torch.cat(views).to(torch.float32)

    def snapshot(self) -> None:
        """Copy the sampled elements (call before ``optimizer.step()``)."""
        self._offsets = [self._rng.randrange(n - (k - 1) * stride) for n, k, stride in self._plan]
        with torch.no_grad():
            self._before = self._sample()

    def update_norms(self) -> torch.Tensor | None:
        """Estimated per-parameter update norms ``[P]`` since the snapshot, or None."""
        if self._before is None:
            return None
        with torch.no_grad():
            diff = self._sample() - self._before
            self._before = None
            sq = torch.zeros(len(self._plan), dtype=torch.float32, device=diff.device)
            sq.index_add_(0, self._seg, diff.square())
            return (sq * self._scale).sqrt()
