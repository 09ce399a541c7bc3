"""Check 3: every trainable parameter receives a finite, non-zero gradient.

A parameter with no gradient belongs to a layer whose output is unused or sits behind a
``.detach()``; an all-zero gradient means the path is cut some other way (dead units, a
multiplication by zero, a non-differentiable op such as ``sign``/``round``).
"""

from __future__ import annotations

import torch

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.context import SmokeContext

NAME = "backward"
SHOWN = 4  # names listed in the one-line reason; the full lists are in the numbers


def check(ctx: SmokeContext) -> Verdict:
    """One forward/backward on a batch, then classify every trainable parameter's gradient."""
    model = ctx.fresh_model()
    x, y = ctx.batch()
    loss = ctx.loss(ctx.forward(model, x), y)
    if not loss.requires_grad:
        return Verdict(NAME, "fail", "the loss does not require grad: no trainable parameter "
                       "reaches the output")
    loss.backward()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    with_grad = [(n, p.grad) for n, p in named if p.grad is not None]
    missing = [n for n, p in named if p.grad is None]
    nonfinite, zero = _classify(with_grad)
    numbers = {"trainable": len(named), "no_grad": missing, "nonfinite_grad": nonfinite,
               "zero_grad": zero}
    problems = []
    if missing:
        problems.append(f"no grad (unused or detached): {_names(missing)}")
    if nonfinite:
        problems.append(f"NaN/Inf grad: {_names(nonfinite)}")
    if zero:
        problems.append(f"all-zero grad: {_names(zero)}")
    if problems:
        return Verdict(NAME, "fail", "; ".join(problems), numbers)
    if not named:
        return Verdict(NAME, "fail", "the model has no trainable parameters", numbers)
    return Verdict(NAME, "pass", f"all {len(named)} trainable parameters got finite, non-zero "
                   f"gradients", numbers)


def _classify(with_grad: list[tuple[str, torch.Tensor]]) -> tuple[list[str], list[str]]:
    """Names with non-finite and all-zero gradients, using two fused reductions."""
    if not with_grad:
        return [], []
    grads = [g for _, g in with_grad]
    # One fused norm per tensor; a NaN/Inf anywhere makes the norm non-finite, and a norm of
    # exactly 0 means every element is 0. Read back once for all parameters.
    norms = torch.stack([n.float() for n in torch._foreach_norm(grads)]).cpu()
    # A huge but finite gradient can overflow the norm itself; confirm element-wise there.
    nonfinite = [n for (n, g), v in zip(with_grad, norms, strict=True)
                 if not torch.isfinite(v) and not bool(torch.isfinite(g).all())]
    zero = [n for (n, _), v in zip(with_grad, norms, strict=True) if v == 0]
    return nonfinite, zero


def _names(names: list[str]) -> str:
    more = f" (+{len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
