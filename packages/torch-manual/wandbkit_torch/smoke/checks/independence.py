"""Check 4: batch independence. The loss of example i must not depend on example j != i.

A ``view``/``transpose`` that reshapes across the batch dimension mixes examples silently: the
model still trains, only worse. We take the gradient of example i's loss with respect to the
whole input batch; every row j != i must be exactly zero. The model runs in eval mode, because
batch norm in train mode mixes the batch on purpose. Integer (token) inputs cannot carry a
gradient, so there the gradient is taken at the output of the first embedding layer whose
output has the batch dimension, through a forward hook.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.context import SmokeContext

NAME = "batch_independence"
LEAK_TOLERANCE = 1e-6  # leak relative to the own-example gradient; mixing bugs give ~1


def check(ctx: SmokeContext) -> Verdict:
    """Backpropagate one example's loss and look for gradient on the other examples."""
    model = ctx.fresh_model(train=False)
    n = min(ctx.settings.independence_samples, len(ctx.data))
    x, y = ctx.batch(n)
    i = 0
    if x.is_floating_point():
        leaf = x.clone().requires_grad_(True)
        loss = ctx.sample_loss(ctx.forward(model, leaf), y, i)
        via = "input"
    else:
        captured: dict[str, Any] = {}
        handles = _hook_embeddings(model, n, captured)
        try:
            out = ctx.forward(model, x)
        finally:
            for h in handles:
                h.remove()
        if "leaf" not in captured:
            return Verdict(NAME, "skip", "integer inputs and no embedding layer with a batch "
                           "dimension to take the gradient at")
        leaf, via = captured["leaf"], f"output of embedding '{captured['name']}'"
        loss = ctx.sample_loss(out, y, i)
    grad = torch.autograd.grad(loss, leaf, allow_unused=True)[0]
    if grad is None:
        return Verdict(NAME, "warn", f"example {i}'s loss does not depend on the {via} at all: "
                       f"the model may ignore its input", {"gradient_at": via})
    if not bool(torch.isfinite(grad).all()):
        return Verdict(NAME, "skip", "the input gradient is NaN/Inf, so leaks cannot be "
                       "measured (see the nonfinite check)", {"gradient_at": via})
    per_example = grad.reshape(n, -1).abs().amax(dim=1).float().cpu()
    own = float(per_example[i])
    others = torch.cat([per_example[:i], per_example[i + 1:]])
    leak = float(others.max())
    worst = int(others.argmax()) + (1 if int(others.argmax()) >= i else 0)
    numbers = {"examples": n, "gradient_at": via, "own_grad_max": own, "other_grad_max": leak,
               "worst_example": worst}
    if own == 0.0:
        return Verdict(NAME, "warn", f"example {i}'s loss has zero gradient w.r.t. its own "
                       f"{via}: the model may ignore its input", numbers)
    ratio = leak / own
    numbers["leak_ratio"] = ratio
    if ratio > LEAK_TOLERANCE:
        return Verdict(NAME, "fail", f"example {i}'s loss has gradient {leak:.3g} w.r.t. "
                       f"example {worst}'s {via} ({ratio:.2g}x its own): the model mixes the "
                       f"batch (view/transpose across the batch dim?)", numbers)
    return Verdict(NAME, "pass", f"example {i}'s loss depends only on its own {via} "
                   f"(leak {leak:.1g})", numbers)


def _hook_embeddings(model: nn.Module, batch: int, captured: dict[str, Any]) -> list[Any]:
    """Replace the first batch-shaped embedding output with a leaf that requires grad."""
    def make_hook(name: str):
        def hook(_module: nn.Module, _inp: Any, out: torch.Tensor) -> torch.Tensor | None:
            if "leaf" in captured or not isinstance(out, torch.Tensor):
                return None
            if out.dim() < 2 or out.shape[0] != batch:
                return None  # e.g. a positional embedding shared by all examples
            leaf = out.detach().requires_grad_(True)
            captured.update(leaf=leaf, name=name)
            return leaf
        return hook

    return [m.register_forward_hook(make_hook(name)) for name, m in model.named_modules()
            if isinstance(m, nn.Embedding)]
