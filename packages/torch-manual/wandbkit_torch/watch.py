"""``wandbkit.watch(model)`` for PyTorch: wandb's ``watch`` with the same keys and cadence.

One autograd hook per model (``register_multi_grad_hook``) fires once per backward pass, when
every parameter's gradient is ready; every ``log_freq`` passes it logs histograms of the
gradients (``gradients/<name>``) and/or the weights (``parameters/<name>``) with
``commit=False``, so they join the script's own row of that step, as ``wandb.watch`` does.
Other passes cost one Python call. Like wandb's, a logging pass copies each tensor to the host
(a device sync on GPUs): for cheap, sync-free norms and sampled histograms use
:class:`wandbkit_torch.Tracker`.

``log="norms"`` (wandbkit's own, for integrations such as the HF callback) logs the Tracker's
gradient and weight norms instead: per module group and global, from fused
``torch._foreach_norm`` kernels, left on the device (no sync: the run reads them later).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wandbkit.media import Histogram
from wandbkit_torch.norms import ParamIndex, foreach_norms, global_norm, group_norms

BINS = 64  # wandb's


class ModelWatch:
    """Logs gradient/parameter histograms of ``model`` to ``run`` every ``log_freq`` backward
    passes; ``remove()`` stops it."""

    def __init__(self, run: Any, model: nn.Module, log: str | None, log_freq: int) -> None:
        self.run = run
        self.log_freq = log_freq
        self.gradients = log in ("gradients", "all")
        self.parameters = log in ("parameters", "all")
        self.named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.index = ParamIndex.build(model) if log == "norms" and self.named else None
        self.passes = 0
        # An integration that logs its own rows (the HF callback) sets ``hold`` and calls
        # :meth:`take` when it logs, so the norms land in its row at its step.
        self.hold = False
        self.held: dict[str, Any] | None = None
        self._handle: Any = None
        if self.named and (self.gradients or self.parameters or self.index is not None):
            self._handle = torch.autograd.graph.register_multi_grad_hook(
                [p for _, p in self.named], self._on_backward, mode="all")

    def _on_backward(self, grads: Any) -> None:
        self.passes += 1
        if self.passes % self.log_freq:
            return
        values: dict[str, Any] = {}
        if self.index is not None:
            if self.hold:
                self.held = self._norms(grads)
            else:
                self.run.log(self._norms(grads), commit=False)
            return
        with torch.no_grad():
            for (name, param), grad in zip(self.named, grads, strict=True):
                if self.parameters:
                    values[f"parameters/{name}"] = Histogram(param.detach(), num_bins=BINS)
                if self.gradients and grad is not None:
                    values[f"gradients/{name}"] = Histogram(grad.detach(), num_bins=BINS)
        if values:
            self.run.log(values, commit=False)

    def _norms(self, grads: Any) -> dict[str, Any]:
        """Per-group and global gradient/weight norms, as the Tracker names them (device tensors)."""
        index = self.index
        assert index is not None
        by_param = {id(p): g for (_, p), g in zip(self.named, grads, strict=True)}
        zero = torch.zeros((), device=index.params[0].device)
        with torch.no_grad():
            grad_pp = foreach_norms([g if (g := by_param.get(id(p))) is not None else zero
                                     for p in index.params])
            weight_pp = foreach_norms(index.params)
            g_grad, g_weight = group_norms(grad_pp, index), group_norms(weight_pp, index)
        values: dict[str, Any] = {"grad/global_norm": global_norm(grad_pp),
                                  "weight/global_norm": global_norm(weight_pp)}
        for i, name in enumerate(index.groups):
            values[f"grad_norm/{name}"] = g_grad[i]
            values[f"weight_norm/{name}"] = g_weight[i]
        return values

    def take(self) -> dict[str, Any]:
        """The norms computed since the last call (``log="norms"`` with ``hold`` set), or {}."""
        held, self.held = self.held, None
        return held or {}

    def remove(self) -> None:
        """Stop watching."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
