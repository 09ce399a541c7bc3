"""Check 1: the forward pass runs, its output fits the task's targets, and it is finite."""

from __future__ import annotations

import torch

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.context import SmokeContext

NAME = "forward"


def check(ctx: SmokeContext) -> Verdict:
    """Run one forward pass in train mode and inspect the output."""
    model = ctx.fresh_model()
    x, y = ctx.batch()
    with torch.no_grad():
        out = ctx.forward(model, x)
    numbers = {"input_shape": list(x.shape), "output_shape": list(out.shape),
               "output_dtype": str(out.dtype).replace("torch.", ""),
               "target_shape": list(y.shape),
               "params": sum(p.numel() for p in model.parameters())}
    problem = _shape_problem(ctx.task, out, y)
    if problem:
        return Verdict(NAME, "fail", problem, numbers)
    if not out.is_floating_point():
        return Verdict(NAME, "fail", f"output dtype is {numbers['output_dtype']}; "
                       f"a loss needs floating-point predictions", numbers)
    bad = int((~torch.isfinite(out)).sum())
    numbers["nonfinite_outputs"] = bad
    if bad:
        return Verdict(NAME, "fail", f"{bad} of {out.numel()} outputs are NaN/Inf "
                       f"(see the nonfinite check for the module)", numbers)
    with torch.no_grad():
        loss = ctx.loss(out, y)
    if loss.numel() != 1:
        return Verdict(NAME, "fail", f"the loss has shape {list(loss.shape)}; it must be a "
                       f"scalar", numbers)
    return Verdict(NAME, "pass", f"output {numbers['output_shape']} "
                   f"{numbers['output_dtype']} for input {numbers['input_shape']}, all finite",
                   numbers)


def _shape_problem(task: str, out: torch.Tensor, y: torch.Tensor) -> str | None:
    """A one-line description of an output/target mismatch for the task, or None."""
    if out.dim() == 0 or out.shape[0] != y.shape[0]:
        return (f"output shape {list(out.shape)} has no batch dimension matching the "
                f"{y.shape[0]} examples")
    if task == "classification":
        if out.dim() != 2:
            return f"classification output should be (batch, classes), got {list(out.shape)}"
        if int(y.max()) >= out.shape[1] or int(y.min()) < 0:
            return (f"targets range {int(y.min())}..{int(y.max())} but the output has only "
                    f"{out.shape[1]} classes")
    elif task == "lm":
        if out.dim() != 3 or tuple(out.shape[:2]) != tuple(y.shape[:2]):
            return (f"lm output should be (batch, seq, vocab) matching targets "
                    f"{list(y.shape)}, got {list(out.shape)}")
        if int(y.max()) >= out.shape[2]:
            return f"target token {int(y.max())} is outside the vocabulary of {out.shape[2]}"
    elif out.shape != y.shape:
        # MSE between (B, 1) and (B,) silently broadcasts to (B, B): a classic silent bug.
        return (f"regression output {list(out.shape)} differs from target {list(y.shape)}; "
                f"the loss would broadcast")
    return None
