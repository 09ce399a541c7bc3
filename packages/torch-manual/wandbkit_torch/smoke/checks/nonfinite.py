"""Check 7: no NaN/Inf anywhere in forward or backward, and if there is, where it started.

Forward: a forward hook on every module looks at its output; forward hooks fire child-first,
in execution order, so the first module whose output is non-finite while its inputs were
finite is where the NaN/Inf was made. If the inputs were already non-finite, the value came
from code between modules (the parent's ``forward``), which is named instead.

Backward: a gradient hook on every module input and output tensor. Hooks fire in the order
backward computes gradients, so the first non-finite gradient found at a module's *input*
names the module whose backward produced it (e.g. ``sqrt`` at 0 has a finite value but an
infinite derivative). Parameter gradients are checked last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.context import SmokeContext

NAME = "nonfinite"


@dataclass
class _Slot:
    """One hooked tensor: which modules produced and consumed it."""

    tensor: torch.Tensor
    producers: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)


@dataclass
class _Trace:
    forward_culprit: str | None = None
    forward_detail: str = ""
    slots: dict[int, _Slot] = field(default_factory=dict)
    backward_events: list[tuple[_Slot, bool]] = field(default_factory=list)


def check(ctx: SmokeContext) -> Verdict:
    """Forward and backward one batch with hooks on every module."""
    model = ctx.fresh_model()
    x, y = ctx.batch()
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        return Verdict(NAME, "fail", "the input batch itself contains NaN/Inf (data factory)",
                       {"phase": "data", "module": None})
    trace = _Trace()
    handles = _install(model, trace)
    try:
        loss = ctx.loss(ctx.forward(model, x), y)
        if trace.forward_culprit:
            return Verdict(NAME, "fail", f"forward: first NaN/Inf {trace.forward_detail}",
                           {"phase": "forward", "module": trace.forward_culprit})
        if not torch.isfinite(loss):
            return Verdict(NAME, "fail", f"forward: every module output is finite but the loss "
                           f"is {loss.item()} (in the loss function?)",
                           {"phase": "loss", "module": None})
        if loss.requires_grad:
            loss.backward()
    finally:
        for h in handles:
            h.remove()
    culprit = _backward_culprit(trace)
    if culprit:
        return Verdict(NAME, "fail", f"backward: first NaN/Inf gradient {culprit[1]}",
                       {"phase": "backward", "module": culprit[0]})
    bad = [n for n, p in model.named_parameters()
           if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    if bad:
        return Verdict(NAME, "fail", f"backward: NaN/Inf in parameter gradients: "
                       f"{', '.join(bad[:4])}", {"phase": "backward", "parameters": bad})
    return Verdict(NAME, "pass", f"forward and backward finite through "
                   f"{sum(1 for _ in model.modules())} modules", {"phase": None})


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    logits = getattr(obj, "logits", None)
    return [logits] if isinstance(logits, torch.Tensor) else []


def _all_finite(ts: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in ts if t.is_floating_point())


def _install(model: nn.Module, trace: _Trace) -> list[Any]:
    root = type(model).__name__
    handles = []
    for name, module in model.named_modules():
        label = name or root
        parent = name.rpartition(".")[0] or root
        handles.append(module.register_forward_hook(_forward_hook(label, parent, trace)))
    return handles


def _forward_hook(label: str, parent: str, trace: _Trace):
    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        ins, outs = _tensors(inputs), _tensors(output)
        if trace.forward_culprit is None and not _all_finite(outs):
            kind = type(module).__name__
            if _all_finite(ins):
                trace.forward_culprit = label
                trace.forward_detail = (f"made by module '{label}' ({kind}): finite inputs, "
                                        f"non-finite output")
            else:
                trace.forward_culprit = parent
                trace.forward_detail = (f"made in the forward of '{parent}' between its "
                                        f"submodules (first seen at the input of '{label}')")
        for t in ins:
            _watch(t, trace).consumers.append(label)
        for t in outs:
            _watch(t, trace).producers.append(label)
    return hook


def _watch(t: torch.Tensor, trace: _Trace) -> _Slot:
    """One gradient hook per tensor, however many modules read or wrote it."""
    slot = trace.slots.get(id(t))
    if slot is not None and slot.tensor is t:
        return slot
    slot = _Slot(t)  # keeps the tensor alive, so its id() cannot be reused meanwhile
    trace.slots[id(t)] = slot
    if t.requires_grad and t.is_floating_point():
        def on_grad(grad: torch.Tensor, slot: _Slot = slot) -> None:
            trace.backward_events.append((slot, bool(torch.isfinite(grad).all())))
        t.register_hook(on_grad)
    return slot


def _backward_culprit(trace: _Trace) -> tuple[str, str] | None:
    for slot, ok in trace.backward_events:
        if ok:
            continue
        if slot.consumers:
            # Children's forward hooks fire before their parents', so [0] is the innermost.
            culprit = slot.consumers[0]
            return culprit, (f"made by the backward of module '{culprit}': finite gradient "
                             f"at its output, non-finite at its input")
        producer = slot.producers[-1] if slot.producers else "?"
        return producer, (f"arrives at the output of module '{producer}': made by code after "
                          f"it (the loss or its parent's forward)")
    return None
