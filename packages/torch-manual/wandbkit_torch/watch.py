"""``wandbkit.watch(model)`` for PyTorch: wandb's ``watch`` with the same keys and cadence.

One autograd hook per model (``register_multi_grad_hook``) fires once per backward pass, when
every parameter's gradient is ready; every ``log_freq`` passes it logs histograms of the
gradients (``gradients/<name>``) and/or the weights (``parameters/<name>``) with
``commit=False``, so they join the script's own row of that step, as ``wandb.watch`` does.
Other passes cost one Python call. Like wandb's, a logging pass copies each tensor to the host
(a device sync on GPUs): for cheap, sync-free norms and sampled histograms use
:class:`wandbkit_torch.Tracker`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wandbkit.media import Histogram

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
        self.passes = 0
        self._handle: Any = None
        if self.named and (self.gradients or self.parameters):
            self._handle = torch.autograd.graph.register_multi_grad_hook(
                [p for _, p in self.named], self._on_backward, mode="all")

    def _on_backward(self, grads: Any) -> None:
        self.passes += 1
        if self.passes % self.log_freq:
            return
        values: dict[str, Any] = {}
        with torch.no_grad():
            for (name, param), grad in zip(self.named, grads, strict=True):
                if self.parameters:
                    values[f"parameters/{name}"] = Histogram(param.detach(), num_bins=BINS)
                if self.gradients and grad is not None:
                    values[f"gradients/{name}"] = Histogram(grad.detach(), num_bins=BINS)
        if values:
            self.run.log(values, commit=False)

    def remove(self) -> None:
        """Stop watching."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
